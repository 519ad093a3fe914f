/**
 * Cluster mode's `notify_publish_duration_seconds`: a publication is accepted on this node, Redis
 * gives it its position and appends it to the cluster stream (the broker answers), and this node
 * writes it to its own members when it reads it back from the stream. The duration ends there, on
 * the publishing node, whichever comes first of the broker's answer and the read (two Redis
 * connections: either order happens). Positions are matched by namespace, room, epoch and offset.
 *
 * Bounded: a message whose read never comes (Redis lost it) is forgotten after MAX_WAITING newer
 * ones; reads noted before their answer are dropped once no publication is in flight.
 */
import type { MessageMeta } from '../core/types.js';
import type { NamespaceRecorder } from './recorder.js';

const MAX_WAITING = 10_000;

export function positionKey(ns: string, room: string, meta: MessageMeta): string {
  return `${ns}\n${room}\n${meta.epoch}\n${meta.offset}`;
}

export class StreamedPublications {
  /** Answered by the broker, not yet read back: when each was accepted. */
  private readonly waiting = new Map<string, { started: number; recorder: NamespaceRecorder }>();
  /** Read back before the broker answered: when it was written here. */
  private readonly early = new Map<string, number>();
  private inflight = 0;

  /** Whether a delivery may be one of this node's publications (else `delivered` need not be called). */
  get busy(): boolean {
    return this.inflight > 0 || this.waiting.size > 0;
  }

  /** A publication handed to the broker. */
  sent(): void {
    this.inflight++;
  }

  /** The broker answered with its position (`key`), or failed (undefined: nothing will be read). */
  answered(key: string | undefined, started: number, recorder: NamespaceRecorder): void {
    this.inflight--;
    if (key !== undefined) {
      const writtenAt = this.early.get(key);
      if (writtenAt !== undefined) {
        this.early.delete(key);
        recorder.took(writtenAt - started);
      } else {
        this.waiting.set(key, { started, recorder });
        if (this.waiting.size > MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value!);
      }
    }
    if (this.inflight === 0) this.early.clear();
  }

  /** This node wrote the message at `key` to its members. */
  delivered(key: string): void {
    const now = performance.now();
    const waiting = this.waiting.get(key);
    if (waiting) {
      this.waiting.delete(key);
      waiting.recorder.took(now - waiting.started);
    } else if (this.inflight > 0) {
      this.early.set(key, now);
    }
  }
}
