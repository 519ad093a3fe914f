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

export interface StartOptions {
  /** --host (default 127.0.0.1). */
  host?: string;
  /** --log-format (default json). */
  logFormat?: 'json' | 'pretty';
  /** Working directory; given, DATA_DIR is left unset so ./data lands in it (the caller removes it). */
  cwd?: string;
}

/**
 * Starts the CLI on port 0 and resolves once its "listening" line names the URL. An `env` value
 * that is undefined removes that variable from the inherited environment.
 */
export function startCli(args: string[] = [], env: Record<string, string | undefined> = {}, options: StartOptions = {}): Promise<RunningProcess> {
  const data = options.cwd === undefined ? dataDir(env as Record<string, string>) : { env: {}, cleanup: () => undefined };
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...data.env, ...env };
  if (options.cwd !== undefined) delete childEnv.DATA_DIR;
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete childEnv[name];
  const flags = ['--port', '0', '--host', options.host ?? '127.0.0.1', '--log-format', options.logFormat ?? 'json'];
  const child = spawn(process.execPath, [SERVER_JS, ...flags, ...args], { env: childEnv, stdio: 'pipe', cwd: options.cwd });
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
        // JSON: {"message":"listening","url":...}; pretty: `... info listening {"url":...}`.
        const url = /\blistening\b.*"url":"([^"]+)"/.exec(line)?.[1];
        if (url === undefined) continue;
        clearTimeout(timer);
        resolve({ child, url, stderr: () => stderr, exited });
        return;
      }
    });
    void exited.then(({ code }) => reject(new Error(`CLI exited with ${code} before listening: ${stderr}`)));
  });
}
