/** The presence contract on the memory store and on the Redis store (a private redis-server; every store a node of its own). */
import { randomUUID } from 'node:crypto';
import { MemoryPresence } from '../../lib/presence/memory.js';
import { RedisConnection } from '../../lib/cluster/redis-connection.js';
import { RedisPresence } from '../../lib/presence/redis.js';
import { captureLogger } from '../helpers/logs.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis } from '../helpers/redis.js';
import { describePresenceContract } from './presence.contract.js';

describePresenceContract('MemoryPresence', async () => ({
  open: async () => new MemoryPresence(randomUUID()),
  shared: false,
  cleanup: async () => undefined,
}));

describe('presence contract on Redis', function () {
  before(function () {
    requireRedisOrSkip(this);
  });
  describePresenceContract('RedisPresence', async () => {
    const redis = await useRedis();
    const prefix = uniquePrefix('presence');
    const { logger } = captureLogger('info');
    const connections: RedisConnection[] = [];
    return {
      shared: true,
      async open() {
        const connection = new RedisConnection({ url: redis.url, logger });
        connections.push(connection);
        await connection.start(5000);
        const presence = new RedisPresence({ connection, logger, nodeId: randomUUID(), prefix, ttlMs: 1000 });
        await presence.start();
        return presence;
      },
      async cleanup() {
        // The stores were closed by the suite: their connections go now.
        await Promise.all(connections.map((c) => c.close()));
        await deletePrefix(redis.url, prefix);
        await redis.stop();
      },
    };
  });
});
