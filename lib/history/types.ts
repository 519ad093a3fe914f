/**
 * Offsets, epochs and recent history of rooms: the contract between the pub/sub core and a history
 * store.
 *
 * Every message published to a room (a fan-out verb or an HTTP publication) gets the room's next
 * offset (1, 2, 3, … with no hole) and the room's epoch, an opaque string that changes whenever the
 * room's history is lost (a restart of the in-memory store, a room forgotten after it fell idle).
 * `{offset, epoch}` names a message for good: a client that kept the last one it saw can ask for
 * what came after (JOIN `since`), and the answer is exact or an explicit "cannot".
 *
 * Implementations:
 * - `MemoryHistory` (lib/history/memory.ts), a single node: everything synchronous, so the core
 *   can join a socket to a room and replay what it missed in one synchronous block, with no live
 *   message in between.
 * - `RedisHistory` (lib/history/redis.ts), cluster mode: one stream per room in Redis, written by
 *   the same Lua script that gives the message its offset and hands it to every node through the
 *   cluster adapter's stream, so every node delivers a room's messages in offset order. `publish`
 *   and `page` answer with promises; `since` reads Redis first and then completes in the same
 *   synchronous block as the join, from what this node has delivered (lib/history/delivery-cursor.ts),
 *   which keeps "no gap, no duplicate, before any live message" when a client comes back on another
 *   node.
 */

import type { MaybePromise, MessageMeta, Position } from '../core/types.js';

export type { MaybePromise, MessageMeta, Position } from '../core/types.js';

/** One message as it was fanned out: `socket.emit(event, ...args)` replays it exactly. */
export interface HistoryEntry {
  readonly event: string;
  readonly args: unknown[];
  readonly meta: MessageMeta;
}

export type RecoveryFailure =
  /** The room's history was lost since (restart, room forgotten) or the epoch is not this room's. */
  | 'EPOCH_CHANGED'
  /** Messages after `since` were dropped already (older than --history-ttl, or beyond --history-size). */
  | 'TOO_OLD'
  /** `since.offset` is beyond the room's last offset: not a position this room ever gave out. */
  | 'UNKNOWN_OFFSET'
  /** The shared history cannot be read now (cluster mode with Redis away, or this node's delivery lagging too far behind). */
  | 'UNAVAILABLE';

export type Recovery =
  | { recovered: true; entries: HistoryEntry[]; head: Position }
  | { recovered: false; reason: RecoveryFailure; head: Position };

/**
 * Completes a recovery read ahead of a join, in the same synchronous block as the join. Answers
 * undefined when the read is stale already (a message of the room was delivered on this node since
 * it was read: read again); with `last`, it answers UNAVAILABLE instead.
 */
/** Reads of a resume before it gives up on a room that this node keeps delivering to meanwhile. */
export const MAX_RESUME_READS = 5;

export type RecoveryReader = (last: boolean) => Recovery | undefined;

/** What the memory and Redis stores share is checked by test/contracts/history.contract.ts. */
export interface HistoryStore {
  /**
   * Gives the next message of `room` its meta and keeps it. `args` are the fan-out arguments; the
   * caller adds the meta to them (attachMeta) right after this returns, before anything else runs,
   * so a memory store may keep `args` by reference and replay them as they went out.
   */
  append(ns: string, room: string, event: string, args: unknown[]): MessageMeta;
  /**
   * Everything published to `room` after `since`, oldest first, or why that is not available.
   * A synchronous answer is used in the same synchronous block as the socket's join. A cluster
   * store reads Redis first and resolves to a RecoveryReader, which the core calls in the same
   * synchronous block as the join (see the header comment).
   */
  since(ns: string, room: string, since: Position): Recovery | Promise<RecoveryReader>;
  /**
   * Cluster stores: gives a message its meta and hands it to every node (this one included) for
   * delivery to the members of `room` except the socket `except`, in one atomic step. Resolves to
   * undefined when that cannot be done now (Redis away): the caller then appends and delivers on
   * this node, as a single node does.
   */
  publish?(ns: string, room: string, event: string, args: unknown[], except: string | undefined): Promise<MessageMeta | undefined>;
  /** Up to `limit` most recent messages before `before` (all when absent), oldest first. */
  page(ns: string, room: string, limit: number, before?: Position): MaybePromise<HistoryEntry[]>;
  close(): void;
}

/**
 * How each message event carries its meta. Object envelopes (EVENT, MESSAGE, MESSAGE_SENT) get a `meta` field;
 * trigger events, whose `data` may be any JSON value, get it as an extra trailing argument
 * (`STATUS data meta`), which listeners that read only the first argument never see.
 */
export const META_STYLE: Readonly<Record<string, 'field' | 'argument' | undefined>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, 'field' | 'argument'>, {
    EVENT: 'field',
    MESSAGE: 'field',
    MESSAGE_SENT: 'field',
    SOCK_MESSAGE: 'field',
    EVENTS: 'argument',
    UPDATES: 'argument',
    STATUS: 'argument',
  } as const),
);

/** Adds `meta` to a message's fan-out arguments in place. */
export function attachMeta(event: string, args: unknown[], meta: MessageMeta): void {
  if (META_STYLE[event] === 'field') {
    (args[0] as { meta?: MessageMeta }).meta = meta;
  } else {
    if (args.length === 0) args.push(null);
    args.length = 1;
    args.push(meta);
  }
}

/** The meta a message event carries in its arguments (see attachMeta); undefined for a notice. */
export function metaOf(event: string, args: readonly unknown[]): MessageMeta | undefined {
  const style = META_STYLE[event];
  if (style === undefined) return undefined;
  const meta = style === 'field' ? (args[0] as { meta?: unknown } | null | undefined)?.meta : args[1];
  return typeof meta === 'object' && meta !== null ? (meta as MessageMeta) : undefined;
}

/** The payload of a message without its meta: what a durable store keeps (meta has columns of its own). */
export function payloadOf(entry: HistoryEntry): unknown {
  const first = entry.args[0];
  if (META_STYLE[entry.event] !== 'field') return first ?? null;
  const { meta: _meta, ...rest } = first as Record<string, unknown>;
  return rest;
}

/** The inverse of payloadOf: a message's fan-out arguments from its stored payload and meta. */
export function entryOf(event: string, payload: unknown, meta: MessageMeta): HistoryEntry {
  const args: unknown[] = META_STYLE[event] === 'field' ? [{ ...(payload as object) }] : [payload];
  attachMeta(event, args, meta);
  return { event, args, meta };
}

/** a before b, in a room's order: by epoch (time-ordered strings), then offset. */
export function isBefore(a: Position, b: Position): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.offset < b.offset);
}

/**
 * A new epoch: the creation time in base 36 (fixed width, so epochs of one room sort by time as
 * strings) and 48 random bits, e.g. `0mbx3k2a1-4f9k2q0z7c1d`.
 */
export function newEpoch(now: number): string {
  const random = Math.floor(Math.random() * 2 ** 48).toString(36).padStart(10, '0');
  return `${Math.max(0, Math.floor(now)).toString(36).padStart(9, '0')}-${random}`;
}
