/**
 * The message-store backends the storage suites run on: SQLite in a temporary directory (per
 * driver) and PostgreSQL in a fresh database, each with the same handles for the tests: how the
 * service and the CLI are pointed at it, fault injection through a trigger installed over a
 * connection of the test's own, and clean-up.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MESSAGES_TABLE, PENDING_TABLE, VERSION_TABLE } from '../../lib/storage/migrations.js';
import { SQLITE_FILE } from '../../lib/storage/sqlite.js';
import { openSqliteDatabase, type SqliteDatabase, type SqliteDriverName } from '../../lib/storage/sqlite-driver.js';
import type { StorageConfig } from '../../lib/storage/types.js';
import type { TestDatabase } from './history.js';
import { tempDir } from './process.js';

export interface StoreBackend {
  storage: StorageConfig;
  /** How the CLI is pointed at the same store. */
  env: Record<string, string>;
  /** Makes every insert (saves and pending saves) fail from now on, or only those of rows whose payload is `payload`. */
  breakInserts(payload?: string): Promise<void>;
  repairInserts(): Promise<void>;
  /** Deletes every stored message (the schema stays). */
  clear(): Promise<void>;
  /** Rows in the version table: migrations ran once each. */
  versions(): Promise<number[]>;
  cleanup(): Promise<void>;
}

/** A string literal for SQL text (both dialects double the quote). */
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

export function sqliteBackend(driver: SqliteDriverName): StoreBackend {
  const dir = join(tempDir('ns-sqlite-'), 'data', 'nested'); // created by the store
  const file = join(dir, SQLITE_FILE);
  const withDb = <T>(fn: (db: SqliteDatabase) => T): T => {
    const db = openSqliteDatabase(driver, file);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    storage: { kind: 'sqlite', dataDir: dir, driver },
    env: { DATA_DIR: dir, SQLITE_DRIVER: driver },
    async breakInserts(payload) {
      const when = payload === undefined ? '' : `WHEN NEW.payload = ${literal(payload)}`;
      withDb((db) => {
        for (const table of [MESSAGES_TABLE, PENDING_TABLE]) {
          db.exec(`CREATE TRIGGER inject_failure_${table} BEFORE INSERT ON ${table} ${when} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
        }
      });
    },
    async repairInserts() {
      withDb((db) => {
        for (const table of [MESSAGES_TABLE, PENDING_TABLE]) db.exec(`DROP TRIGGER inject_failure_${table}`);
      });
    },
    async clear() {
      withDb((db) => db.exec(`DELETE FROM ${MESSAGES_TABLE}; DELETE FROM ${PENDING_TABLE}`));
    },
    async versions() {
      return withDb((db) => (db.prepare(`SELECT version FROM ${VERSION_TABLE} ORDER BY version`).all() as { version: number }[]).map((r) => r.version));
    },
    async cleanup() {
      rmSync(join(dir, '..', '..'), { recursive: true, force: true });
    },
  };
}

export function postgresBackend(db: TestDatabase): StoreBackend {
  return {
    storage: { kind: 'postgres', url: db.url },
    env: { DATABASE_URL: db.url },
    async breakInserts(payload) {
      const fail = `RAISE EXCEPTION 'injected failure';`;
      const body = payload === undefined ? fail : `IF NEW.payload = ${literal(payload)} THEN ${fail} END IF; RETURN NEW;`;
      await db.query(`CREATE OR REPLACE FUNCTION inject_failure() RETURNS trigger AS $$ BEGIN ${body} END $$ LANGUAGE plpgsql`);
      for (const table of [MESSAGES_TABLE, PENDING_TABLE]) {
        await db.query(`CREATE TRIGGER inject_failure BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION inject_failure()`);
      }
    },
    async repairInserts() {
      for (const table of [MESSAGES_TABLE, PENDING_TABLE]) await db.query(`DROP TRIGGER inject_failure ON ${table}`);
    },
    async clear() {
      await db.query(`TRUNCATE ${MESSAGES_TABLE}, ${PENDING_TABLE}`);
    },
    async versions() {
      return (await db.query(`SELECT version FROM ${VERSION_TABLE} ORDER BY version`)).rows.map((r: { version: number }) => r.version);
    },
    cleanup: () => db.drop(),
  };
}
