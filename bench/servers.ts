/**
 * The servers under test as child processes: one fresh process per scenario run, found by its
 * pid for the /proc readings, always killed when the harness exits (normally, on error or on a
 * signal).
 *
 * `limit` is the floor of the scenario's protocol: bench/baselines/limit.ts for socket.io,
 * sock-limit.ts for /sock, sse-limit.ts for SSE (the socket.io `baseline` has neither: its runs
 * there are reported as not applicable). `limit-coalesced` (/sock and SSE only) is that limit with
 * each socket corked for the rest of the event-loop iteration, as the service writes.
 *
 * Cluster kinds: `us-redis` is one node of ours in cluster mode, `us-redis2` two nodes
 * (`us-redis2-before` the same with the BENCH_BEFORE_SERVER build); each with a
 * private redis-server on a free port (no persistence), started and killed with them. Their CPU
 * and memory readings add up every process of the set, Redis included.
 *
 * History variants of `us` (which runs with history and connection-state recovery on), to measure
 * what history costs in the same run: `us-nohistory` (--history-size 0 --recovery-window 0: offsets
 * and meta only), `us-norecovery` (history on, connection-state recovery off) and `us-store` (the
 * defaults, with every NOTIFY sent with `store: true`: acked after the SQLite commit). Every `us`
 * process gets a fresh temporary --data-dir, removed when it exits. `us-nometrics` (--metrics false)
 * measures what recording the Prometheus metrics costs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT } from '../lib/config/index.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis.js';
import type { BenchProtocol } from './pool.js';

export type ServerKind = 'us' | 'baseline' | 'limit' | 'limit-coalesced' | 'us-redis' | 'us-redis2' | 'us-redis2-before' | 'us-nohistory' | 'us-norecovery' | 'us-store' | 'us-before' | 'us-nometrics';
/** The default comparison. */
export const SERVER_KINDS: readonly ServerKind[] = ['us', 'baseline', 'limit'];
/** Every kind --servers accepts. */
export const ALL_SERVER_KINDS: readonly ServerKind[] = [...SERVER_KINDS, 'limit-coalesced', 'us-redis', 'us-redis2', 'us-redis2-before', 'us-nohistory', 'us-norecovery', 'us-store', 'us-before', 'us-nometrics'];
const CLUSTER_NODES: Partial<Record<ServerKind, number>> = { 'us-redis': 1, 'us-redis2': 2, 'us-redis2-before': 2 };
/** [history] Variants of `us`: its flags. */
const US_VARIANTS: Partial<Record<ServerKind, string[]>> = {
  'us-nohistory': ['--history-size', '0', '--recovery-window', '0'],
  'us-norecovery': ['--recovery-window', '0'],
  'us-store': [],
  // What recording the metrics costs (docs/METRICS.md): the same server with --metrics false.
  'us-nometrics': ['--metrics', 'false'],
};

/** Whether the publishers of a run against this server ask for storage. */
export const storesMessages = (kind: ServerKind): boolean => kind === 'us-store';

type ProcessKind = 'us' | 'baseline' | 'limit' | 'us-before' | 'limit-sock' | 'limit-sse';
const DIST = new URL('../', import.meta.url); // dist/
const SCRIPTS: Record<ProcessKind, string> = {
  // BENCH_US_SERVER=/other/checkout/dist/server.js measures another build as "us" (before/after).
  us: process.env.BENCH_US_SERVER ?? fileURLToPath(new URL('server.js', DIST)),
  baseline: fileURLToPath(new URL('bench/baselines/baseline.js', DIST)),
  limit: fileURLToPath(new URL('bench/baselines/limit.js', DIST)),
  // `limit` of the /sock and SSE scenarios: the same floor for those protocols.
  'limit-sock': fileURLToPath(new URL('bench/baselines/sock-limit.js', DIST)),
  'limit-sse': fileURLToPath(new URL('bench/baselines/sse-limit.js', DIST)),
  // BENCH_BEFORE_SERVER=/other/checkout/dist/server.js: another build beside "us" in the same run.
  'us-before': process.env.BENCH_BEFORE_SERVER ?? '(set BENCH_BEFORE_SERVER to measure us-before)',
};

/** Environment variables the service reads: "us" must run on its defaults, whatever the caller's shell has set. */
const SERVICE_ENV = Object.keys(ENVIRONMENT);

export interface RunningServer {
  kind: ServerKind;
  /** The first node's process (the one the publisher talks to). */
  pid: number;
  port: number;
  /** Every node's port: subscribers are spread over them. */
  ports: number[];
  /** Every process whose CPU and memory count: the nodes and, for cluster kinds, Redis. */
  pids: number[];
  /** The nodes' processes alone (no Redis): the busiest one bounds what the set can do with a core each. */
  nodePids: number[];
  /** Set once the process has exited (a crash mid-run shows up here). */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The last few KiB of its output, for error reports. */
  output(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const liveRedis = new Set<RedisServer>();

/** Kills every server still running; synchronous so it also works from an 'exit' handler. */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  // kill() sends SIGKILL before its first await.
  for (const redis of liveRedis) void redis.kill();
  liveRedis.clear();
}

/** The server has nothing that speaks the scenario's protocol (the socket.io baseline and /sock or SSE). */
export class NotApplicable extends Error {}

/** Starts `kind` for clients of `protocol` (socket.io unless said): `limit` is the protocol's own. */
export function startServer(kind: ServerKind, protocol: BenchProtocol = 'socketio', timeoutMs = 15_000): Promise<RunningServer> {
  if (protocol !== 'socketio') {
    if (kind === 'baseline') throw new NotApplicable(`the socket.io baseline has no ${protocol === 'sock' ? '/sock' : 'SSE'} endpoint`);
    if (kind === 'limit' || kind === 'limit-coalesced') {
      return startProcess(protocol === 'sock' ? 'limit-sock' : 'limit-sse', kind === 'limit' ? [] : ['--coalesce'], timeoutMs).then((s) => ({ ...s, kind }));
    }
  } else if (kind === 'limit-coalesced') {
    throw new NotApplicable('limit-coalesced is a /sock and SSE limit');
  }
  const nodes = CLUSTER_NODES[kind];
  if (nodes !== undefined) return startCluster(kind, nodes, timeoutMs);
  const variant = US_VARIANTS[kind];
  if (variant !== undefined) return startProcess('us', variant, timeoutMs).then((s) => ({ ...s, kind }));
  return startProcess(kind as ProcessKind, [], timeoutMs);
}

/** Redis, then `count` nodes of ours joined by it; one RunningServer for the set. */
async function startCluster(kind: ServerKind, count: number, timeoutMs: number): Promise<RunningServer> {
  const redis = await startRedisServer();
  liveRedis.add(redis);
  const nodes: RunningServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await redis.stop();
    liveRedis.delete(redis);
  };
  try {
    // us-redis2-before: the BENCH_BEFORE_SERVER build, for a before/after of cluster mode in one run.
    const build: ProcessKind = kind === 'us-redis2-before' ? 'us-before' : 'us';
    for (let i = 0; i < count; i++) nodes.push(await startProcess(build, ['--redis', redis.url, '--redis-prefix', 'bench'], timeoutMs));
  } catch (err) {
    await stop();
    throw err;
  }
  const first = nodes[0]!;
  return {
    kind,
    pid: first.pid,
    port: first.port,
    ports: nodes.map((n) => n.port),
    pids: [...nodes.map((n) => n.pid), ...(redis.pid ? [redis.pid] : [])],
    nodePids: nodes.map((n) => n.pid),
    get exit() {
      return nodes.find((n) => n.exit)?.exit;
    },
    output: () => nodes.map((n, i) => `[node ${i}] ${n.output()}`).join('\n'),
    stop,
  };
}

function startProcess(kind: ProcessKind, extraArgs: string[], timeoutMs: number): Promise<RunningServer> {
  const env = { ...process.env };
  for (const name of SERVICE_ENV) delete env[name];
  // "us" exactly as an operator starts it, only pinned to loopback and a free port.
  // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, SCRIPTS[kind], '--port', '0', '--host', '127.0.0.1', ...extraArgs];
  // [history] Each process's SQLite store in a fresh temporary directory, removed after.
  const dataDir = kind === 'us' || kind === 'us-before' ? mkdtempSync(join(tmpdir(), 'ns-bench-')) : undefined;
  if (dataDir) env.DATA_DIR = dataDir;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  let exit: RunningServer['exit'];
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      resolve();
    }),
  );

  return new Promise((resolve, reject) => {
    let port: number | undefined;
    const timer = setTimeout(() => fail(`did not report its port within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${kind} server ${why}: ${tail.slice(-2000)}`));
    };
    // Both streams are always drained: a full pipe would block the server's logging and stall it.
    const onData = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-8192);
      if (port !== undefined) return;
      // baseline/limit print {"port":N}; "us" logs `listening` with its URL (JSON or pretty).
      const m = /\{"port":(\d+)\}/.exec(tail) ?? /listening.*?https?:\/\/[^\s"]*:(\d+)/.exec(tail);
      if (!m) return;
      port = Number(m[1]);
      clearTimeout(timer);
      resolve({
        kind: kind as ServerKind,
        pid: child.pid!,
        port,
        ports: [port],
        pids: [child.pid!],
        nodePids: [child.pid!],
        get exit() {
          return exit;
        },
        output: () => tail,
        async stop() {
          if (exit) return;
          child.kill('SIGTERM');
          // Profilers write their files at exit: give them time.
          const killer = setTimeout(() => child.kill('SIGKILL'), nodeArgs.length ? 30_000 : 3_000);
          await exited;
          clearTimeout(killer);
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      if (port === undefined) fail(`exited before listening (code ${code}, signal ${signal})`);
    });
    child.once('error', (err) => fail(`could not start: ${err.message}`));
  });
}
