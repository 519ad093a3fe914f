/**
 * The embedded message store: SQLite in `--data-dir`, run by a worker thread (sqlite-worker.ts) so
 * the fan-out thread never waits on the disk. This side only posts requests and matches replies.
 */
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Position } from '../history/types.js';
import { MESSAGES_TABLE, PENDING_TABLE } from './migrations.js';
import { defaultSqliteDriver, type SqliteDriverName } from './sqlite-driver.js';
import { openSqlite } from './sqlite-schema.js';
import type { MessageStore, PendingMessage, Placement, StoredMessage } from './types.js';

export const SQLITE_FILE = 'messages.sqlite3';

export type SqliteRequest =
  | { id: number; op: 'save'; row: StoredMessage }
  | { id: number; op: 'savePending'; row: PendingMessage }
  | { id: number; op: 'place'; pendingId: string; placement: Placement }
  | { id: number; op: 'page'; ns: string; room: string; limit: number; before?: Position | undefined }
  | { id: number; op: 'prune'; ts: number }
  | { id: number; op: 'probe' }
  | { id: number; op: 'close' };

export type SqliteReply =
  | { id: number; ok: true; result?: unknown }
  | { id: number; ok: false; error: string }
  | { ready: true }
  | { fatal: string };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The thread is started on first use: a service whose clients never store nor read stored
 * messages does not pay for it (an idle thread with its own V8 heap and SQLite: ~17 MB of RSS,
 * more under load). The file is opened and migrated at start, on the calling thread, so a bad
 * --data-dir still stops the start.
 */
export class SqliteStore implements MessageStore {
  readonly description: string;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private worker: Promise<Worker> | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    readonly driver: SqliteDriverName,
    private readonly dir: string,
    readonly file: string,
  ) {
    this.description = `sqlite ${file} (${driver})`;
  }

  /**
   * Opens (creating the directory and the file if needed) and migrates, with `driver` or the
   * default one (sqlite-driver.ts); rejects with the reason when it cannot.
   */
  static async open(dataDir: string, driver?: SqliteDriverName): Promise<SqliteStore> {
    const dir = resolve(dataDir);
    const file = join(dir, SQLITE_FILE);
    try {
      const chosen = driver ?? defaultSqliteDriver();
      openSqlite(chosen, dir, file).close();
      return new SqliteStore(chosen, dir, file);
    } catch (err) {
      throw new Error(`cannot open ${file}: ${(err as Error).message}`);
    }
  }

  /** The store's thread, started once; a start that failed is tried again by the next call. */
  private thread(): Promise<Worker> {
    this.worker ??= new Promise<Worker>((ok, fail) => {
      const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { driver: this.driver, dir: this.dir, file: this.file } });
      // Never what keeps the process alive; close() ends it.
      worker.unref();
      const onStartMessage = (msg: SqliteReply): void => {
        if ('ready' in msg) {
          worker.off('message', onStartMessage);
          ok(worker);
        } else if ('fatal' in msg) {
          fail(new Error(`cannot open ${this.file}: ${msg.fatal}`));
        }
      };
      worker.on('message', onStartMessage);
      worker.on('message', (msg: SqliteReply) => {
        if (!('id' in msg)) return;
        const call = this.pending.get(msg.id);
        if (!call) return;
        this.pending.delete(msg.id);
        if (msg.ok) call.resolve(msg.result);
        else call.reject(new Error(msg.error));
      });
      const down = (err: Error): void => {
        fail(err);
        this.worker = undefined;
        for (const call of this.pending.values()) call.reject(err);
        this.pending.clear();
      };
      worker.on('error', down);
      worker.on('exit', (code) => down(new Error(`the SQLite thread exited (code ${code})`)));
    });
    return this.worker;
  }

  private async call<T>(request: DistributiveOmit<SqliteRequest, 'id'>): Promise<T> {
    if (this.closed && request.op !== 'close') throw new Error('the message store is closed');
    const worker = await this.thread();
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
  }

  save(row: StoredMessage): Promise<void> {
    return this.call({ op: 'save', row });
  }

  savePending(row: PendingMessage): Promise<void> {
    return this.call({ op: 'savePending', row });
  }

  place(id: string, placement: Placement): Promise<void> {
    return this.call({ op: 'place', pendingId: id, placement: { epoch: placement.epoch, offset: placement.offset, ts: placement.ts } });
  }

  page(ns: string, room: string, limit: number, before?: Position): Promise<StoredMessage[]> {
    return this.call({ op: 'page', ns, room, limit, before: before && { epoch: before.epoch, offset: before.offset } });
  }

  prune(ts: number): Promise<number> {
    if (this.worker || this.closed) return this.call({ op: 'prune', ts });
    // Not started (nothing stored or read since the start): a short-lived connection, not the thread.
    try {
      const db = openSqlite(this.driver, this.dir, this.file);
      try {
        const deleted = (table: string): number => Number(db.prepare(`DELETE FROM ${table} WHERE ts < ?`).run(ts).changes);
        return Promise.resolve(deleted(MESSAGES_TABLE) + deleted(PENDING_TABLE));
      } finally {
        db.close();
      }
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  probe(): Promise<void> {
    return this.call({ op: 'probe' });
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      const started = this.worker;
      if (!started) return;
      const worker = await started.catch(() => undefined);
      if (!worker) return;
      await this.call<void>({ op: 'close' }).catch(() => undefined);
      await worker.terminate();
    })();
    return this.closed;
  }
}
