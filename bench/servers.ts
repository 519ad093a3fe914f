/**
 * The servers under test as child processes: one fresh process per scenario run, found by its
 * pid for the /proc readings, always killed when the harness exits (normally, on error or on a
 * signal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `us` runs on its defaults (history and connection-state recovery on). The variants, to measure
 * what history costs in the same run: `us-nohistory` (--history-size 0 --recovery-window 0: offsets
 * and meta only), `us-norecovery` (history on, connection-state recovery off) and `us-store` (the
 * defaults, with every NOTIFY sent with `store: true`: acked after the SQLite commit).
 */
export type ServerKind = 'us' | 'us-nohistory' | 'us-norecovery' | 'us-store' | 'baseline' | 'limit';
export const SERVER_KINDS: readonly ServerKind[] = ['us', 'baseline', 'limit'];
export const ALL_SERVER_KINDS: readonly ServerKind[] = ['us', 'us-nohistory', 'us-norecovery', 'us-store', 'baseline', 'limit'];

const DIST = new URL('../', import.meta.url); // dist/
const SERVER_JS = fileURLToPath(new URL('server.js', DIST));
const SCRIPTS: Record<ServerKind, string> = {
  us: SERVER_JS,
  'us-nohistory': SERVER_JS,
  'us-norecovery': SERVER_JS,
  'us-store': SERVER_JS,
  baseline: fileURLToPath(new URL('bench/baselines/baseline.js', DIST)),
  limit: fileURLToPath(new URL('bench/baselines/limit.js', DIST)),
};
const EXTRA_ARGS: Partial<Record<ServerKind, string[]>> = {
  'us-nohistory': ['--history-size', '0', '--recovery-window', '0'],
  'us-norecovery': ['--recovery-window', '0'],
};

/** Whether the publishers of a run against this server ask for storage. */
export const storesMessages = (kind: ServerKind): boolean => kind === 'us-store';

/** Environment variables the service reads: "us" must run on its defaults, whatever the caller's shell has set. */
const SERVICE_ENV = ['PORT', 'HOST', 'HTTPS', 'TLS_CERT', 'TLS_KEY', 'TRANSPORTS', 'MAX_PAYLOAD', 'CORS_ORIGIN', 'LOG_LEVEL', 'LOG_FORMAT',
  'HISTORY_SIZE', 'HISTORY_TTL', 'RECOVERY_WINDOW', 'DATA_DIR', 'DATABASE_URL', 'RETENTION'];

export interface RunningServer {
  kind: ServerKind;
  pid: number;
  port: number;
  /** Set once the process has exited (a crash mid-run shows up here). */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The last few KiB of its output, for error reports. */
  output(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Kills every server still running; synchronous so it also works from an 'exit' handler. */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export function startServer(kind: ServerKind, timeoutMs = 15_000): Promise<RunningServer> {
  const env = { ...process.env };
  for (const name of SERVICE_ENV) delete env[name];
  // "us" exactly as an operator starts it, only pinned to loopback and a free port.
  // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, SCRIPTS[kind], '--port', '0', '--host', '127.0.0.1', ...(EXTRA_ARGS[kind] ?? [])];
  // Each run's SQLite store in a fresh temporary directory (on the same disk as any other), removed after.
  const dataDir = mkdtempSync(join(tmpdir(), 'ns-bench-'));
  env.DATA_DIR = dataDir;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  let exit: RunningServer['exit'];
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      rmSync(dataDir, { recursive: true, force: true });
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
        kind,
        pid: child.pid!,
        port,
        get exit() {
          return exit;
        },
        output: () => tail,
        async stop() {
          if (exit) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
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
