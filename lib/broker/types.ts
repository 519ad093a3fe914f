/**
 * The broker: how a room's messages get their offsets, stay in history and reach every node. The
 * hub (lib/core/hub.ts) publishes through it and nothing else, and every node's hub delivers what
 * the broker hands it (its own publications included): a single node goes the same way as a cluster.
 *
 * - MemoryBroker (memory.ts): one node; offsets and history in memory, delivered at once.
 * - RedisBroker (redis.ts): a cluster; offsets and history in Redis, handed to every node through
 *   the cluster stream, with a local fallback while Redis is away.
 *
 * Both meet test/contracts/broker.contract.ts.
 */
import type { Envelope, MaybePromise, MessageMeta, Position } from '../core/types.js';
import type { HistoryEntry, Recovery, RecoveryReader } from '../history/types.js';

/**
 * Delivers one envelope to this node's members of its room, except `except`. `streamOffset`: the
 * cluster stream entry it came from, when it came from one.
 */
export type Deliver = (envelope: Envelope, except: string | undefined, streamOffset: string | undefined) => void;

export interface Broker {
  /**
   * Gives a message of `room` its meta, keeps it in the room's history and hands it to every node
   * for delivery (this node's `deliver` included) except to `except`. The meta is added to `args`
   * (lib/history/types.ts attachMeta) before this returns or resolves. Rejects with NOT_READY when
   * the cluster cannot take it.
   */
  publish(ns: string, room: string, event: string, args: unknown[], except: string | undefined): MaybePromise<MessageMeta>;
  /**
   * Hands a notice (no meta, no history) to every node for delivery, this node's `deliver` included,
   * in order with the room's messages. Never rejects: a notice that cannot reach the other nodes is
   * delivered on this node only.
   */
  announce(envelope: Envelope, except: string | undefined): MaybePromise<void>;
  /**
   * Everything published to `room` after `since`, oldest first, or why that is not available; see
   * HistoryStore.since for the synchronous-join contract of the answer.
   */
  since(ns: string, room: string, since: Position): Recovery | Promise<RecoveryReader>;
  /** Up to `limit` most recent messages before `before` (all when absent), oldest first. */
  page(ns: string, room: string, limit: number, before?: Position): MaybePromise<HistoryEntry[]>;
  /** Sets where this node's deliveries go (the hub, once). */
  onDeliver(deliver: Deliver): void;
  close(): void;
}
