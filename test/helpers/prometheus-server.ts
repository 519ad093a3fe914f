/**
 * A real Prometheus server for a suite: spawned on a free port with a configuration the test
 * writes (in a temporary directory, removed on stop), queried through its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './cluster.js';
import { freePort } from './ports.js';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  /** The temporary directory (for files the configuration names). */
  dir: string;
  /** An instant query: its vector, or an error naming Prometheus' own. */
  query(expr: string): Promise<Sample[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus on `config` (JSON is YAML); `files` are written next to it first. Resolves once it is ready. */
export async function startPrometheus(config: (dir: string) => unknown, files: Record<string, string> = {}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ns-prometheus-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config(dir)));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil(`Prometheus ready (${output})`, async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${output}`);
      const res = await fetch(`${url}/-/ready`);
      await res.arrayBuffer();
      return res.ok;
    }, 15_000);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    dir,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
      if (body.data!.resultType !== 'vector') throw new Error(`${expr}: a ${body.data!.resultType}, not a vector`);
      return body.data!.result;
    },
    stop,
  };
}
