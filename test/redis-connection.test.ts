/**
 * RedisConnection.run() sends its commands without the `redis` client's queue timeout: that
 * timeout is an AbortSignal.timeout per command whose timer cannot be cleared, and fires (with a
 * TimeoutError made for it) 5 s after every command. The client's own commands keep it.
 */
import { expect } from 'chai';
import { RedisConnection } from '../lib/cluster/redis-connection.js';
import { captureLogger } from './helpers/logs.js';
import { requireRedisOrSkip, useRedis, type RedisServer } from './helpers/redis.js';

/** Counts AbortSignal.timeout calls while `body` runs. */
async function countTimeoutSignals(body: () => Promise<unknown>): Promise<number> {
  const original = AbortSignal.timeout;
  let made = 0;
  AbortSignal.timeout = (ms: number) => {
    made++;
    return original.call(AbortSignal, ms);
  };
  try {
    await body();
  } finally {
    AbortSignal.timeout = original;
  }
  return made;
}

describe('RedisConnection: commands of run() carry no queue timeout', function () {
  let redis: RedisServer;
  let connection: RedisConnection;

  before(async function () {
    requireRedisOrSkip(this);
    redis = await useRedis();
    connection = new RedisConnection({ url: redis.url, logger: captureLogger('info').logger });
    await connection.start(5000);
    expect(connection.healthy).to.equal(true);
  });

  after(async () => {
    await connection?.close();
    await redis?.stop();
  });

  it('run() makes no AbortSignal.timeout, a script and a MULTI included; the client itself still does', async () => {
    const key = `redis-connection-test:${process.pid}:${Date.now()}`;
    const viaRun = await countTimeoutSignals(async () => {
      for (let i = 0; i < 20; i++) await connection.run((c) => c.set(key, String(i), { PX: 60_000 }));
      await connection.run((c) => c.eval('return redis.call("GET", KEYS[1])', { keys: [key], arguments: [] }));
      await connection.run((c) => c.multi().get(key).pExpire(key, 60_000).exec());
    });
    expect(viaRun).to.equal(0);
    expect(await connection.run((c) => c.get(key))).to.equal('19');
    // The adapter's commands go through the client: they keep its timeout, which bounds the offline queue.
    const viaClient = await countTimeoutSignals(() => connection.client.del(key));
    expect(viaClient).to.equal(1);
  });
});
