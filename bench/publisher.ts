/**
 * The fan-out publisher, in the coordinator thread: one connection, NOTIFY with acks, either as
 * fast as the subscribers keep up (max) or on a fixed schedule (rate).
 */
import type { WorkerPool } from './pool.js';
import { nowMs } from './protocol.js';

export interface PublishOutcome {
  published: number;
  nacks: number;
  /** Publishing stopped at its time bound before the planned count. */
  truncated: boolean;
}

/** A publishing connection: socket.io NOTIFY (bench/client.ts), a /sock publication (sock-client.ts) or HTTP POST (http-publisher.ts). */
export interface PublishClient {
  readonly isConnected: boolean;
  notify(roomJson: string, seq: number, t: number, pad: string, asString: boolean, done: (ok: boolean) => void, store?: boolean): void;
}

interface Common {
  client: PublishClient;
  room: string;
  pad: string;
  asString: boolean;
  /** NOTIFY with `store: true`. */
  store: boolean;
}

/**
 * As fast as possible, with flow control: at most `window` messages ahead of the slowest
 * subscriber (as last reported by the workers) and at most `window` NOTIFYs awaiting their ack.
 * Without it the publisher would only measure how fast the server can queue into socket buffers.
 */
export function publishMax(o: Common & { pool: WorkerPool; messages: number; window: number; maxMs: number; after?: number }): Promise<PublishOutcome> {
  const roomJson = JSON.stringify(o.room);
  const deadline = nowMs() + o.maxMs;
  // Sequence numbers go on from `after` (the messages published before this phase).
  const first = o.after ?? 0;
  const last = first + o.messages;
  let seq = first;
  let outstanding = 0;
  let nacks = 0;
  let stopped = false;
  const slowest = (): number => Math.min(...o.pool.progress.map((p) => p.minDistinct));
  return new Promise((resolve) => {
    const pump = (): void => {
      if (stopped) return;
      const canGo = o.client.isConnected && nowMs() < deadline;
      while (canGo && seq < last && outstanding < o.window && seq - slowest() < o.window) {
        seq++;
        outstanding++;
        o.client.notify(roomJson, seq, nowMs(), o.pad, o.asString, (ok) => {
          outstanding--;
          if (!ok) nacks++;
          pump();
        }, o.store);
      }
      if ((seq >= last || !canGo) && outstanding === 0) {
        stopped = true;
        o.pool.onProgress = undefined;
        resolve({ published: seq - first, nacks, truncated: seq < last });
      }
    };
    o.pool.onProgress = pump;
    pump();
  });
}

/** `ratePerSec` messages a second for `durationMs`, on a drift-free schedule; acks are counted, not awaited. */
export function publishAtRate(o: Common & { ratePerSec: number; durationMs: number }): Promise<PublishOutcome> {
  const roomJson = JSON.stringify(o.room);
  const period = 1000 / o.ratePerSec;
  const total = Math.round((o.ratePerSec * o.durationMs) / 1000);
  const start = nowMs();
  let seq = 0;
  let outstanding = 0;
  let nacks = 0;
  return new Promise((resolve) => {
    const done = (): void => {
      if ((seq >= total || !o.client.isConnected) && outstanding === 0) resolve({ published: seq, nacks, truncated: seq < total });
    };
    const tick = (): void => {
      while (seq < total && o.client.isConnected && nowMs() >= start + seq * period) {
        seq++;
        outstanding++;
        o.client.notify(roomJson, seq, nowMs(), o.pad, o.asString, (ok) => {
          outstanding--;
          if (!ok) nacks++;
          done();
        }, o.store);
      }
      if (seq < total && o.client.isConnected) setTimeout(tick, Math.max(0, start + seq * period - nowMs()));
      else done();
    };
    tick();
  });
}
