/**
 * The embedded message store: SQLite in `--data-dir`, run by a worker thread (sqlite-worker.ts) so
 * the fan-out thread never waits on the disk. This side only posts requests and matches replies.
 */
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Position } from '../history/types.js';
import type { MessageStore, StoredMessage } from './types.js';

export const SQLITE_FILE = 'messages.sqlite3';

export type SqliteRequest =
  | { id: number; op: 'save'; row: StoredMessage }
  | { id: number; op: 'page'; ns: string; room: string; limit: number; before?: Position | undefined }
  | { id: number; op: 'prune'; ts: number }
  | { id: number; op: 'close' };

export type SqliteReply =
  | { id: number; ok: true; result?: unknown }
  | { id: number; ok: false; error: string }
  | { ready: true }
  | { fatal: string };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class SqliteStore implements MessageStore {
  readonly description: string;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly file: string,
  ) {
    this.description = `sqlite ${file}`;
    worker.on('message', (msg: SqliteReply) => {
      if (!('id' in msg)) return;
      const call = this.pending.get(msg.id);
      if (!call) return;
      this.pending.delete(msg.id);
      if (msg.ok) call.resolve(msg.result);
      else call.reject(new Error(msg.error));
    });
    const fail = (err: Error): void => {
      this.failure ??= err;
      for (const call of this.pending.values()) call.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the SQLite thread exited (code ${code})`)));
    // Never what keeps the process alive; close() ends it.
    worker.unref();
  }

  /** Opens (creating the directory and the file if needed) and migrates; rejects with the reason when it cannot. */
  static open(dataDir: string): Promise<SqliteStore> {
    const dir = resolve(dataDir);
    const file = join(dir, SQLITE_FILE);
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { dir, file } });
    return new Promise((ok, fail) => {
      const onMessage = (msg: SqliteReply): void => {
        if ('ready' in msg) {
          cleanup();
          ok(new SqliteStore(worker, file));
        } else if ('fatal' in msg) {
          cleanup();
          fail(new Error(`cannot open ${file}: ${msg.fatal}`));
        }
      };
      const onError = (err: Error): void => {
        cleanup();
        fail(new Error(`cannot open ${file}: ${err.message}`));
      };
      const onExit = (code: number): void => {
        cleanup();
        fail(new Error(`cannot open ${file}: the SQLite thread exited (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private call<T>(request: DistributiveOmit<SqliteRequest, 'id'>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed && request.op !== 'close') return Promise.reject(new Error('the message store is closed'));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  save(row: StoredMessage): Promise<void> {
    return this.call({ op: 'save', row });
  }

  page(ns: string, room: string, limit: number, before?: Position): Promise<StoredMessage[]> {
    return this.call({ op: 'page', ns, room, limit, before: before && { epoch: before.epoch, offset: before.offset } });
  }

  prune(ts: number): Promise<number> {
    return this.call({ op: 'prune', ts });
  }

  close(): Promise<void> {
    this.closed ??= this.call<void>({ op: 'close' })
      .catch(() => undefined)
      .then(() => this.worker.terminate())
      .then(() => undefined);
    return this.closed;
  }
}
