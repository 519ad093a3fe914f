/** Opening and migrating the SQLite file: shared by the start-up check (main thread) and the store's thread. */
import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS, VERSION_TABLE } from './migrations.js';

/**
 * Opens (creating the directory and the file if needed) with the store's settings and migrates.
 * Durability: WAL journal with synchronous=FULL, so a commit is fsynced before it is acknowledged.
 */
export function openSqlite(dir: string, file: string): Database.Database {
  mkdirSync(dir, { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Another process holding the write lock (a backup, an operator's sqlite3 shell) is waited for.
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const apply = db.transaction(() => {
    const row = db.prepare(`SELECT MAX(version) AS v FROM ${VERSION_TABLE}`).get() as { v: number | null };
    const current = row.v ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const sql of m.sqlite) db.exec(sql);
      db.prepare(`INSERT INTO ${VERSION_TABLE} (version, description, applied_at) VALUES (?, ?, ?)`).run(m.version, m.description, Date.now());
    }
  });
  // IMMEDIATE: two processes starting on one file migrate one after the other.
  apply.immediate();
}
