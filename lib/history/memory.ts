/**
 * The single-node history store: per room an offset counter, an epoch and a ring of the most recent
 * messages, bounded by count (--history-size), age (--history-ttl) and bytes: per room
 * (--history-max-bytes) and for every room together (--history-memory), oldest first in both cases.
 * Synchronous throughout, and cheap on the publish path: two Map lookups, a clock read, the
 * message's size (lib/core/message-size.ts) and a slot write per message.
 *
 * The process budget evicts the oldest message of the whole store: a FIFO of (room, offset) in
 * publication order. The oldest live record of it is always the oldest message of its room (a
 * room drops its own messages oldest first too), so eviction is a pop; records of messages a room
 * dropped by itself are skipped when reached, and compacted away when they outnumber live ones.
 *
 * A room's state is forgotten once it holds no message, has no member on this node and has been
 * quiet for the TTL; a later message starts a new epoch (the old positions no longer mean anything
 * here, and clients that come back with them are told so).
 */
import { approxBytes } from '../core/message-size.js';
import { newEpoch, type HistoryEntry, type HistoryStore, type MessageMeta, type Position, type Recovery } from './types.js';

export interface MemoryHistoryOptions {
  /** Messages kept per room; 0 keeps none (offsets and epochs are still given). */
  size: number;
  /** How long a message is kept, ms; 0 keeps none. */
  ttlMs: number;
  /** Bytes of messages kept per room (approximate JSON size); a larger message is not kept. Default: no bound. */
  maxBytes?: number;
  /** Bytes of messages kept by the whole store, oldest evicted first. Default: no bound. */
  memory?: number;
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
  /** The size of each ring slot's entry. */
  readonly sizes: number[] = [];
  start = 0;
  count = 0;
  /** Sum of the retained entries' sizes. */
  bytes = 0;
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

  /** Appends; the caller made room (count < capacity). */
  push(entry: HistoryEntry, size: number, capacity: number): void {
    if (this.ring.length < capacity) {
      this.ring.push(entry);
      this.sizes.push(size);
    } else {
      const slot = (this.start + this.count) % capacity;
      this.ring[slot] = entry;
      this.sizes[slot] = size;
    }
    this.count++;
    this.bytes += size;
  }

  /** Drops the oldest entry; answers the bytes released. */
  dropOldest(): number {
    const size = this.sizes[this.start]!;
    this.ring[this.start] = undefined as unknown as HistoryEntry; // release the message
    this.start = (this.start + 1) % this.ring.length;
    this.count--;
    this.bytes -= size;
    if (this.count === 0) {
      this.ring.length = 0;
      this.sizes.length = 0;
      this.start = 0;
    }
    return size;
  }

  /** Drops entries published before `cutoff`; answers the bytes released. */
  expire(cutoff: number): number {
    let freed = 0;
    while (this.count > 0 && this.at(0).meta.ts < cutoff) freed += this.dropOldest();
    return freed;
  }

  /** Whether the message at `offset` is still retained. */
  holds(offset: number): boolean {
    return this.count > 0 && offset > this.offset - this.count && offset <= this.offset;
  }
}

export class MemoryHistory implements HistoryStore {
  private readonly namespaces = new Map<string, Map<string, RoomHistory>>();
  private readonly now: () => number;
  private readonly keep: boolean;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly maxBytes: number;
  private readonly memory: number;
  /** Bytes of every retained message. */
  private bytes = 0;
  /** Retained messages (for compacting the FIFO). */
  private entries = 0;
  /** The FIFO of the process budget: room and offset of each kept message, oldest at `head`. */
  private fifoRooms: RoomHistory[] = [];
  private fifoOffsets: number[] = [];
  private head = 0;

  constructor(private readonly options: MemoryHistoryOptions) {
    this.now = options.now ?? Date.now;
    this.keep = options.size > 0 && options.ttlMs > 0;
    this.maxBytes = options.maxBytes ?? Infinity;
    this.memory = options.memory ?? Infinity;
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
      if (state.count > 0 && state.at(0).meta.ts < ts - this.options.ttlMs) this.expire(state, ts - this.options.ttlMs);
      if (state.count === this.options.size) this.released(state.dropOldest(), 1);
      const size = approxBytes(args);
      state.push({ event, args, meta }, size, this.options.size);
      this.bytes += size;
      this.entries++;
      // Over the room's budget: its oldest go first (a message larger than the budget with them).
      while (state.bytes > this.maxBytes) this.released(state.dropOldest(), 1);
      if (state.count > 0) this.enqueue(state, meta.offset);
      // Over the process budget: the oldest messages of the whole store go.
      while (this.bytes > this.memory && this.head < this.fifoRooms.length) this.evictOldest();
    }
    return meta;
  }

  /** Bytes of retained messages, every room together (tests, diagnostics). */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Messages retained, every room together (metrics). */
  get retainedMessages(): number {
    return this.entries;
  }

  private released(bytes: number, entries: number): void {
    this.bytes -= bytes;
    this.entries -= entries;
  }

  private expire(state: RoomHistory, cutoff: number): void {
    const count = state.count;
    const freed = state.expire(cutoff);
    this.released(freed, count - state.count);
  }

  private enqueue(state: RoomHistory, offset: number): void {
    this.fifoRooms.push(state);
    this.fifoOffsets.push(offset);
    // Records of messages rooms dropped by themselves pile up when the process budget is never
    // reached: compact once they outnumber the live ones (amortised O(1) per message).
    const queued = this.fifoRooms.length - this.head;
    if (queued > 1024 && queued > 2 * this.entries) this.compact();
  }

  private evictOldest(): void {
    const state = this.fifoRooms[this.head]!;
    const offset = this.fifoOffsets[this.head]!;
    this.fifoRooms[this.head] = undefined as unknown as RoomHistory;
    this.head++;
    // Live, it is its room's oldest message (rooms drop their own oldest first too).
    if (state.holds(offset)) this.released(state.dropOldest(), 1);
    if (this.head > 1024 && this.head > this.fifoRooms.length / 2) this.compact();
  }

  /** Keeps the FIFO records of retained messages only. */
  private compact(): void {
    const rooms: RoomHistory[] = [];
    const offsets: number[] = [];
    for (let i = this.head; i < this.fifoRooms.length; i++) {
      const state = this.fifoRooms[i]!;
      if (state.holds(this.fifoOffsets[i]!)) {
        rooms.push(state);
        offsets.push(this.fifoOffsets[i]!);
      }
    }
    this.fifoRooms = rooms;
    this.fifoOffsets = offsets;
    this.head = 0;
  }

  since(ns: string, room: string, since: Position): Recovery {
    // A JOIN with `since` creates the room's state, so the ack can name the epoch to resume from.
    const state = this.state(ns, room, true);
    const head: Position = { offset: state.offset, epoch: state.epoch };
    if (this.options.recoverable === false) return { recovered: false, reason: 'UNAVAILABLE', head };
    if (since.epoch !== state.epoch) return { recovered: false, reason: 'EPOCH_CHANGED', head };
    if (since.offset > state.offset) return { recovered: false, reason: 'UNKNOWN_OFFSET', head };
    if (since.offset === state.offset) return { recovered: true, entries: [], head };
    if (this.keep) this.expire(state, this.now() - this.options.ttlMs);
    const missing = state.offset - since.offset;
    if (missing > state.count) return { recovered: false, reason: 'TOO_OLD', head };
    const entries: HistoryEntry[] = new Array(missing);
    for (let i = 0; i < missing; i++) entries[i] = state.at(state.count - missing + i);
    return { recovered: true, entries, head };
  }

  page(ns: string, room: string, limit: number, before?: Position): HistoryEntry[] {
    const state = this.state(ns, room, false);
    if (!state || state.count === 0) return [];
    this.expire(state, this.now() - this.options.ttlMs);
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
        if (this.keep) this.expire(state, now - ttl);
        if (state.count === 0 && now - state.lastTs >= idleMs && !this.options.inUse?.(ns, room)) rooms.delete(room);
      }
      if (rooms.size === 0) this.namespaces.delete(ns);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.namespaces.clear();
    this.fifoRooms = [];
    this.fifoOffsets = [];
    this.head = 0;
    this.bytes = 0;
    this.entries = 0;
  }
}
