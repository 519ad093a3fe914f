/**
 * Publications whose publisher gets a copy of its own (a /chat sender's MESSAGE_SENT, which carries
 * its loopbackMetadata): the copy is written as this node delivers the message to the room's other
 * members, so it takes its place in the room's order. Written when the publish call resolves
 * instead, it could come after later messages: in a cluster a node delivers a message as it reads
 * it back from the cluster stream, which may be before or after the publish reply, and other nodes'
 * messages are read in between.
 *
 * A delivery is told to be a publisher's own by its `except` (the publisher's connection id) and
 * room, in the order of its publications (the broker takes them in order). Should this node's
 * delivery of one never come (a cluster stream entry lost to this node), that copy is written from
 * the publish result when a later one of the same publisher and room is delivered, or dropped when
 * the publisher goes.
 */
import { isBefore } from '../history/types.js';
import type { Envelope } from './types.js';

/** Writes the publisher's own copy of a delivered message. */
export type OwnCopy = (envelope: Envelope) => void;

export interface PendingCopy {
  readonly room: string;
  readonly write: OwnCopy;
  /** The message as published, once the broker has answered (while its delivery has not come). */
  published?: Envelope;
}

const keyOf = (ns: string, id: string): string => `${ns}\u0000${id}`;

export class OwnCopies {
  /** Publisher (namespace, id) → its publications whose delivery has not come yet, oldest first. */
  private readonly pending = new Map<string, PendingCopy[]>();

  /** Called before the publication goes to the broker (whose delivery may come before it answers). */
  expect(ns: string, id: string, room: string, write: OwnCopy): PendingCopy {
    const key = keyOf(ns, id);
    const copy: PendingCopy = { room, write };
    const list = this.pending.get(key);
    if (list) list.push(copy);
    else this.pending.set(key, [copy]);
    return copy;
  }

  /** The broker answered: kept in case this node's delivery never comes. */
  published(copy: PendingCopy, envelope: Envelope): void {
    copy.published = envelope;
  }

  /** The publication failed: no delivery will come. */
  cancel(ns: string, id: string, copy: PendingCopy): void {
    const key = keyOf(ns, id);
    const list = this.pending.get(key);
    const i = list?.indexOf(copy) ?? -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.pending.delete(key);
  }

  /** A message delivered on this node except `except`: its publisher's own copy, when one is expected. */
  delivered(envelope: Envelope, except: string | undefined): void {
    if (except === undefined || this.pending.size === 0 || envelope.meta === undefined) return;
    const key = keyOf(envelope.ns, except);
    const list = this.pending.get(key);
    if (!list) return;
    const meta = envelope.meta;
    for (let i = 0; i < list.length; ) {
      const copy = list[i]!;
      if (copy.room !== envelope.room) {
        i++;
        continue;
      }
      list.splice(i, 1);
      const earlier = copy.published?.meta;
      // An earlier publication whose delivery never came here: its copy now, from what was published.
      if (earlier && isBefore(earlier, meta)) {
        copy.write(copy.published!);
        continue;
      }
      copy.write(envelope);
      break;
    }
    if (list.length === 0) this.pending.delete(key);
  }

  /** The publisher is gone (closed): nothing more to write to it. */
  forget(ns: string, id: string): void {
    if (this.pending.size > 0) this.pending.delete(keyOf(ns, id));
  }
}
