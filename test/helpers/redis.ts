/**
 * A real Redis for the cluster tests: a private `redis-server` spawned on a free port (no
 * persistence), or the one named by REDIS_URL. Without either, the suites skip with a clear
 * message, unless REQUIRE_REDIS=1 (CI), where that is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { freePort } from './ports.js';

export interface RedisServer {
  url: string;
  port: number;
  /** The spawned process (undefined for REDIS_URL, or while killed). */
  readonly pid: number | undefined;
  /** Kills the server (SIGKILL: no chance to save anything, like a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Call in a suite's `before` (with mocha's `this`): skips the suite when no Redis can be had,
 * fails instead when REQUIRE_REDIS=1.
 */
export function requireRedisOrSkip(ctx: Mocha.Context, needOwnServer = false): void {
  const canSpawn = redisServerAvailable();
  if (canSpawn || (!needOwnServer && process.env.REDIS_URL)) return;
  const why = needOwnServer
    ? 'these tests restart Redis, so they need `redis-server` on PATH'
    : 'no `redis-server` on PATH and REDIS_URL is not set';
  if (process.env.REQUIRE_REDIS === '1') throw new Error(`cluster tests required (REQUIRE_REDIS=1) but ${why}`);
  // eslint-disable-next-line no-console
  console.log(`      (skipped: ${why}; install redis-server, e.g. apt-get install redis-server, to run them)`);
  ctx.skip();
}

/** A key prefix of its own per suite, so suites sharing a REDIS_URL never see each other. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${randomBytes(4).toString('hex')}`;
}

/** The Redis a suite uses: REDIS_URL when set (unless it must own the server), else a spawned one. */
export async function useRedis(needOwnServer = false): Promise<RedisServer> {
  const external = process.env.REDIS_URL;
  if (external && !needOwnServer) {
    return {
      url: external,
      port: Number(new URL(external).port || 6379),
      pid: undefined,
      kill: () => Promise.reject(new Error('cannot kill an external Redis')),
      restart: () => Promise.reject(new Error('cannot restart an external Redis')),
      stop: async () => undefined,
    };
  }
  return startRedisServer();
}

/** Deletes every key of a suite's prefix (the adapter's stream stays after the nodes close). */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 500 })) {
      if (keys.length) await client.del(keys);
    }
  } catch {
    // a killed server has nothing left to clean
  } finally {
    client.destroy();
  }
}


/** Resolves once PING answers PONG, polling every 20 ms; rejects after `timeoutMs`. */
export async function waitForPing(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') {
        client.destroy();
        return;
      }
    } catch (err) {
      last = err;
    }
    client.destroy();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis at ${url} did not answer PING within ${timeoutMs} ms: ${String(last)}`);
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';

  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    proc.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before answering: ${output}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPing(url), exited]);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };

  await launch();
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    stop: kill,
  };
}
