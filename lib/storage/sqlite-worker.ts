/**
 * The SQLite message store's thread: owns the one connection, so fsyncs and queries never block
 * the event loop that fans out. Commits every save that arrived while the previous commit ran in
 * one transaction (group commit: one fsync for the lot), then answers each.
 *
 * Durability: WAL journal with synchronous=FULL (sqlite-schema.ts), so a commit is fsynced to the
 * WAL before it is acknowledged; it survives a crash of the process or of the machine.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MESSAGES_TABLE } from './migrations.js';
import { inTransaction, type SqliteDatabase, type SqliteDriverName } from './sqlite-driver.js';
import { openSqlite } from './sqlite-schema.js';
import { MAX_BATCH, PROBE_ROW, type StoredMessage } from './types.js';
import type { SqliteReply, SqliteRequest } from './sqlite.js';

const { driver, dir, file } = workerData as { driver: SqliteDriverName; dir: string; file: string };
const port = parentPort!;

let db: SqliteDatabase;
try {
  db = openSqlite(driver, dir, file);
} catch (err) {
  port.postMessage({ fatal: (err as Error).message } satisfies SqliteReply);
  process.exit(1);
}

// A position stored already keeps its first row, as in PostgreSQL: saving it again is not an error.
const insertStatement = db.prepare(
  `INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload) VALUES (?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (ns, room, epoch, msg_offset) DO NOTHING`,
);
const insert = (row: StoredMessage): void => {
  insertStatement.run(row.ns, row.room, row.epoch, row.offset, row.ts, row.event, row.payload);
};
const insertAll = (rows: StoredMessage[]): void =>
  inTransaction(db, () => {
    for (const row of rows) insert(row);
  });
const pageAll = db.prepare(
  `SELECT ns, room, epoch, msg_offset AS offset, ts, event, payload FROM ${MESSAGES_TABLE}
   WHERE ns = ? AND room = ? ORDER BY epoch DESC, msg_offset DESC LIMIT ?`,
);
const pageBefore = db.prepare(
  `SELECT ns, room, epoch, msg_offset AS offset, ts, event, payload FROM ${MESSAGES_TABLE}
   WHERE ns = ? AND room = ? AND (epoch, msg_offset) < (?, ?) ORDER BY epoch DESC, msg_offset DESC LIMIT ?`,
);
const prune = db.prepare(`DELETE FROM ${MESSAGES_TABLE} WHERE ts < ?`);
const unprobe = db.prepare(`DELETE FROM ${MESSAGES_TABLE} WHERE ns = ? AND room = ? AND epoch = ? AND msg_offset = ?`);
// Committed, so it goes through the lock, the WAL and its fsync like a save; leaves nothing behind.
const probe = (): void =>
  inTransaction(db, () => {
    insert(PROBE_ROW);
    unprobe.run(PROBE_ROW.ns, PROBE_ROW.room, PROBE_ROW.epoch, PROBE_ROW.offset);
  });

let queue: { id: number; row: StoredMessage }[] = [];
let scheduled = false;

function reply(message: SqliteReply): void {
  port.postMessage(message);
}

function flush(): void {
  scheduled = false;
  while (queue.length > 0) {
    const batch = queue.slice(0, MAX_BATCH);
    queue = queue.slice(batch.length);
    try {
      insertAll(batch.map((b) => b.row));
      for (const b of batch) reply({ id: b.id, ok: true });
    } catch (batchError) {
      // One bad row must not fail the others: commit them one by one.
      for (const b of batch) {
        try {
          if (batch.length === 1) throw batchError;
          insert(b.row);
          reply({ id: b.id, ok: true });
        } catch (err) {
          reply({ id: b.id, ok: false, error: (err as Error).message });
        }
      }
    }
  }
}

port.on('message', (req: SqliteRequest) => {
  try {
    switch (req.op) {
      case 'save':
        queue.push({ id: req.id, row: req.row });
        // Every message already delivered to this thread is handled before the immediate runs.
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
        return;
      case 'page': {
        const rows = (
          req.before ? pageBefore.all(req.ns, req.room, req.before.epoch, req.before.offset, req.limit) : pageAll.all(req.ns, req.room, req.limit)
        ) as StoredMessage[];
        reply({ id: req.id, ok: true, result: rows.reverse() });
        return;
      }
      case 'prune':
        reply({ id: req.id, ok: true, result: Number(prune.run(req.ts).changes) });
        return;
      case 'probe':
        probe();
        reply({ id: req.id, ok: true });
        return;
      case 'close':
        flush();
        db.close();
        reply({ id: req.id, ok: true });
        port.close();
        return;
    }
  } catch (err) {
    reply({ id: req.id, ok: false, error: (err as Error).message });
  }
});

reply({ ready: true });
