/**
 * The recent-history contract on MemoryHistory and on RedisHistory (a private redis-server). The
 * Redis store is driven as a cluster node drives it: publish, then this node's reader delivers the
 * adapter stream (here a small pump that reads the stream and moves the delivery cursor, as the
 * adapter's reader does in lib/cluster/cluster.ts), and a resume completes against what was delivered.
 */
import { DeliveryCursor } from '../../lib/history/delivery-cursor.js';
import { MemoryHistory } from '../../lib/history/memory.js';
import { RedisHistory } from '../../lib/history/redis.js';
import { attachMeta } from '../../lib/history/types.js';
import { RedisConnection } from '../../lib/cluster/redis-connection.js';
import { markerEntry, parseBroadcast, type StreamFields } from '../../lib/transport/index.js';
import { captureLogger } from '../helpers/logs.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis } from '../helpers/redis.js';
import { describeHistoryContract, type HistoryOptions, type HistoryUnderTest } from './history.contract.js';

describeHistoryContract('MemoryHistory', async () => ({
  async open(options: HistoryOptions): Promise<HistoryUnderTest> {
    let h = new MemoryHistory(options);
    return {
      async publish(ns, room, event, args) {
        const meta = h.append(ns, room, event, args);
        attachMeta(event, args, meta);
        return meta;
      },
      since: async (ns, room, since) => h.since(ns, room, since),
      page: async (ns, room, limit, before) => h.page(ns, room, limit, before),
      async loseHistory() {
        // What a restart of the process does.
        h.close();
        h = new MemoryHistory(options);
      },
      close: async () => h.close(),
    };
  },
  cleanup: async () => undefined,
}));

describe('history contract on Redis', function () {
  before(function () {
    requireRedisOrSkip(this);
  });
  describeHistoryContract('RedisHistory', async () => {
    const redis = await useRedis();
    const { logger } = captureLogger('info');
    return {
      async open(options: HistoryOptions): Promise<HistoryUnderTest> {
        // A prefix per store: each starts with no room at all.
        const prefix = uniquePrefix('history');
        const stream = `${prefix}:stream`;
        const connection = new RedisConnection({ url: redis.url, logger });
        let last = '0-0';
        let delivering = Promise.resolve();
        // This node's reader: every stream entry after the last one, in order, to the cursor.
        const deliver = (): Promise<void> =>
          (delivering = delivering.then(async () => {
            for (const { id, message } of (await connection.run((c) => c.xRange(stream, `(${last}`, '+'))) ?? []) {
              last = id;
              if (!message) continue;
              const ns = String(message.nsp);
              const broadcast = parseBroadcast(message as StreamFields, ns);
              cursor.delivered(ns, id, broadcast && [...broadcast.rooms]);
            }
          }));
        const cursor = new DeliveryCursor(async (ns) => {
          const id = await connection.run((c) => c.xAdd(stream, '*', markerEntry(ns)));
          void deliver();
          return id;
        }, options.now);
        const fallback = new MemoryHistory({ size: 0, ttlMs: options.ttlMs, now: options.now, recoverable: false });
        const history = new RedisHistory({ connection, prefix, adapterStream: stream, adapterMaxLen: 10_000, cursor, fallback, ...options });
        await connection.start(5000);
        let closed: Promise<void> | undefined;
        return {
          async publish(ns, room, event, args) {
            const meta = await history.publish(ns, room, event, args, undefined);
            if (!meta) throw new Error('redis history refused the publication');
            attachMeta(event, args, meta);
            await deliver();
            return meta;
          },
          async since(ns, room, since) {
            const read = await history.since(ns, room, since);
            // Nothing is delivered between the read and this call: the answer is final.
            return read(true)!;
          },
          page: (ns, room, limit, before) => history.page(ns, room, limit, before),
          async loseHistory() {
            // The rooms' hashes and streams, as a flushed or replaced Redis loses them.
            const keys: string[] = [];
            for await (const found of connection.client.scanIterator({ MATCH: `${prefix}:h[ms]:*` })) keys.push(...found);
            if (keys.length) await connection.run((c) => c.del(keys));
          },
          close() {
            closed ??= (async () => {
              history.close();
              cursor.close();
              await delivering.catch(() => undefined);
              await connection.close();
              await deletePrefix(redis.url, prefix);
            })();
            return closed;
          },
        };
      },
      cleanup: () => redis.stop(),
    };
  });
});
