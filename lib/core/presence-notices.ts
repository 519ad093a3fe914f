/**
 * Presence notices of /layout and /bus rooms: a member that JOINs with `presence: true` watches the
 * room, and is sent JOINED {room, id, name} and LEFT {room, id, name} when another member joins,
 * leaves, disconnects or vanishes with its node, on any node and whatever protocol it speaks.
 *
 * Only watchers may receive them, so they do not go to the room: the watchers of room R in
 * namespace N are the members of room R in a hub namespace of their own, `N/presence`
 * (watchNamespace), which holds nothing else. Clients name rooms, never hub namespaces (a socket.io
 * connection to `N/presence` is refused), so no client can get into it but by watching. A notice is
 * announced there through the broker like any notice (every node's hub hands it here once), and is
 * written to each watcher of this node: watchers are few and notices rare next to messages, so
 * one encoding per watcher costs little.
 *
 * Rooms nobody watches: a notice is announced only when the room has watchers. A single node knows
 * that locally. In a cluster a node cannot know the other nodes' watchers, so they are registered in
 * the presence store too (swept with their node like any member) and counted there: one read per
 * join or leave while no watcher is on this node, instead of announcing always (a stream entry that
 * every node reads and throws away). It misses no one: a watcher is registered before its JOIN is
 * answered and a member is in presence before its watchers are counted (out of it before, for LEFT),
 * so a watcher either gets the notice or sees the member in CLIENTS (or no longer sees it).
 */
import type { Broker } from '../broker/types.js';
import type { Logger } from '../log/logger.js';
import type { PresenceStore } from '../presence/types.js';
import type { RoomPresenceNotice } from './events.js';
import type { Envelope, Subscriber } from './types.js';

/** The hub namespace of the presence watchers of namespace `ns`'s rooms. */
export function watchNamespace(ns: string): string {
  return `${ns}/presence`;
}

export type PresenceEvent = 'JOINED' | 'LEFT';

/** How long a closing node waits for its last notices (a Redis that does not answer must not hold the shutdown). */
const SETTLE_MS = 2000;

export class PresenceNotices {
  /** Namespaces whose rooms have notices → their watchers' namespace. */
  private readonly namespaces = new Map<string, string>();
  /** Watchers' namespace → room → watcher id → watcher (this node's). */
  private readonly watchers = new Map<string, Map<string, Map<string, Subscriber>>>();
  /** Notices on their way (watchers being counted, announcements being written): settled() waits for them. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly presence: PresenceStore,
    /** The presence store is this node's alone (a single node): the local watchers are all of them. */
    private readonly single: boolean,
    private readonly broker: Broker,
    private readonly logger: Logger,
  ) {}

  /** Gives the rooms of namespace `ns` presence notices; returns the watchers' namespace. */
  enable(ns: string): string {
    const watchNs = watchNamespace(ns);
    this.namespaces.set(ns, watchNs);
    if (!this.watchers.has(watchNs)) this.watchers.set(watchNs, new Map());
    return watchNs;
  }

  enabled(ns: string): boolean {
    return this.namespaces.has(ns);
  }

  /** The watchers' namespaces (cluster mode carries their notices through a socket.io namespace each). */
  watchNamespaces(): string[] {
    return [...this.namespaces.values()];
  }

  /** `member` (in `room` under `name`) watches the room from now on, on every node. */
  watch(member: Subscriber, room: string, name: string): void | Promise<void> {
    const watchNs = this.namespaces.get(member.ns);
    if (!watchNs || !member.connected) return;
    const rooms = this.watchers.get(watchNs)!;
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Map()));
    if (members.has(member.id)) return;
    members.set(member.id, member);
    const added = this.presence.add(watchNs, room, { id: member.id, name });
    if (!(added instanceof Promise)) return;
    // Closed while the store was busy: its detach may have come first.
    return added.then(() => (member.connected ? undefined : this.unwatch(member, room)));
  }

  /** Stops `member` watching `room` (it left, closed, or joined again without `presence`). */
  unwatch(member: Subscriber, room: string): void | Promise<void> {
    const watchNs = this.namespaces.get(member.ns);
    if (!watchNs) return;
    const rooms = this.watchers.get(watchNs)!;
    const members = rooms.get(room);
    // Not watching (most members): nothing to wait for.
    if (!members?.delete(member.id)) return;
    if (members.size === 0) rooms.delete(room);
    return this.presence.remove(watchNs, room, member.id);
  }

  /**
   * Tells the watchers of `room` (namespace `ns`), on every node, that member `id` joined or left
   * under `name`; never the member itself. Nothing when no one watches; never throws.
   */
  notify(ns: string, room: string, event: PresenceEvent, id: string, name: string): void {
    const watchNs = this.namespaces.get(ns);
    if (!watchNs) return;
    // The member itself, when it watches, is no one to tell.
    const local = this.watchers.get(watchNs)!.get(room);
    const self = local?.has(id) ? 1 : 0;
    const here = (local?.size ?? 0) - self;
    const notice: RoomPresenceNotice = { room, id, name };
    if (here > 0) {
      void this.announce(watchNs, room, event, notice);
      return;
    }
    if (this.single) return;
    void this.track(
      this.presence.count(watchNs, room).then(
        (watchers) => (watchers - self > 0 ? this.announce(watchNs, room, event, notice) : undefined),
        (err: unknown) => this.logger.error('a presence notice was not sent: its watchers could not be counted', { nsp: ns, event, err }),
      ),
    );
  }

  private announce(watchNs: string, room: string, event: PresenceEvent, notice: RoomPresenceNotice): Promise<void> | undefined {
    try {
      const sent = this.broker.announce({ ns: watchNs, room, event, args: [notice], meta: undefined }, notice.id);
      if (sent instanceof Promise) {
        return this.track(
          sent.catch((err: unknown) => {
            this.logger.error('a presence notice was not delivered', { nsp: watchNs, event, err });
          }),
        );
      }
    } catch (err) {
      this.logger.error('a presence notice was not delivered', { nsp: watchNs, event, err });
    }
    return undefined;
  }

  /** Keeps `work` among the notices on their way until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = (): void => void this.pending.delete(work);
    work.then(done, done);
    return work;
  }

  /** Resolves once the notices on their way (and those they lead to) are out, or after SETTLE_MS. */
  async settled(): Promise<void> {
    const deadline = Date.now() + SETTLE_MS;
    while (this.pending.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, left)));
      await Promise.race([Promise.allSettled([...this.pending]), timeout]);
      clearTimeout(timer);
    }
  }

  /**
   * Writes a delivery of a watchers' namespace to this node's watchers of its room, except
   * `except`; false for a delivery of any other namespace (the hub's to deliver).
   */
  deliver(envelope: Envelope, except: string | undefined, failed: (envelope: Envelope, err: unknown) => void): boolean {
    const rooms = this.watchers.get(envelope.ns);
    if (!rooms) return false;
    const members = rooms.get(envelope.room);
    if (!members) return true;
    for (const member of members.values()) {
      if (member.id === except) continue;
      try {
        member.send(envelope);
      } catch (err) {
        failed(envelope, err);
      }
    }
    return true;
  }
}
