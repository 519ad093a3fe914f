/** The message-store contract on SQLite (every driver this Node has) and PostgreSQL (a fresh database, dropped after). */
import { openMessageStore } from '../../lib/storage/index.js';
import { SQLITE_DRIVERS, sqliteDriverProblem } from '../../lib/storage/sqlite-driver.js';
import type { MessageStore } from '../../lib/storage/types.js';
import { createTestDatabase, requirePostgresOrSkip } from '../helpers/history.js';
import { postgresBackend, sqliteBackend, type StoreBackend } from '../helpers/store-backends.js';
import { describeStoreContract, type StoreUnderTest } from './store.contract.js';

const underTest = (backend: StoreBackend): StoreUnderTest => ({
  open: async () => (await openMessageStore(backend.storage)) as MessageStore,
  breakInserts: (payload) => backend.breakInserts(payload),
  repairInserts: () => backend.repairInserts(),
  clear: () => backend.clear(),
  cleanup: () => backend.cleanup(),
});

for (const driver of SQLITE_DRIVERS) {
  const problem = sqliteDriverProblem(driver);
  if (problem === undefined) describeStoreContract(`SQLite (${driver})`, async () => underTest(sqliteBackend(driver)));
  else describe(`message store contract: SQLite (${driver})`, () => it(`not available on Node.js ${process.versions.node}: ${problem}`));
}

describe('message store contract on PostgreSQL', function () {
  before(async function () {
    await requirePostgresOrSkip(this);
  });
  describeStoreContract('PostgreSQL (fresh database per run)', async () => underTest(postgresBackend(await createTestDatabase())));
});
