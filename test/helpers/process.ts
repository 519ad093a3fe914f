/** Runs the built CLI (dist/server.js) as a child process, as an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVER_JS = fileURLToPath(new URL('../../server.js', import.meta.url));

/** A fresh directory under the OS temp dir (message stores of CLI runs never land in the repository). */
export function tempDir(prefix = 'ns-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** DATA_DIR for a CLI run: the caller's, or a temporary one, removed by `cleanup` (on the process's exit). */
function dataDir(env: Record<string, string>): { env: Record<string, string>; cleanup: () => void } {
  if (env.DATA_DIR !== undefined) return { env: {}, cleanup: () => undefined };
  const dir = tempDir();
  return { env: { DATA_DIR: dir }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const data = dataDir(env);
    const child = spawn(process.execPath, [SERVER_JS, ...args], { env: { ...process.env, ...data.env, ...env }, stdio: 'pipe' });
    child.once('exit', data.cleanup);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not exit within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface RunningProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the CLI on port 0 with JSON logs and resolves once its "listening" line names the URL. */
export function startCli(args: string[] = [], env: Record<string, string> = {}): Promise<RunningProcess> {
  const data = dataDir(env);
  const child = spawn(process.execPath, [SERVER_JS, '--port', '0', '--host', '127.0.0.1', '--log-format', 'json', ...args], {
    env: { ...process.env, ...data.env, ...env },
    stdio: 'pipe',
  });
  child.once('exit', data.cleanup);
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`CLI did not start: ${stderr}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of stderr.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const { url } = JSON.parse(line) as { url: string };
        clearTimeout(timer);
        resolve({ child, url, stderr: () => stderr, exited });
        return;
      }
    });
    void exited.then(({ code }) => reject(new Error(`CLI exited with ${code} before listening: ${stderr}`)));
  });
}
