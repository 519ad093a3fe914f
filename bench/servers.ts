/**
 * The servers under test as child processes: one fresh process per scenario run, found by its
 * pid for the /proc readings, always killed when the harness exits (normally, on error or on a
 * signal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ServerKind = 'us' | 'baseline' | 'limit';
export const SERVER_KINDS: readonly ServerKind[] = ['us', 'baseline', 'limit'];

const DIST = new URL('../', import.meta.url); // dist/
const SCRIPTS: Record<ServerKind, string> = {
  us: fileURLToPath(new URL('server.js', DIST)),
  baseline: fileURLToPath(new URL('bench/baselines/baseline.js', DIST)),
  limit: fileURLToPath(new URL('bench/baselines/limit.js', DIST)),
};

/** Environment variables the service reads: "us" must run on its defaults, whatever the caller's shell has set. */
const SERVICE_ENV = ['PORT', 'HOST', 'HTTPS', 'TLS_CERT', 'TLS_KEY', 'TRANSPORTS', 'MAX_PAYLOAD', 'CORS_ORIGIN', 'LOG_LEVEL', 'LOG_FORMAT'];

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
  const args = [...nodeArgs, SCRIPTS[kind], '--port', '0', '--host', '127.0.0.1'];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  let exit: RunningServer['exit'];
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
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
