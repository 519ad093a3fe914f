/**
 * The broker contract on MemoryBroker (over MemoryHistory) and on RedisBroker (over RedisHistory,
 * a private redis-server). The Redis broker is wired as lib/service.ts wires it: a cluster
 * (lib/cluster/cluster.ts) whose adapter reads the cluster stream and hands the room deliveries
 * it reads to the broker (onRoomDelivery → fromStream). The adapters live in a socket.io server
 * with no HTTP server and no client: only their stream reader is used.
 */
import { Server } from 'socket.io';
import { MemoryBroker } from '../../lib/broker/memory.js';
import { RedisBroker } from '../../lib/broker/redis.js';
import { createCluster } from '../../lib/cluster/cluster.js';
import { clusterConfig } from '../../lib/config/index.js';
import { MemoryHistory } from '../../lib/history/memory.js';
import { RedisHistory } from '../../lib/history/redis.js';
import { captureLogger } from '../helpers/logs.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis } from '../helpers/redis.js';
import { describeBrokerContract, type BrokerUnderTest } from './broker.contract.js';

const HISTORY = { size: 100, ttlMs: 60_000 };
const NAMESPACES = ['/layout', '/bus'];

describeBrokerContract('MemoryBroker', async () => ({
  async open(): Promise<BrokerUnderTest> {
    const broker = new MemoryBroker(new MemoryHistory(HISTORY));
    return { broker, viaStream: false, close: async () => broker.close() };
  },
  cleanup: async () => undefined,
}));

describe('broker contract on Redis', function () {
  before(function () {
    requireRedisOrSkip(this);
  });
  describeBrokerContract('RedisBroker', async () => {
    const redis = await useRedis();
    const { logger } = captureLogger('info');
    return {
      async open(): Promise<BrokerUnderTest> {
        // A prefix (so a stream and rooms) per broker: each starts with no room at all.
        const config = clusterConfig(redis.url, { keyPrefix: uniquePrefix('broker') });
        const cluster = createCluster(config, { logger, onLost: () => undefined, onBack: () => undefined });
        const broker = new RedisBroker(
          new RedisHistory({
            connection: cluster.connection,
            prefix: config.keyPrefix,
            adapterStream: cluster.adapterStream.name,
            adapterMaxLen: cluster.adapterStream.maxLen,
            ...HISTORY,
            cursor: cluster.cursor,
            fallback: new MemoryHistory({ size: 0, ttlMs: 0, recoverable: false }),
          }),
          { connection: cluster.connection, name: cluster.adapterStream.name, maxLen: cluster.adapterStream.maxLen },
          logger,
        );
        cluster.onRoomDelivery((ns, room, data, except, offset) => broker.fromStream({ ns, room, data, except }, offset));
        // The namespaces' adapters: what reads the stream on a node.
        const io = new Server({ adapter: cluster.adapter as never });
        for (const ns of NAMESPACES) io.of(ns);
        let closed: Promise<void> | undefined;
        const close = (): Promise<void> =>
          (closed ??= (async () => {
            broker.close();
            await Promise.allSettled([...io._nsps.values()].map((nsp) => nsp.adapter.close()));
            await cluster.close();
            await deletePrefix(redis.url, config.keyPrefix);
          })());
        try {
          await cluster.start();
          // The reader is live once it has read a marker written after it started (one written
          // before its first read is never read: the position is then undefined, and asked again).
          for (const ns of NAMESPACES) {
            for (let tries = 1; (await cluster.cursor.position(ns)) === undefined; tries++) {
              if (tries === 5) throw new Error(`the cluster stream reader of ${ns} never read its marker`);
            }
          }
        } catch (err) {
          await close();
          throw err;
        }
        return { broker, viaStream: true, close };
      },
      cleanup: () => redis.stop(),
    };
  });
});
