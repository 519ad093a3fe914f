/**
 * Upgrading a message store written by an older release: a database at schema version 1 (stored
 * messages only) is migrated to the latest version at open, its rows kept and read as before, and
 * the store-first table (version 2) usable at once. On SQLite (the default driver) and PostgreSQL.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { openMessageStore } from '../lib/storage/index.js';
import { LATEST_VERSION, MESSAGES_TABLE, MIGRATIONS, VERSION_TABLE } from '../lib/storage/migrations.js';
import { SQLITE_FILE } from '../lib/storage/sqlite.js';
import { defaultSqliteDriver, openSqliteDatabase } from '../lib/storage/sqlite-driver.js';
import type { MessageStore, StorageConfig } from '../lib/storage/types.js';
import { createTestDatabase, requirePostgresOrSkip, type TestDatabase } from './helpers/history.js';
import { tempDir } from './helpers/process.js';

const V1 = MIGRATIONS.find((m) => m.version === 1)!;
const OLD_ROW = { ns: '/layout', room: 'r', epoch: '0lr0000000-0000000000', offset: 7, ts: 1_700_000_000_000, event: 'EVENT', payload: '{"message":"from v1"}' };

/** What every backend must show after opening a version-1 database. */
async function checkUpgraded(storage: StorageConfig, versions: () => Promise<number[]>): Promise<void> {
  const store = (await openMessageStore(storage)) as MessageStore;
  try {
    expect(await versions()).to.deep.equal(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
    expect(await store.page('/layout', 'r', 10)).to.deep.equal([OLD_ROW]);
    await store.savePending({ id: 'p1', ns: '/layout', room: 'r', ts: OLD_ROW.ts + 1, event: 'EVENT', payload: '"new"' });
    expect(await store.page('/layout', 'r', 10)).to.have.length(1);
    await store.place('p1', { epoch: OLD_ROW.epoch, offset: 8, ts: OLD_ROW.ts + 2 });
    expect((await store.page('/layout', 'r', 10)).map((r) => [r.offset, r.payload])).to.deep.equal([
      [7, OLD_ROW.payload],
      [8, '"new"'],
    ]);
  } finally {
    await store.close();
  }
  // Opening again migrates nothing more.
  await ((await openMessageStore(storage)) as MessageStore).close();
  expect(await versions()).to.have.length(LATEST_VERSION);
}

describe('message store migrations: a version-1 database is upgraded', () => {
  it('SQLite', async () => {
    const dir = join(tempDir('ns-migrate-'), 'data');
    const driver = defaultSqliteDriver();
    mkdirSync(dir, { recursive: true });
    const withDb = <T>(fn: (db: ReturnType<typeof openSqliteDatabase>) => T): T => {
      const db = openSqliteDatabase(driver, join(dir, SQLITE_FILE));
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    withDb((db) => {
      db.exec(`CREATE TABLE ${VERSION_TABLE} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
      for (const sql of V1.sqlite) db.exec(sql);
      db.prepare(`INSERT INTO ${VERSION_TABLE} VALUES (1, ?, 0)`).run(V1.description);
      const r = OLD_ROW;
      db.prepare(`INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(r.ns, r.room, r.epoch, r.offset, r.ts, r.event, r.payload);
    });
    await checkUpgraded({ kind: 'sqlite', dataDir: dir, driver }, async () =>
      withDb((db) => (db.prepare(`SELECT version FROM ${VERSION_TABLE} ORDER BY version`).all() as { version: number }[]).map((v) => v.version)),
    );
  });

  describe('PostgreSQL', () => {
    let db: TestDatabase | undefined;
    before(async function () {
      await requirePostgresOrSkip(this);
      db = await createTestDatabase();
    });
    after(() => db?.drop());

    it('on a fresh database', async () => {
      const q = (sql: string, params?: unknown[]) => db!.query(sql, params);
      await q(`CREATE TABLE ${VERSION_TABLE} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      for (const sql of V1.postgres) await q(sql);
      await q(`INSERT INTO ${VERSION_TABLE} VALUES (1, $1, 0)`, [V1.description]);
      const r = OLD_ROW;
      await q(`INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [r.ns, r.room, r.epoch, r.offset, r.ts, r.event, r.payload]);
      await checkUpgraded({ kind: 'postgres', url: db!.url }, async () =>
        (await q(`SELECT version FROM ${VERSION_TABLE} ORDER BY version`)).rows.map((v: { version: number }) => v.version),
      );
    });
  });
});
