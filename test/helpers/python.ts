/**
 * A real python-socketio client (test/python/client.py) as a child process: JSON commands on its
 * stdin, JSON lines from its stdout. It needs Debian's python3-socketio (with python3-requests and
 * python3-websocket); without it the suites skip with a message, unless REQUIRE_PYTHON_SOCKETIO=1
 * (CI), where that is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers -> test/python/client.py in the source tree (tsc does not copy it). */
const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/python/client.py');
const IMPORTS = 'import socketio, engineio, requests, websocket';

let found: string | null | undefined;

/**
 * The python that has python-socketio: PYTHON if set, else Debian's /usr/bin/python3 (python3 on
 * PATH may be another install, e.g. pyenv's, without the Debian packages), else python3.
 */
export function pythonWithSocketio(): string | null {
  if (found !== undefined) return found;
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => Boolean(c));
  found = candidates.find((c) => spawnSync(c, ['-c', IMPORTS], { stdio: 'ignore' }).status === 0) ?? null;
  return found;
}

/** Call in a suite's `before` (with mocha's `this`). */
export function requirePythonOrSkip(ctx: Mocha.Context): string {
  const python = pythonWithSocketio();
  if (python) return python;
  const why = 'no python3 with python-socketio (Debian: apt-get install python3-socketio python3-requests python3-websocket)';
  if (process.env.REQUIRE_PYTHON_SOCKETIO === '1') throw new Error(`python-socketio tests required (REQUIRE_PYTHON_SOCKETIO=1) but ${why}`);
  // eslint-disable-next-line no-console
  console.log(`      (skipped: ${why})`);
  ctx.skip();
}

export type PyLine = { connected?: string; on?: string; data?: any; ack?: number; args?: any[]; disconnected?: boolean; log?: string; wire?: string };

export class PythonClient {
  readonly lines: PyLine[] = [];
  private readonly proc: ChildProcess;
  private waiters: (() => void)[] = [];
  private nextId = 1;
  private stderr = '';
  private exited = false;

  constructor(python: string, url: string, nsp: string, transport: 'websocket' | 'polling', events: string[]) {
    this.proc = spawn(python, [SCRIPT, url, nsp, transport, ...events], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as PyLine);
      this.wake();
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `check` holds on the lines so far; rejects after `ms` or if the process exits first. */
  async until<T>(what: string, check: (lines: PyLine[]) => T | undefined, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const result = check(this.lines);
      if (result !== undefined) return result;
      if (this.exited || Date.now() > deadline) {
        throw new Error(`python client: ${what} ${this.exited ? 'but it exited' : `not within ${ms} ms`}; stderr: ${this.stderr.slice(-2000)}; last lines: ${JSON.stringify(this.lines.slice(-5))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  connected(): Promise<string> {
    return this.until('connected', (lines) => lines.find((l) => l.connected)?.connected);
  }

  /** Emits `event` with one argument and resolves with the ack's arguments. */
  request(event: string, data: unknown): Promise<any[]> {
    const id = this.nextId++;
    this.proc.stdin!.write(JSON.stringify({ emit: event, data, id }) + '\n');
    return this.until(`ack of ${event}`, (lines) => lines.find((l) => l.ack === id)?.args);
  }

  /** The payloads of `event` received so far. */
  received(event: string): any[] {
    return this.lines.filter((l) => l.on === event).map((l) => l.data);
  }

  /** Waits for `count` payloads of `event` in all. */
  collect(event: string, count: number, ms?: number): Promise<any[]> {
    return this.until(`${count} ${event}`, () => {
      const got = this.received(event);
      return got.length >= count ? got : undefined;
    }, ms);
  }

  /**
   * The arguments of every socket.io EVENT packet in the order it came off the connection
   * (`[event, ...args]`; handlers may run in another order, see client.py).
   */
  wire(): unknown[][] {
    return this.lines.filter((l) => l.wire !== undefined).map((l) => JSON.parse(l.wire!.slice(l.wire!.indexOf('['))) as unknown[]);
  }

  /** What python-socketio and python-engineio logged as errors (handlers that raised, refused payloads). */
  errors(): string[] {
    return this.lines.filter((l) => l.log !== undefined).map((l) => l.log!);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.stdin!.end(JSON.stringify({ close: true }) + '\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}
