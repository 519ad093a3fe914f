/** Opening and migrating the SQLite file: shared by the start-up check (main thread) and the store's thread. */
import { mkdirSync } from 'node:fs';
import { MIGRATIONS, VERSION_TABLE } from './migrations.js';
import { inTransaction, openSqliteDatabase, type SqliteDatabase, type SqliteDriverName } from './sqlite-driver.js';

/**
 * Opens (creating the directory and the file if needed) with the store's settings and migrates.
 * Durability: WAL journal with synchronous=FULL, so a commit is fsynced before it is acknowledged.
 */
export function openSqlite(driver: SqliteDriverName, dir: string, file: string): SqliteDatabase {
  mkdirSync(dir, { recursive: true });
  const db = openSqliteDatabase(driver, file);
  try {
    // First: another process holding the lock (a backup, an operator's sqlite3 shell, another node
    // starting) is waited for, here too (better-sqlite3 waits 5 s by default, node:sqlite not at all).
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: SqliteDatabase): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  // IMMEDIATE: two processes starting on one file migrate one after the other.
  inTransaction(db, () => {
    const row = db.prepare(`SELECT MAX(version) AS v FROM ${VERSION_TABLE}`).get() as { v: number | null };
    const current = row.v ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const sql of m.sqlite) db.exec(sql);
      db.prepare(`INSERT INTO ${VERSION_TABLE} (version, description, applied_at) VALUES (?, ?, ?)`).run(m.version, m.description, Date.now());
    }
  }, 'IMMEDIATE');
}
