/**
 * The SQLite message store's thread: owns the one connection, so fsyncs and queries never block
 * the event loop that fans out. Commits every save that arrived while the previous commit ran in
 * one transaction (group commit: one fsync for the lot), then answers each.
 *
 * Durability: WAL journal with synchronous=FULL (sqlite-schema.ts), so a commit is fsynced to the
 * WAL before it is acknowledged; it survives a crash of the process or of the machine.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MESSAGES_TABLE, PENDING_TABLE } from './migrations.js';
import { inTransaction, type SqliteDatabase, type SqliteDriverName } from './sqlite-driver.js';
import { openSqlite } from './sqlite-schema.js';
import { MAX_BATCH, PROBE_ROW, type PendingMessage, type Placement, type StoredMessage } from './types.js';
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
const insertPendingStatement = db.prepare(
  `INSERT INTO ${PENDING_TABLE} (id, ns, room, ts, event, payload) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
);
const insertPending = (row: PendingMessage): void => {
  insertPendingStatement.run(row.id, row.ns, row.room, row.ts, row.event, row.payload);
};
// The WHERE clause also keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
const placeStatement = db.prepare(
  `INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload)
   SELECT ns, room, ?, ?, ?, event, payload FROM ${PENDING_TABLE} WHERE id = ?
   ON CONFLICT (ns, room, epoch, msg_offset) DO NOTHING`,
);
const unpend = db.prepare(`DELETE FROM ${PENDING_TABLE} WHERE id = ?`);
/** Copies the pending row to its position and deletes it; run inside a transaction (both or neither). */
const place = (id: string, at: Placement): void => {
  placeStatement.run(at.epoch, at.offset, at.ts, id);
  if (Number(unpend.run(id).changes) === 0) throw new Error(`no pending message ${id.slice(0, 64)}`);
};
const pageAll = db.prepare(
  `SELECT ns, room, epoch, msg_offset AS offset, ts, event, payload FROM ${MESSAGES_TABLE}
   WHERE ns = ? AND room = ? ORDER BY epoch DESC, msg_offset DESC LIMIT ?`,
);
const pageBefore = db.prepare(
  `SELECT ns, room, epoch, msg_offset AS offset, ts, event, payload FROM ${MESSAGES_TABLE}
   WHERE ns = ? AND room = ? AND (epoch, msg_offset) < (?, ?) ORDER BY epoch DESC, msg_offset DESC LIMIT ?`,
);
const prune = db.prepare(`DELETE FROM ${MESSAGES_TABLE} WHERE ts < ?`);
const prunePending = db.prepare(`DELETE FROM ${PENDING_TABLE} WHERE ts < ?`);
const unprobe = db.prepare(`DELETE FROM ${MESSAGES_TABLE} WHERE ns = ? AND room = ? AND epoch = ? AND msg_offset = ?`);
// Committed, so it goes through the lock, the WAL and its fsync like a save; leaves nothing behind.
const probe = (): void =>
  inTransaction(db, () => {
    insert(PROBE_ROW);
    unprobe.run(PROBE_ROW.ns, PROBE_ROW.room, PROBE_ROW.epoch, PROBE_ROW.offset);
  });

/** A write waiting for the next group commit: saves, pending saves and placements alike. */
let queue: { id: number; write: () => void }[] = [];
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
      inTransaction(db, () => {
        for (const b of batch) b.write();
      });
      for (const b of batch) reply({ id: b.id, ok: true });
    } catch (batchError) {
      // One bad row must not fail the others: commit them one by one.
      for (const b of batch) {
        try {
          if (batch.length === 1) throw batchError;
          inTransaction(db, b.write);
          reply({ id: b.id, ok: true });
        } catch (err) {
          reply({ id: b.id, ok: false, error: (err as Error).message });
        }
      }
    }
  }
}

function enqueue(id: number, write: () => void): void {
  queue.push({ id, write });
  // Every message already delivered to this thread is handled before the immediate runs.
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

port.on('message', (req: SqliteRequest) => {
  try {
    switch (req.op) {
      case 'save': {
        const row = req.row;
        return enqueue(req.id, () => insert(row));
      }
      case 'savePending': {
        const row = req.row;
        return enqueue(req.id, () => insertPending(row));
      }
      case 'place': {
        const { pendingId, placement } = req;
        return enqueue(req.id, () => place(pendingId, placement));
      }
      case 'page': {
        const rows = (
          req.before ? pageBefore.all(req.ns, req.room, req.before.epoch, req.before.offset, req.limit) : pageAll.all(req.ns, req.room, req.limit)
        ) as StoredMessage[];
        reply({ id: req.id, ok: true, result: rows.reverse() });
        return;
      }
      case 'prune':
        reply({ id: req.id, ok: true, result: Number(prune.run(req.ts).changes) + Number(prunePending.run(req.ts).changes) });
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
