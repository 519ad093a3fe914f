/**
 * The coordinator's side of the client worker threads: request/reply calls with timeouts, and the
 * latest progress report of each worker (for flow control and for knowing when deliveries drained).
 * The message shapes both sides use are defined here.
 */
import { Worker } from 'node:worker_threads';

export interface ClientSpec {
  room: string;
  name: string;
  /** Publishes (rooms scenario) instead of only subscribing; any EVENT it receives is a self-delivery. */
  publisher: boolean;
  /** The node to connect to, when there are several (cluster kinds); else the command's port. */
  port?: number;
  /** The protocol: socket.io on /layout (default), /sock topics, or an SSE stream of /layout. */
  protocol?: BenchProtocol;
}

/** The protocols the load clients speak. */
export type BenchProtocol = 'socketio' | 'sock' | 'sse';

export interface WorkerSettings {
  /** JOIN and NOTIFY payloads as JSON strings (2-IMMERSE client library style) instead of objects. */
  asString: boolean;
  /** 'fast': find seq/t in the raw bytes; 'full': JSON.parse every EVENT (to measure what parsing costs). */
  parse: 'fast' | 'full';
  /** NOTIFY with `store: true` (set per run, for the us-store server). */
  store?: boolean;
}

export type WorkerCommand =
  | { cmd: 'connect'; port: number; clients: ClientSpec[]; concurrency: number; timeoutMs: number }
  | { cmd: 'progress'; intervalMs: number }
  | { cmd: 'snapshot' }
  | { cmd: 'expect'; room: string; count: number }
  | { cmd: 'publish'; ratePerSec: number; durationMs: number; pad: string }
  | { cmd: 'collect' }
  | { cmd: 'close' };

export interface ConnectResult {
  connected: number;
  failed: number;
  firstError?: string;
}

export interface PublishResult {
  published: number;
  nacks: number;
}

export interface Progress {
  /** Frames received so far, duplicates included. */
  received: number;
  /** The fewest distinct messages any subscriber of this worker has (Infinity without subscribers). */
  minDistinct: number;
  /** Distinct messages of all its subscribers together. */
  distinct: number;
  /** Messages published so far (as far as this worker knows) that some subscriber has not received yet. */
  deficit: number;
  /** nowMs() of the latest delivery. */
  lastRecvT: number;
}

export interface WorkerStats extends Progress {
  subscribers: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  self: number;
  foreign: number;
  /** EVENT frames without a benchmark message in them. */
  malformed: number;
  disconnects: number;
  firstDisconnect?: string;
  hist: { counts: Float64Array; count: number; max: number };
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
type ProgressMessage = { progress: Progress };

export class WorkerPool {
  readonly progress: Progress[];
  /** Runs after every progress push (the max-rate publisher's flow control listens here). */
  onProgress: (() => void) | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(private readonly workers: Worker[]) {
    this.progress = workers.map(() => ({ received: 0, minDistinct: 0, distinct: 0, deficit: 0, lastRecvT: 0 }));
    workers.forEach((worker, index) => {
      worker.on('message', (msg: Reply | ProgressMessage) => {
        if ('progress' in msg) {
          this.progress[index] = msg.progress;
          this.onProgress?.();
          return;
        }
        const call = this.pending.get(msg.id);
        if (!call) return;
        this.pending.delete(msg.id);
        clearTimeout(call.timer);
        if (msg.ok) call.resolve(msg.result);
        else call.reject(new Error(`worker ${index}: ${msg.error}`));
      });
      worker.on('error', (err) => this.failAll(new Error(`worker ${index} crashed: ${err.stack ?? err.message}`)));
      worker.on('exit', (code) => this.failAll(new Error(`worker ${index} exited with code ${code}`)));
    });
  }

  static start(count: number, settings: WorkerSettings): WorkerPool {
    const url = new URL('./worker.js', import.meta.url);
    return new WorkerPool(Array.from({ length: count }, (_, index) => new Worker(url, { workerData: { index, settings } })));
  }

  get size(): number {
    return this.workers.length;
  }

  call<T>(index: number, command: WorkerCommand, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${index}: "${command.cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.workers[index]!.postMessage({ id, ...command });
    });
  }

  all<T>(command: (index: number) => WorkerCommand, timeoutMs: number): Promise<T[]> {
    return Promise.all(this.workers.map((_, i) => this.call<T>(i, command(i), timeoutMs)));
  }

  /** Asks each worker to drop its connections, then stops the threads (bounded either way). */
  async terminate(): Promise<void> {
    await this.all(() => ({ cmd: 'close' }), 5_000).catch(() => undefined);
    this.failAll(new Error('pool terminated'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private failAll(err: Error): void {
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      this.pending.delete(id);
      call.reject(err);
    }
  }
}
