/**
 * `store: true`: durable messages in the embedded SQLite store and in a real PostgreSQL server
 * (a fresh database per run, dropped after). The same suite runs on both: a restart and a SIGKILL
 * after the ack keep them, HISTORY merges them with recent ones, a storage failure mid-run is
 * reported to the publisher and logged while live delivery goes on.
 */
import { expect } from 'chai';
import type { MessageMeta } from '../lib/history/types.js';
import { LATEST_VERSION } from '../lib/storage/migrations.js';
import { SQLITE_DRIVERS, defaultSqliteDriver, nodeSqliteIsQuiet, sqliteDriverProblem } from '../lib/storage/sqlite-driver.js';
import pg from 'pg';
import { closeAll, connect, next, request, type TestClient } from './helpers/clients.js';
import { readyz, waitUntil } from './helpers/cluster.js';
import { captureLogger } from './helpers/logs.js';
import { createTestDatabase, POSTGRES_ADMIN_URL, requirePostgresOrSkip, type TestDatabase } from './helpers/history.js';
import { runCli, startCli } from './helpers/process.js';
import { startService } from './helpers/service.js';
import { postgresBackend, sqliteBackend, type StoreBackend } from './helpers/store-backends.js';

interface Envelope {
  sender: string;
  room: string;
  message: unknown;
  meta: MessageMeta;
}

const history = async (client: TestClient, room: string, extra: Record<string, unknown> = {}): Promise<Envelope[]> => {
  const reply = await request(client, 'HISTORY', { room, ...extra });
  expect(reply.ok, JSON.stringify(reply)).to.equal(true);
  return reply.messages;
};

/** Every message HISTORY has for the room, oldest first, page by page. */
const wholeHistory = async (client: TestClient, room: string): Promise<Envelope[]> => {
  let all: Envelope[] = [];
  for (let page = await history(client, room, { limit: 1000 }); page.length > 0; page = await history(client, room, { limit: 1000, before: page[0]!.meta })) {
    all = [...page, ...all];
  }
  return all;
};

/** The JSON error of a 503 /readyz. */
const notReady = async (url: string): Promise<{ code: string; message: string; details?: { failing: string[] } }> => {
  const res = await fetch(`${url}/readyz`);
  expect(res.status).to.equal(503);
  return ((await res.json()) as { error: { code: string; message: string; details?: { failing: string[] } } }).error;
};

function storageSuite(name: string, makeBackend: () => Promise<StoreBackend>): void {
  describe(`message store: ${name}`, () => {
    let backend: StoreBackend;
    before(async () => {
      backend = await makeBackend();
    });
    after(async () => {
      await backend?.cleanup();
    });
    afterEach(closeAll);

    it('stored messages survive a restart; HISTORY merges them with recent ones, across epochs, and pages', async () => {
      const room = 'persist';
      const first = await startService({ storage: backend.storage });
      let before: Envelope[];
      try {
        const [pub, sub] = await Promise.all([connect('v4', first.url, '/layout'), connect('v1', first.url, '/layout')]);
        await request(sub, 'JOIN', JSON.stringify({ room, name: 'sub' }));
        const live = next<Envelope>(sub, 'EVENT');
        // The ack comes once the message is committed.
        expect(await request(pub, 'NOTIFY', { room, message: { n: 's1', text: 'déjà ✓' }, store: true })).to.deep.equal({ ok: true, room, offset: 1, recipients: 1 });
        expect((await live).message).to.deep.equal({ n: 's1', text: 'déjà ✓' });
        await request(pub, 'NOTIFY', { room, message: 'not stored' });
        expect(await request(pub, 'NOTIFY', JSON.stringify({ room, message: 's3', store: true }))).to.include({ ok: true, offset: 3 });
        before = await history(pub, room);
        expect(before.map((m) => m.message)).to.deep.equal([{ n: 's1', text: 'déjà ✓' }, 'not stored', 's3']);
        // Other namespaces and verbs store too: /trigger data, an HTTP publication.
        const trig = await connect('v4', first.url, '/trigger');
        expect(await request(trig, 'BROADCAST_STATUS', 'tr', { state: 'ready' }, { store: true })).to.include({ ok: true, offset: 1 });
        const res = await fetch(`${first.url}/bus-message/bus-room?store=true`, { method: 'POST', body: '"over http"' });
        expect(await res.json()).to.deep.equal({ ok: true, room: 'bus-room', recipients: 0, offset: 1 });
      } finally {
        await first.close();
      }

      const second = await startService({ storage: backend.storage });
      try {
        const pub = await connect('v4', second.url, '/layout');
        const stored = await history(pub, room);
        // The stored ones, exactly as they went out (meta included); the other one was only in memory.
        expect(stored).to.deep.equal([before[0], before[2]]);
        const n1 = await request(pub, 'NOTIFY', { room, message: 'n1' });
        expect(n1.offset).to.equal(1); // a new epoch
        const merged = await history(pub, room);
        expect(merged.map((m) => m.message)).to.deep.equal([{ n: 's1', text: 'déjà ✓' }, 's3', 'n1']);
        expect(merged[2]!.meta.epoch).to.not.equal(merged[0]!.meta.epoch);
        // Paging walks back across the epochs.
        const last2 = await history(pub, room, { limit: 2 });
        expect(last2.map((m) => m.message)).to.deep.equal(['s3', 'n1']);
        expect((await history(pub, room, { limit: 2, before: last2[0]!.meta })).map((m) => m.message)).to.deep.equal([{ n: 's1', text: 'déjà ✓' }]);
        expect(await history(pub, room, { before: merged[0]!.meta })).to.deep.equal([]);

        const trig = await connect('v4', second.url, '/trigger');
        const t = await request(trig, 'HISTORY', 'tr');
        expect(t.messages).to.have.length(1);
        expect(t.messages[0]).to.deep.include({ event: 'STATUS', data: { state: 'ready' } });
        const bus = await connect('v4', second.url, '/bus');
        expect((await history(bus, 'bus-room')).map((m) => [m.sender, m.message])).to.deep.equal([['POST', 'over http']]);
        // The schema was migrated once.
        expect(await backend.versions()).to.deep.equal(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
      } finally {
        await second.close();
      }
    });

    it('a storage failure mid-run: STORE_FAILED to the publisher, logged, live delivery goes on; storing resumes', async () => {
      const room = 'failing';
      const { logger, entries } = captureLogger('debug');
      const svc = await startService({ storage: backend.storage }, { logger });
      try {
        const [pub, sub] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v2', svc.url, '/layout')]);
        await request(sub, 'JOIN', { room, name: 'sub' });
        const fine = next<Envelope>(sub, 'EVENT');
        expect(await request(pub, 'NOTIFY', { room, message: 'fine', store: true })).to.include({ ok: true, offset: 1 });
        await fine;
        await backend.breakInserts();
        const live = next<Envelope>(sub, 'EVENT');
        const reply = await request(pub, 'NOTIFY', { room, message: 'secret body', store: true });
        expect(reply).to.deep.equal({
          ok: false,
          error: { code: 'STORE_FAILED', message: 'the message was delivered but could not be stored', details: { offset: 2, recipients: 1 } },
        });
        expect(await live).to.deep.include({ message: 'secret body' });
        // Without an ack: an ERROR event.
        const error = next(pub, 'ERROR');
        pub.emit('NOTIFY', { room, message: 'again', store: true });
        expect(await error).to.deep.include({ code: 'STORE_FAILED', event: 'NOTIFY', details: { offset: 3, recipients: 1 } });
        // HTTP: 500 with the same code; delivered all the same.
        const busSub = await connect('v4', svc.url, '/bus');
        await request(busSub, 'JOIN', { room });
        const overHttp = next<Envelope>(busSub, 'EVENT');
        const res = await fetch(`${svc.url}/bus-message/${room}?store=true`, { method: 'POST', body: '1' });
        expect(res.status).to.equal(500);
        expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('STORE_FAILED');
        expect((await overHttp).message).to.equal(1);
        // Logged as errors, without the message body.
        const failures = entries.filter((e) => e.message === 'storing a message failed');
        expect(failures.map((e) => [e.level, e.room, e.offset])).to.deep.equal([
          ['error', room, 2],
          ['error', room, 3],
          ['error', room, 1],
        ]);
        expect(String(failures[0]!.err)).to.include('injected failure');
        expect(JSON.stringify(entries)).to.not.include('secret body');

        await backend.repairInserts();
        expect(await request(pub, 'NOTIFY', { room, message: 'stored again', store: true })).to.include({ ok: true, offset: 4 });
      } finally {
        await svc.close();
      }
    });

    it('a stored message survives SIGKILL of the process right after its ack', async () => {
      const room = 'kill';
      const proc = await startCli([], backend.env);
      let offset: number;
      try {
        const pub = await connect('v4', proc.url, '/layout');
        await request(pub, 'NOTIFY', { room, message: 'before' });
        const ack = await request(pub, 'NOTIFY', { room, message: 'acknowledged', store: true });
        expect(ack).to.include({ ok: true });
        offset = ack.offset;
        // No graceful shutdown: the process dies the moment the ack is in.
        proc.child.kill('SIGKILL');
        expect((await proc.exited).signal).to.equal('SIGKILL');
      } finally {
        proc.child.kill('SIGKILL');
      }
      const again = await startCli([], backend.env);
      try {
        const client = await connect('v4', again.url, '/layout');
        const stored = await history(client, room);
        expect(stored.map((m) => [m.message, m.meta.offset])).to.deep.equal([['acknowledged', offset]]);
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    });

    it('GET /readyz: 503 NOT_READY naming the store while it cannot store, 200 again once it can (found by its probe)', async () => {
      const room = 'ready';
      const svc = await startService({ storage: backend.storage });
      try {
        const [pub, sub] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
        await request(sub, 'JOIN', { room });
        expect(await request(pub, 'NOTIFY', { room, message: 'stored', store: true })).to.include({ ok: true });
        expect(await readyz(svc.url)).to.equal(200);
        await backend.breakInserts();
        expect((await request(pub, 'NOTIFY', { room, message: 'not stored', store: true })).error.code).to.equal('STORE_FAILED');
        // Known as soon as the publisher is told: no wait.
        const error = await notReady(svc.url);
        expect(error.code).to.equal('NOT_READY');
        expect(error.details).to.deep.equal({ failing: ['store'] });
        expect(error.message).to.include('message store failing').and.to.include('injected failure');
        // Live delivery is not what fails: still not ready (its probe fails too).
        const live = next<Envelope>(sub, 'EVENT');
        expect(await request(pub, 'NOTIFY', { room, message: 'live' })).to.include({ ok: true });
        expect((await live).message).to.equal('live');
        expect((await notReady(svc.url)).details).to.deep.equal({ failing: ['store'] });
        // Repaired behind the service's back: its probe finds out without any publication.
        await backend.repairInserts();
        await waitUntil('ready again', async () => (await readyz(svc.url)) === 200, 10_000);
        expect(await request(pub, 'NOTIFY', { room, message: 'stored again', store: true })).to.include({ ok: true });
        expect((await history(pub, room)).map((m) => m.message)).to.deep.equal(['stored', 'not stored', 'live', 'stored again']);
      } finally {
        await svc.close();
      }
    });

    it('SIGTERM while store: true messages stream in: every one is acked or refused with SHUTTING_DOWN, every acked one is stored', async () => {
      const room = 'drain';
      // No event-rate limit: the publisher goes as fast as the store commits.
      const env = { ...backend.env, EVENT_RATE: '0' };
      const proc = await startCli([], env);
      const acked: number[] = [];
      const refused: number[] = [];
      const others: unknown[] = [];
      const unanswered = new Set<number>();
      try {
        const pub = await connect('v4', proc.url, '/layout');
        const WINDOW = 32;
        let sent = 0;
        let stopped = false;
        let signalled = false;
        const disconnected = new Promise<string>((resolve) => pub.on('disconnect', (reason: string) => resolve(reason)));
        // A publisher with up to WINDOW messages in flight, that stops at its first SHUTTING_DOWN.
        await new Promise<void>((resolve) => {
          const send = (): void => {
            while (!stopped && unanswered.size < WINDOW) {
              const n = ++sent;
              unanswered.add(n);
              pub.emit('NOTIFY', { room, message: n, store: true }, (reply: { ok: boolean; error?: { code: string } }) => {
                unanswered.delete(n);
                if (reply.ok) acked.push(n);
                else if (reply.error?.code === 'SHUTTING_DOWN') {
                  refused.push(n);
                  stopped = true;
                } else others.push(reply);
                // Mid-stream: after 100 acks, with WINDOW more on their way.
                if (!signalled && acked.length >= 100) {
                  signalled = true;
                  proc.child.kill('SIGTERM');
                }
                send();
                if (stopped && unanswered.size === 0) resolve();
              });
            }
          };
          send();
          void disconnected.then(() => {
            stopped = true;
            resolve();
          });
        });
        // Every emit got its answer before the service closed the connection.
        await disconnected;
        expect([...unanswered], 'publications never answered').to.deep.equal([]);
        expect(others).to.deep.equal([]);
        expect(refused.length, 'refused during the drain').to.be.at.least(1);
        expect(await proc.exited).to.deep.equal({ code: 0, signal: null });
      } finally {
        proc.child.kill('SIGKILL');
      }

      const again = await startCli([], env);
      try {
        const client = await connect('v4', again.url, '/layout');
        // Exactly the acked ones: a refused publication was neither delivered nor stored.
        const stored = (await wholeHistory(client, room)).map((m) => m.message as number);
        expect(stored).to.deep.equal([...acked].sort((a, b) => a - b));
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    });
  });
}

// Every driver this Node has (node:sqlite from 22.13 on; better-sqlite3 where installed and built for it).
for (const driver of SQLITE_DRIVERS) {
  const problem = sqliteDriverProblem(driver);
  if (problem === undefined) storageSuite(`SQLite (${driver})`, async () => sqliteBackend(driver));
  else describe(`message store: SQLite (${driver})`, () => it(`not available on Node.js ${process.versions.node}: ${problem}`));
}

describe('message store: the SQLite driver', () => {
  it('node:sqlite is the default from Node 24.15 on (where it no longer warns), better-sqlite3 before', () => {
    expect(['20.20.2', '22.23.5', '24.14.1', '25.2.0'].map((v) => nodeSqliteIsQuiet(v))).to.deep.equal([false, false, false, false]);
    expect(['24.15.0', '24.22.3', '26.0.0', '27.1.0'].map((v) => nodeSqliteIsQuiet(v))).to.deep.equal([true, true, true, true]);
    expect(defaultSqliteDriver()).to.equal(nodeSqliteIsQuiet() ? 'node:sqlite' : 'better-sqlite3');
  });

  it('the CLI starts with the default driver without a warning; SQLITE_DRIVER picks one; an unknown one is refused', async () => {
    const proc = await startCli();
    try {
      await connect('v4', proc.url, '/layout');
      expect(proc.stderr()).to.include(`(${defaultSqliteDriver()})"`).and.not.include('Warning');
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    const bad = await runCli([], { SQLITE_DRIVER: 'sqlite4' });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/^error: --sqlite-driver \(env SQLITE_DRIVER\) must be auto, node:sqlite or better-sqlite3 \(got "sqlite4"\)\n$/);
  });
});

describe('message store: PostgreSQL', function () {
  before(async function () {
    await requirePostgresOrSkip(this);
  });
  storageSuite('PostgreSQL (fresh database per run)', async () => postgresBackend(await createTestDatabase()));

  describe('message store: PostgreSQL connections lost', () => {
    let db: TestDatabase;
    const admin = async (sql: string, params?: unknown[]): Promise<void> => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        await client.query(sql, params);
      } finally {
        await client.end();
      }
    };
    before(async () => {
      db = await createTestDatabase();
    });
    after(async () => {
      await db?.drop();
    });
    afterEach(closeAll);

    it('GET /readyz: 503 naming the store as soon as its connections drop and the database refuses new ones, without a publication; 200 once it accepts again', async () => {
      const room = 'pg-outage';
      const svc = await startService({ storage: { kind: 'postgres', url: db.url } });
      try {
        const [pub, sub] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
        await request(sub, 'JOIN', { room });
        // Leaves an idle connection in the store's pool.
        expect(await request(pub, 'NOTIFY', { room, message: 'before', store: true })).to.include({ ok: true });
        expect(await readyz(svc.url)).to.equal(200);

        await admin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
        await admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
        // The pool reports its lost connection; the probe finds the database closed to new ones.
        await waitUntil('not ready', async () => (await readyz(svc.url)) === 503, 10_000);
        const error = await notReady(svc.url);
        expect(error.details).to.deep.equal({ failing: ['store'] });
        expect(error.message).to.include('message store failing');
        const live = next<Envelope>(sub, 'EVENT');
        expect((await request(pub, 'NOTIFY', { room, message: 'during', store: true })).error.code).to.equal('STORE_FAILED');
        expect((await live).message).to.equal('during');

        await admin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
        await waitUntil('ready again', async () => (await readyz(svc.url)) === 200, 10_000);
        expect(await request(pub, 'NOTIFY', { room, message: 'after', store: true })).to.include({ ok: true });
      } finally {
        await svc.close();
        await admin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
      }
    });
  });
});

describe('message store: none configured, and bad flags', () => {
  afterEach(closeAll);

  it('store: true without a store is STORE_FAILED, the message delivered; a bad store flag is refused before anything goes out', async () => {
    const svc = await startService({ storage: { kind: 'off' } });
    try {
      const [pub, sub] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
      await request(sub, 'JOIN', { room: 'r' });
      const got = next<Envelope>(sub, 'EVENT');
      const reply = await request(pub, 'NOTIFY', { room: 'r', message: 1, store: true });
      expect(reply.error).to.deep.include({ code: 'STORE_FAILED', details: { offset: 1, recipients: 1 } });
      expect((await got).message).to.equal(1);
      expect((await request(pub, 'NOTIFY', { room: 'r', message: 2, store: 'yes' })).error.code).to.equal('INVALID_PAYLOAD');
      expect((await request(pub, 'NOTIFY', { room: 'r', message: 3 })).offset).to.equal(2);
      const res = await fetch(`${svc.url}/bus-message/r?store=maybe`, { method: 'POST', body: '1' });
      expect(res.status).to.equal(400);
    } finally {
      await svc.close();
    }
  });
});
