/**
 * Cluster mode: what differs from a single node, and nothing else. The handlers stay the same;
 * only these change:
 *   - the socket.io adapter: the official Redis Streams adapter, so every broadcast (a room
 *     publication, a notice, a message to one socket id) reaches the members on every node,
 *     exactly once. Room messages are written to the adapter's stream by the broker's publish
 *     script (lib/history/redis.ts); every node, this one included, reads them, and deliveries to
 *     client rooms read from the stream go to the broker and from it to the hub (onRoomDelivery),
 *     which writes them to every kind of member;
 *   - the presence store: RedisPresence (names and membership readable by every node);
 *   - history and connection-state recovery: shared through Redis, resumed on any node
 *     (lib/history/redis.ts, lib/history/cluster-recovery.ts), with a cursor of how far this node has
 *     delivered the stream (lib/history/delivery-cursor.ts);
 *   - readiness: not ready while Redis is unreachable.
 *
 * While Redis is unreachable, messages are delivered on this node only (lib/broker/redis.ts), and so
 * are the adapter's own broadcasts (notices, messages to one socket: flag `local`), which the streams
 * adapter would otherwise hold until Redis answers. Nothing published during an outage is queued for
 * the other nodes: a backlog replayed minutes later would be stale notifications, and would grow
 * without bound while it lasts.
 */
import { randomUUID } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Adapter, BroadcastOptions } from 'socket.io-adapter';
import { enableStreamRecovery } from '../history/cluster-recovery.js';
import type { ClusterConfig } from '../config/index.js';
import { DeliveryCursor } from '../history/delivery-cursor.js';
import type { Logger } from '../log/logger.js';
import { RedisConnection } from './redis-connection.js';
import { chooseOffsetPerConnection, markerEntry, readStreamEntries, serveOwnIdRooms, type RoomDelivery } from '../transport/index.js';
import { ROOM_PREFIX } from '../core/app-socket.js';
import { RedisPresence, type LostMembers } from '../presence/redis.js';

/** The adapter's stream length bound (its default): about 10 s of traffic at 1000 messages per second. */
const ADAPTER_MAX_LEN = 10_000;

/** What socket.io accepts as its `adapter` option: called with `new` for each namespace. */
export type AdapterFactory = (nsp: any) => Adapter;

export interface Cluster {
  readonly nodeId: string;
  readonly connection: RedisConnection;
  readonly presence: RedisPresence;
  readonly adapter: AdapterFactory;
  /** The adapter's stream, which every node reads, and its approximate length bound. */
  readonly adapterStream: { name: string; maxLen: number };
  /** How far this node has delivered that stream (lib/history/delivery-cursor.ts). */
  readonly cursor: DeliveryCursor;
  /**
   * Where this node's deliveries to client rooms read from the stream go (the broker, and through
   * it the hub): room messages and other nodes' notices, with the entry id.
   */
  onRoomDelivery(deliver: (ns: string, room: string, data: unknown[], except: string | undefined, offset: string) => void): void;
  /** Why this node cannot serve the whole cluster now, or undefined. */
  notReadyReason(): string | undefined;
  /** Connects (waiting at most `waitMs` for Redis; the node starts anyway) and starts the presence ticks. */
  start(waitMs?: number): Promise<void>;
  /** Removes this node's presence, then closes the Redis connections. Call after socket.io closed. */
  close(): Promise<void>;
}

export interface ClusterOptions {
  logger: Logger;
  /** Members of a dead node, reported by exactly one surviving node. */
  onLost: (lost: LostMembers[]) => void;
  /** This node's members, back after the others had swept this node as dead. */
  onBack: (back: LostMembers[]) => void;
}

export function createCluster(config: ClusterConfig, options: ClusterOptions): Cluster {
  const nodeId = randomUUID();
  const logger = options.logger.child({ node: nodeId.slice(0, 8) });
  const connection = new RedisConnection({ url: config.redisUrl, logger });
  const presence = new RedisPresence({
    connection,
    logger,
    nodeId,
    prefix: config.keyPrefix,
    ttlMs: config.presenceTtlMs,
    onLost: options.onLost,
    onBack: options.onBack,
  });
  const sessionKeyPrefix = `${config.keyPrefix}:session:`;
  const adapterStream = { name: `${config.keyPrefix}:stream`, maxLen: ADAPTER_MAX_LEN };
  // An entry every node's reader passes and no adapter acts on (DeliveryCursor.position).
  const cursor = new DeliveryCursor((ns) => connection.run((c) => c.xAdd(adapterStream.name, '*', markerEntry(ns))));
  const streams = createAdapter(connection.client, {
    streamName: adapterStream.name,
    maxLen: adapterStream.maxLen,
    channelPrefix: `${config.keyPrefix}:channel`,
    sessionKeyPrefix,
  });

  let roomDelivery: Parameters<Cluster['onRoomDelivery']>[0] | undefined;

  // A plain function, not an arrow: socket.io calls the factory with `new`.
  const adapter = function (nsp: unknown): Adapter {
    const instance = streams(nsp) as Adapter;
    // Each socket's own-id room served, not stored (lib/transport/own-id-rooms.ts).
    serveOwnIdRooms(instance);
    const broadcast = instance.broadcast.bind(instance);
    instance.broadcast = (packet: unknown, opts: BroadcastOptions) => {
      if (connection.healthy || opts.flags?.local) return broadcast(packet, opts);
      return broadcast(packet, { ...opts, flags: { ...opts.flags, local: true } });
    };
    // Recovery offsets only to the connections that read them (lib/transport/recovery-offsets.ts).
    chooseOffsetPerConnection(instance);
    // [history] Connection-state recovery on any node, after the middlewares (lib/history/cluster-recovery.ts).
    enableStreamRecovery(instance as never, { client: connection.client, stream: adapterStream.name, sessionKeyPrefix, cursor }, logger);
    // Deliveries to client rooms go to the hub (roomDelivery); every stream entry this node has
    // delivered is noted for resumes (lib/history/redis.ts). Its own broadcasts an adapter skips
    // (delivered when published); room messages come back to every node.
    readStreamEntries(instance, {
      takes: (room) => roomDelivery !== undefined && room.startsWith(ROOM_PREFIX),
      deliver: (d: RoomDelivery, offset) => roomDelivery!(d.nsp, d.room.slice(ROOM_PREFIX.length), d.data, d.except, offset),
      handled: (nsp, offset, rooms) => cursor.delivered(nsp, offset, rooms),
    });
    return instance;
  } as AdapterFactory;

  let closing: Promise<void> | undefined;
  return {
    nodeId,
    connection,
    presence,
    adapter,
    adapterStream,
    cursor,
    onRoomDelivery(deliver) {
      roomDelivery = deliver;
    },
    notReadyReason: () => (connection.healthy ? undefined : 'redis unreachable'),
    async start(waitMs = 5000) {
      await connection.start(waitMs);
      await presence.start();
      logger.info('cluster mode', { presenceTtlMs: config.presenceTtlMs, keyPrefix: config.keyPrefix });
    },
    close() {
      closing ??= (async () => {
        await presence.close();
        cursor.close();
        await connection.close();
      })();
      return closing;
    },
  };
}
