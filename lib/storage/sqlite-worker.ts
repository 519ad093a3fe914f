/**
 * The SQLite message store's thread: owns the one connection, so fsyncs and queries never block
 * the event loop that fans out. Commits every save that arrived while the previous commit ran in
 * one transaction (group commit: one fsync for the lot), then answers each.
 *
 * Durability: WAL journal with synchronous=FULL, so a commit is fsynced to the WAL before it is
 * acknowledged; it survives a crash of the process or of the machine.
 */
import { mkdirSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { MESSAGES_TABLE, MIGRATIONS, VERSION_TABLE } from './migrations.js';
import { MAX_BATCH, type StoredMessage } from './types.js';
import type { SqliteReply, SqliteRequest } from './sqlite.js';

const { dir, file } = workerData as { dir: string; file: string };
const port = parentPort!;

let db: Database.Database;
try {
  mkdirSync(dir, { recursive: true });
  db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Another process holding the write lock (a backup, an operator's sqlite3 shell) is waited for.
  db.pragma('busy_timeout = 5000');
  migrate(db);
} catch (err) {
  port.postMessage({ fatal: (err as Error).message } satisfies SqliteReply);
  process.exit(1);
}

function migrate(database: Database.Database): void {
  database.exec(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const apply = database.transaction(() => {
    const row = database.prepare(`SELECT MAX(version) AS v FROM ${VERSION_TABLE}`).get() as { v: number | null };
    const current = row.v ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const sql of m.sqlite) database.exec(sql);
      database.prepare(`INSERT INTO ${VERSION_TABLE} (version, description, applied_at) VALUES (?, ?, ?)`).run(m.version, m.description, Date.now());
    }
  });
  // IMMEDIATE: two processes starting on one file migrate one after the other.
  apply.immediate();
}

const insert = db.prepare(
  `INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload) VALUES (@ns, @room, @epoch, @offset, @ts, @event, @payload)`,
);
const insertAll = db.transaction((rows: StoredMessage[]) => {
  for (const row of rows) insert.run(row);
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
          insert.run(b.row);
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
        reply({ id: req.id, ok: true, result: prune.run(req.ts).changes });
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
