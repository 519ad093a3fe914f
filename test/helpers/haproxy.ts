/**
 * A real HAProxy for the proxy tests: `haproxy` spawned in the foreground on a free port with the
 * repository's deploy/haproxy.cfg (or a variant of it), its "${...}" values from the environment.
 * Without `haproxy` on the PATH the suites skip with a clear message, unless REQUIRE_HAPROXY=1 (CI),
 * where that is a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSelfSigned } from '../../lib/http/tls.js';
import { freePort } from './ports.js';

/** The documented configuration (from dist/test/helpers back to the repository's deploy/). */
export const HAPROXY_CFG = fileURLToPath(new URL('../../../deploy/haproxy.cfg', import.meta.url));

export function haproxyAvailable(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Call in a suite's `before` (with mocha's `this`). */
export function requireHaproxyOrSkip(ctx: Mocha.Context): void {
  if (haproxyAvailable()) return;
  const why = 'no `haproxy` on PATH';
  if (process.env.REQUIRE_HAPROXY === '1') throw new Error(`proxy tests required (REQUIRE_HAPROXY=1) but ${why}`);
  // eslint-disable-next-line no-console
  console.log(`      (skipped: ${why}; install it, e.g. apt-get install haproxy, to run the proxy tests)`);
  ctx.skip();
}

/** The documented file with `from` replaced by `to` (which must be there), written into `dir`. */
export function variantOf(dir: string, from: string, to: string): string {
  const text = readFileSync(HAPROXY_CFG, 'utf8');
  if (!text.includes(from)) throw new Error(`${HAPROXY_CFG} no longer contains "${from}"`);
  const file = join(dir, 'haproxy-variant.cfg');
  writeFileSync(file, text.replace(from, to));
  return file;
}

/** A PEM file (certificate then key) as HAProxy's `crt` wants it, self-signed for 127.0.0.1. */
export async function writeHaproxyPem(dir: string): Promise<string> {
  const tls = await generateSelfSigned();
  const file = join(dir, 'notify.pem');
  writeFileSync(file, `${tls.cert.trim()}\n${tls.key.trim()}\n`, { mode: 0o600 });
  return file;
}


export interface Haproxy {
  /** https://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

/** Starts HAProxy with `cfg` in front of `backends` (host:port) and resolves once it accepts connections. */
export async function startHaproxy(cfg: string, pem: string, backends: string[]): Promise<Haproxy> {
  const port = await freePort();
  const env: Record<string, string> = { ...process.env, NOTIFY_BIND: `127.0.0.1:${port}`, NOTIFY_CERT: pem } as Record<string, string>;
  backends.forEach((b, i) => (env[`NOTIFY_${i + 1}`] = b));
  // -db: foreground, no daemon; the test owns the process and kills it.
  const proc = spawn('haproxy', ['-db', '-f', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`haproxy exited with ${code}: ${output}`))));
  exited.catch(() => undefined);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };
  try {
    await Promise.race([acceptsConnections(port, 5000), exited]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `https://127.0.0.1:${port}`, stop };
}

async function acceptsConnections(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`haproxy did not accept connections on ${port} within ${timeoutMs} ms`);
}
