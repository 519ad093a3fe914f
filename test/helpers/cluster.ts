/** Several service nodes joined by one Redis, each a createService on port 0. */
import { clusterConfig, type Config } from '../../lib/config/index.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './redis.js';
import { startService, type Running } from './service.js';
import { closeAll } from './clients.js';
import { closeSockets } from './sock.js';
import { closeStreams } from './sse.js';
import { startCli, type RunningProcess } from './process.js';

export async function startNodes(count: number, redisUrl: string, keyPrefix: string, overrides: Partial<Config> = {}, presenceTtlMs = 1500): Promise<Running[]> {
  const nodes: Running[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(await startService({ ...overrides, cluster: clusterConfig(redisUrl, { keyPrefix, presenceTtlMs }) }));
    }
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.close()));
    throw err;
  }
  return nodes;
}

/** Polls `check` every 25 ms until it returns true; throws `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now() - started;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function readyz(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`);
  await res.arrayBuffer();
  return res.status;
}

/** The suites that test the namespaces run in both modes: the same handlers, another adapter and presence. */
export type Mode = 'memory' | 'redis';
export const MODES: readonly Mode[] = ['memory', 'redis'];

/** Closes every test client a test opened: socket.io clients, /sock WebSockets, SSE streams. */
export function closeClients(): void {
  closeAll();
  closeSockets();
  closeStreams();
}

/**
 * One service in `mode` for a describe block (as startInMode): started before its tests, closed
 * after them, every client a test opened closed after each test. Filled in by the time tests run.
 */
export function inModeForSuite(mode: Mode, overrides: Partial<Config> = {}): Running {
  const running = {} as Running;
  before(async function () {
    Object.assign(running, await startInMode(this, mode, overrides));
  });
  after(() => running.close?.());
  afterEach(closeClients);
  return running;
}

/**
 * One node in `mode` for a suite (call from `before` with mocha's `this`). In redis mode it gets
 * a Redis of its own (or REDIS_URL with a fresh key prefix), closed with it; the suite is skipped
 * like the cluster suites when there is no Redis.
 */
export async function startInMode(ctx: Mocha.Context, mode: Mode, overrides: Partial<Config> = {}): Promise<Running> {
  if (mode === 'memory') return startService(overrides);
  requireRedisOrSkip(ctx);
  const redis = await useRedis();
  const prefix = uniquePrefix('mode');
  try {
    const [node] = await startNodes(1, redis.url, prefix, overrides);
    return {
      ...node!,
      async close() {
        await node!.close();
        await deletePrefix(redis.url, prefix);
        await redis.stop();
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

/**
 * For a describe block: `count` nodes on a Redis of their own (or REDIS_URL with a fresh prefix),
 * started before its tests and stopped, keys and all, after them; skipped like every cluster suite
 * when there is no Redis. Returns the nodes once started.
 */
export function clusterNodesForSuite(name: string, count: number, overrides: Partial<Config> = {}): () => Running[] {
  let redis: RedisServer | undefined;
  let nodes: Running[] = [];
  const prefix = uniquePrefix(name);
  before(async function () {
    requireRedisOrSkip(this);
    redis = await useRedis();
    nodes = await startNodes(count, redis.url, prefix, overrides);
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    if (redis) await deletePrefix(redis.url, prefix);
    await redis?.stop();
  });
  return () => nodes;
}

/** The presence TTL of the suites with a node to kill or freeze: short, so they take seconds. */
export const FAILOVER_TTL_MS = 1000;

export interface NodesAndAProcess {
  prefix: string;
  redis?: RedisServer;
  nodes: Running[];
  proc?: RunningProcess;
}

/**
 * For one suite: a private Redis, `count` in-process nodes and one node as a process of its own
 * (so it can be killed or frozen for real), all in cluster mode with the short presence TTL.
 */
export function nodesAndAProcess(name: string, count: number, overrides: Partial<Config> = {}, cliArgs: string[] = [], env: Record<string, string> = {}): NodesAndAProcess {
  const prefix = uniquePrefix(name);
  const suite: NodesAndAProcess = { prefix, nodes: [] };
  before(async function () {
    requireRedisOrSkip(this);
    suite.redis = await useRedis();
    suite.nodes = await startNodes(count, suite.redis.url, prefix, overrides, FAILOVER_TTL_MS);
    suite.proc = await startCli(['--redis', suite.redis.url, '--redis-prefix', prefix, '--presence-ttl', `${FAILOVER_TTL_MS}ms`, ...cliArgs], env);
  });
  after(async () => {
    suite.proc?.child.kill('SIGKILL');
    await suite.proc?.exited;
    await Promise.allSettled(suite.nodes.map((n) => n.close()));
    if (suite.redis) await deletePrefix(suite.redis.url, prefix);
    await suite.redis?.stop();
  });
  afterEach(closeAll);
  return suite;
}
