/**
 * The cluster broker: a message's offset, its history and its hand-over to every node are one Lua
 * script in Redis (lib/history/redis.ts), which appends it to the cluster stream; every node,
 * this one included, reads the stream in order and its hub delivers what it reads
 * (lib/cluster/cluster.ts routes those entries here). A room's messages are so delivered in offset
 * order on every node, whoever published them.
 *
 * While Redis is away, a message gets a node-local meta and is delivered on this node only: nothing
 * is queued for the other nodes (a backlog replayed minutes later would be stale notifications, and
 * would grow without bound while the outage lasts).
 */
import { ROOM_PREFIX } from '../core/app-socket.js';
import { ServiceError } from '../core/errors.js';
import type { Envelope, MessageMeta, Position } from '../core/types.js';
import type { RedisConnection } from '../cluster/redis-connection.js';
import { stringifyWithRaw } from '../json/raw-json.js';
import { fillBroadcast, roomBroadcastTemplate } from '../transport/index.js';
import type { Logger } from '../log/logger.js';
import type { RedisHistory } from '../history/redis.js';
import { attachMeta, metaOf, type HistoryEntry, type Recovery, type RecoveryReader } from '../history/types.js';
import type { Broker, Deliver } from './types.js';

/** A room delivery read from the cluster stream (lib/cluster/cluster.ts). */
export interface StreamDelivery {
  ns: string;
  room: string;
  /** The event and its arguments, as written. */
  data: unknown[];
  except: string | undefined;
}

/** The cluster stream every node reads: where notices are appended. */
export interface ClusterStream {
  connection: RedisConnection;
  name: string;
  /** Its approximate length bound (the adapter's own `maxLen`). */
  maxLen: number;
}

export class RedisBroker implements Broker {
  private deliver: Deliver = () => undefined;

  constructor(
    private readonly history: RedisHistory,
    private readonly stream: ClusterStream,
    private readonly logger: Logger,
  ) {}

  onDeliver(deliver: Deliver): void {
    this.deliver = deliver;
  }

  /** A delivery every node reads from the cluster stream: a message (with its meta) or a notice. */
  fromStream(entry: StreamDelivery, offset: string): void {
    const [event, ...args] = entry.data;
    if (typeof event !== 'string') return;
    this.deliver({ ns: entry.ns, room: entry.room, event, args, meta: metaOf(event, args) }, entry.except, offset);
  }

  async publish(ns: string, room: string, event: string, args: unknown[], except: string | undefined): Promise<MessageMeta> {
    let meta: MessageMeta | undefined;
    try {
      meta = await this.history.publish(ns, room, event, args, except);
    } catch (err) {
      this.logger.error('publishing through redis failed', { nsp: ns, err: (err as Error).message });
      throw new ServiceError('NOT_READY', 'the message could not be published: the cluster store did not answer');
    }
    if (meta) {
      // Delivered as every node reads it back from the stream; the publisher's receipt and the store need it here too.
      attachMeta(event, args, meta);
      return meta;
    }
    // Redis away: this node only.
    meta = this.history.append(ns, room, event, args);
    attachMeta(event, args, meta);
    this.deliver({ ns, room, event, args, meta }, except, undefined);
    return meta;
  }

  /**
   * A notice goes into the cluster stream as a room broadcast (lib/transport/stream-format.ts), so
   * every node, this one included, delivers it as it reads it, in order with the room's messages.
   * While Redis is away it is delivered on this node only.
   */
  async announce(envelope: Envelope, except: string | undefined): Promise<void> {
    const { connection, name, maxLen } = this.stream;
    const { ns, room, event, args } = envelope;
    if (connection.healthy && args.length > 0) {
      const template = roomBroadcastTemplate({ nsp: ns, rooms: [ROOM_PREFIX + room], except: except === undefined ? [] : [except], event });
      const entry = fillBroadcast(template, stringifyWithRaw(args)!.slice(1, -1));
      try {
        await connection.run((c) => c.xAdd(name, '*', entry, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxLen } }));
        return;
      } catch (err) {
        this.logger.warn('a notice reached this node only: redis did not answer', { nsp: ns, event, err: (err as Error).message });
      }
    }
    this.deliver(envelope, except, undefined);
  }

  since(ns: string, room: string, since: Position): Recovery | Promise<RecoveryReader> {
    return this.history.since(ns, room, since);
  }

  page(ns: string, room: string, limit: number, before?: Position): Promise<HistoryEntry[]> {
    return this.history.page(ns, room, limit, before);
  }

  close(): void {
    this.history.close();
  }
}
