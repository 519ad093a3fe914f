/**
 * The publication drain of close() (lib/core/drain.ts), in process: while a stored publication is in
 * flight, close() keeps the connections open, refuses every new publication with SHUTTING_DOWN
 * (nothing delivered), answers the one in flight once committed, and only then closes.
 * The same through SIGTERM of the CLI with a stream of publishers: test/storage.test.ts.
 */
import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { openMessageStore } from '../lib/storage/index.js';
import type { MessageStore, StoredMessage } from '../lib/storage/types.js';
import { closeAll, connect, next, recorder, request } from './helpers/clients.js';
import { tempDir } from './helpers/process.js';
import { startService } from './helpers/service.js';

/** A real SQLite store whose saves wait until the test releases them. */
function heldStore(store: MessageStore): { store: MessageStore; saving: Promise<void>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let saving!: () => void;
  const started = new Promise<void>((r) => (saving = r));
  const held: MessageStore = {
    description: store.description,
    async save(row: StoredMessage) {
      saving();
      await released;
      return store.save(row);
    },
    savePending: (row) => store.savePending(row),
    place: (id, placement) => store.place(id, placement),
    page: (...args) => store.page(...args),
    prune: (ts) => store.prune(ts),
    probe: () => store.probe(),
    close: () => store.close(),
  };
  return { store: held, saving: started, release };
}

describe('shutdown: publications during the drain', () => {
  afterEach(closeAll);

  it('close() with a stored publication in flight: new publications refused with SHUTTING_DOWN and not delivered, the one in flight acked once committed, then the connections close', async () => {
    const dir = tempDir('ns-drain-');
    const real = (await openMessageStore({ kind: 'sqlite', dataDir: dir }))!;
    const { store, saving, release } = heldStore(real);
    const svc = await startService({}, { store });
    try {
      const [pub, sub, trig] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v2', svc.url, '/layout'), connect('v4', svc.url, '/trigger')]);
      await request(sub, 'JOIN', { room: 'r' });
      const events = recorder(sub, 'EVENT');
      const subGone = next(sub, 'disconnect');
      const inFlight = request(pub, 'NOTIFY', { room: 'r', message: 'stored', store: true });
      await saving;

      const closed = svc.close();
      // Refused before anything goes out, whatever the verb, stored or not.
      for (const message of [{ room: 'r', message: 'live' }, { room: 'r', message: 'to store', store: true }]) {
        const reply = await request(pub, 'NOTIFY', message);
        expect(reply.error?.code, JSON.stringify(reply)).to.equal('SHUTTING_DOWN');
      }
      expect((await request(trig, 'BROADCAST_STATUS', 'r', { s: 1 })).error.code).to.equal('SHUTTING_DOWN');
      const http = await fetch(`${svc.url}/bus-message/r`, { method: 'POST', body: '1' });
      expect(http.status).to.equal(503);
      expect(((await http.json()) as { error: { code: string } }).error.code).to.equal('SHUTTING_DOWN');
      expect((await fetch(`${svc.url}/readyz`)).status).to.equal(503);

      release();
      expect(await inFlight).to.deep.include({ ok: true, room: 'r', offset: 1, recipients: 1 });
      await subGone;
      await closed;
      // The subscriber got the accepted message only; it was stored.
      expect(events.received.map((e) => (e as { message: unknown }).message)).to.deep.equal(['stored']);
      const reopened = (await openMessageStore({ kind: 'sqlite', dataDir: dir }))!;
      try {
        expect((await reopened.page('/layout', 'r', 10)).map((m) => JSON.parse(m.payload).message)).to.deep.equal(['stored']);
      } finally {
        await reopened.close();
      }
    } finally {
      release();
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
