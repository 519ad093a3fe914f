/**
 * The two SQLite drivers the embedded store runs on, behind the few calls it makes:
 * - `node:sqlite`, built into Node.js: no native module to download or compile. Used by default
 *   where it loads without a warning: Node 24.15+ (release candidate there; Node 22 prints an
 *   ExperimentalWarning on every start, Node 20 has none).
 * - `better-sqlite3`, an optional dependency (a prebuilt binary, or compiled by `npm ci` with
 *   python3, make and g++): the fallback on Node 20 and 22.
 */
import { createRequire } from 'node:module';

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';
export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3'];

export type SqliteValue = string | number | bigint | null | Uint8Array;

/** What the store uses of a prepared statement: the same shape in both drivers. */
export interface SqliteStatement {
  run(...params: SqliteValue[]): { changes: number | bigint };
  all(...params: SqliteValue[]): unknown[];
  get(...params: SqliteValue[]): unknown;
}

/** What the store uses of a connection: both drivers' objects have these methods. */
export interface SqliteDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  close(): unknown;
}

type Constructor = new (file: string) => SqliteDatabase;

const require = createRequire(import.meta.url);

/** Node versions whose `node:sqlite` is past "experimental" (no warning when loaded). */
export function nodeSqliteIsQuiet(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 26 || (major === 24 && minor >= 15);
}

function loadDriver(name: SqliteDriverName): Constructor {
  if (name === 'node:sqlite') return (require('node:sqlite') as { DatabaseSync: Constructor }).DatabaseSync;
  return require('better-sqlite3') as Constructor;
}

/**
 * Why `name` cannot open a database here, or undefined when it can (tried on an in-memory one: a
 * better-sqlite3 built for another Node version loads but fails there). Loading node:sqlite on
 * Node 22 prints its warning.
 */
export function sqliteDriverProblem(name: SqliteDriverName): string | undefined {
  try {
    const Database = loadDriver(name);
    new Database(':memory:').close();
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** The driver used when none is configured: `node:sqlite` where it is quiet, else `better-sqlite3` if it works. */
export function defaultSqliteDriver(): SqliteDriverName {
  if (nodeSqliteIsQuiet()) return 'node:sqlite';
  const problem = sqliteDriverProblem('better-sqlite3');
  if (problem === undefined) return 'better-sqlite3';
  throw new Error(
    `no SQLite driver: node:sqlite is used from Node.js 24.15 on (this is ${process.versions.node}) and better-sqlite3 ` +
      `does not work here (${problem}); install it (npm install better-sqlite3: a prebuilt binary, or python3, make ` +
      `and g++ to compile it), or store in PostgreSQL with --database`,
  );
}

/** Opens `file` (created if missing) with `driver`; throws a one-line reason when the driver cannot be loaded. */
export function openSqliteDatabase(driver: SqliteDriverName, file: string): SqliteDatabase {
  let Database: Constructor;
  try {
    Database = loadDriver(driver);
  } catch (err) {
    throw new Error(`the SQLite driver ${driver} cannot be loaded on Node.js ${process.versions.node}: ${(err as Error).message.split('\n')[0]}`);
  }
  return new Database(file);
}

/**
 * Runs `fn` in a transaction (BEGIN IMMEDIATE takes the write lock at once), committed when it
 * returns, rolled back when it or the commit throws. Plain SQL, so it is the same on both drivers.
 */
export function inTransaction<T>(db: SqliteDatabase, fn: () => T, mode: 'DEFERRED' | 'IMMEDIATE' = 'DEFERRED'): T {
  db.exec(`BEGIN ${mode}`);
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (e.g. SQLITE_FULL): nothing left to undo.
    }
    throw err;
  }
}
