/**
 * The single-node history store: per room an offset counter, an epoch and a ring of the most recent
 * messages, bounded by count (--history-size) and age (--history-ttl). Synchronous throughout, and
 * cheap on the publish path: two Map lookups, a clock read and a slot write per message.
 *
 * A room's state is forgotten once it holds no message, has no member on this node and has been
 * quiet for the TTL; a later message starts a new epoch (the old positions no longer mean anything
 * here, and clients that come back with them are told so).
 */
import { newEpoch, type HistoryEntry, type HistoryStore, type MessageMeta, type Position, type Recovery } from './types.js';

export interface MemoryHistoryOptions {
  /** Messages kept per room; 0 keeps none (offsets and epochs are still given). */
  size: number;
  /** How long a message is kept, ms; 0 keeps none. */
  ttlMs: number;
  /** The clock (tests inject one). */
  now?: () => number;
  /** Whether a room still has members on this node: its state is kept while it does. */
  inUse?: (ns: string, room: string) => boolean;
  /** How often idle rooms are looked for, ms (default: the TTL, at most a minute). */
  sweepMs?: number;
  /**
   * False where this node's offsets are not the room's (cluster mode without a shared history):
   * every JOIN since is then answered recovered: false, UNAVAILABLE. Default true.
   */
  recoverable?: boolean;
}

/** How long a room without messages and members is kept when history is off. */
const IDLE_WITHOUT_HISTORY_MS = 5 * 60_000;

class RoomHistory {
  offset = 0;
  /** Ring of the last `capacity` entries: `count` of them, the oldest at `start`. */
  readonly ring: HistoryEntry[] = [];
  start = 0;
  count = 0;
  lastTs: number;

  constructor(
    readonly epoch: string,
    now: number,
  ) {
    this.lastTs = now;
  }

  /** The i-th oldest retained entry. */
  at(i: number): HistoryEntry {
    return this.ring[(this.start + i) % this.ring.length]!;
  }

  push(entry: HistoryEntry, capacity: number): void {
    if (this.ring.length < capacity) {
      this.ring.push(entry);
      this.count++;
      return;
    }
    // Full: overwrite the oldest.
    this.ring[(this.start + this.count) % capacity] = entry;
    if (this.count === capacity) this.start = (this.start + 1) % capacity;
    else this.count++;
  }

  /** Drops entries published before `cutoff`. */
  expire(cutoff: number): void {
    while (this.count > 0 && this.at(0).meta.ts < cutoff) {
      this.ring[this.start] = undefined as unknown as HistoryEntry; // release the message
      this.start = (this.start + 1) % this.ring.length;
      this.count--;
    }
    if (this.count === 0) {
      this.ring.length = 0;
      this.start = 0;
    }
  }
}

export class MemoryHistory implements HistoryStore {
  private readonly namespaces = new Map<string, Map<string, RoomHistory>>();
  private readonly now: () => number;
  private readonly keep: boolean;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MemoryHistoryOptions) {
    this.now = options.now ?? Date.now;
    this.keep = options.size > 0 && options.ttlMs > 0;
    const sweepMs = options.sweepMs ?? Math.min(Math.max(options.ttlMs, 1000), 60_000);
    this.timer = setInterval(() => this.sweep(), sweepMs);
    this.timer.unref();
  }

  private state(ns: string, room: string, create: true): RoomHistory;
  private state(ns: string, room: string, create: false): RoomHistory | undefined;
  private state(ns: string, room: string, create: boolean): RoomHistory | undefined {
    let rooms = this.namespaces.get(ns);
    if (!rooms) {
      if (!create) return undefined;
      this.namespaces.set(ns, (rooms = new Map()));
    }
    let state = rooms.get(room);
    if (!state && create) {
      const now = this.now();
      rooms.set(room, (state = new RoomHistory(newEpoch(now), now)));
    }
    return state;
  }

  append(ns: string, room: string, event: string, args: unknown[]): MessageMeta {
    const state = this.state(ns, room, true);
    const ts = this.now();
    const meta: MessageMeta = { offset: ++state.offset, epoch: state.epoch, ts };
    state.lastTs = ts;
    if (this.keep) {
      if (state.count > 0 && state.at(0).meta.ts < ts - this.options.ttlMs) state.expire(ts - this.options.ttlMs);
      state.push({ event, args, meta }, this.options.size);
    }
    return meta;
  }

  since(ns: string, room: string, since: Position): Recovery {
    // A JOIN with `since` creates the room's state, so the ack can name the epoch to resume from.
    const state = this.state(ns, room, true);
    const head: Position = { offset: state.offset, epoch: state.epoch };
    if (this.options.recoverable === false) return { recovered: false, reason: 'UNAVAILABLE', head };
    if (since.epoch !== state.epoch) return { recovered: false, reason: 'EPOCH_CHANGED', head };
    if (since.offset > state.offset) return { recovered: false, reason: 'UNKNOWN_OFFSET', head };
    if (since.offset === state.offset) return { recovered: true, entries: [], head };
    if (this.keep) state.expire(this.now() - this.options.ttlMs);
    const missing = state.offset - since.offset;
    if (missing > state.count) return { recovered: false, reason: 'TOO_OLD', head };
    const entries: HistoryEntry[] = new Array(missing);
    for (let i = 0; i < missing; i++) entries[i] = state.at(state.count - missing + i);
    return { recovered: true, entries, head };
  }

  page(ns: string, room: string, limit: number, before?: Position): HistoryEntry[] {
    const state = this.state(ns, room, false);
    if (!state || state.count === 0) return [];
    state.expire(this.now() - this.options.ttlMs);
    let end = state.count; // exclusive
    if (before) {
      if (before.epoch < state.epoch) return [];
      if (before.epoch === state.epoch) {
        const first = state.count > 0 ? state.at(0).meta.offset : state.offset + 1;
        end = Math.max(0, Math.min(state.count, before.offset - first));
      }
    }
    const from = Math.max(0, end - limit);
    const out: HistoryEntry[] = [];
    for (let i = from; i < end; i++) out.push(state.at(i));
    return out;
  }

  /** Rooms with history state (for tests and diagnostics). */
  get size(): number {
    let n = 0;
    for (const rooms of this.namespaces.values()) n += rooms.size;
    return n;
  }

  /** Expires old messages and forgets quiet rooms without members. Runs on a timer; tests call it. */
  sweep(): void {
    const now = this.now();
    const ttl = this.options.ttlMs;
    const idleMs = this.keep ? ttl : IDLE_WITHOUT_HISTORY_MS;
    for (const [ns, rooms] of this.namespaces) {
      for (const [room, state] of rooms) {
        if (this.keep) state.expire(now - ttl);
        if (state.count === 0 && now - state.lastTs >= idleMs && !this.options.inUse?.(ns, room)) rooms.delete(room);
      }
      if (rooms.size === 0) this.namespaces.delete(ns);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.namespaces.clear();
  }
}
