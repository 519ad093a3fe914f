/**
 * The message-store contract (lib/storage/types.ts), written once and run against every store:
 * what the core relies on when it saves `store: true` messages, pages them for HISTORY, prunes
 * them for --retention and probes them for /readyz.
 */
import { expect } from 'chai';
import { isBefore, newEpoch } from '../../lib/history/types.js';
import type { MessageStore, PendingMessage, StoredMessage } from '../../lib/storage/types.js';

export interface StoreUnderTest {
  /** Opens (and migrates) a store on the backend's database; several may be open at once. */
  open(): Promise<MessageStore>;
  /** Makes every insert fail, or only those of rows whose payload is `payload`, until repaired. */
  breakInserts(payload?: string): Promise<void>;
  repairInserts(): Promise<void>;
  /** Deletes every stored message. */
  clear(): Promise<void>;
  /** Removes the database (directory, or PostgreSQL database). */
  cleanup(): Promise<void>;
}

const EPOCH = newEpoch(Date.UTC(2024, 0, 1));
const TS = Date.UTC(2024, 0, 1, 12);

/** A row of `room` in `/layout` at `offset`, its payload naming it. */
const row = (offset: number, overrides: Partial<StoredMessage> = {}): StoredMessage => ({
  ns: '/layout',
  room: 'r',
  epoch: EPOCH,
  offset,
  ts: TS + offset,
  event: 'EVENT',
  payload: JSON.stringify({ sender: 's', room: overrides.room ?? 'r', message: offset }),
  ...overrides,
});

const offsets = (rows: StoredMessage[]): number[] => rows.map((r) => r.offset);

/** A pending (store-first) message of `room` in `/sock`, its payload naming it. */
const pending = (id: string, overrides: Partial<PendingMessage> = {}): PendingMessage => ({
  id,
  ns: '/sock',
  room: 'r',
  ts: TS,
  event: 'SOCK_MESSAGE',
  payload: JSON.stringify({ action: 'note', topic: overrides.room ?? 'r', payload: id }),
  ...overrides,
});

/** The stored row a pending message becomes once placed at `offset`. */
const placed = (p: PendingMessage, offset: number, ts = TS + offset): StoredMessage => ({
  ns: p.ns,
  room: p.room,
  epoch: EPOCH,
  offset,
  ts,
  event: p.event,
  payload: p.payload,
});

export function describeStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`message store contract: ${name}`, () => {
    let backend: StoreUnderTest;
    let store: MessageStore;
    const opened: MessageStore[] = [];
    const open = async (): Promise<MessageStore> => {
      const s = await backend.open();
      opened.push(s);
      return s;
    };

    before(async () => {
      backend = await factory();
    });
    beforeEach(async () => {
      store = await open();
      await backend.clear();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    after(async () => {
      await backend?.cleanup();
    });

    it('save resolves once stored; page answers the rows exactly as saved, oldest first', async () => {
      expect(store.description).to.be.a('string').and.not.equal('');
      const rows = [row(1), row(2, { event: 'STATUS', payload: '{"state":"ready"}' }), row(3, { payload: 'null' })];
      for (const r of rows) await store.save(r);
      expect(await store.page('/layout', 'r', 10)).to.deep.equal(rows);
      expect(await store.page('/layout', 'empty', 10)).to.deep.equal([]);
    });

    it('page: the `limit` most recent rows before `before` (all rows when absent), oldest first; walking back visits each row once', async () => {
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.save(row(i + 1))));
      expect(offsets(await store.page('/layout', 'r', 3))).to.deep.equal([8, 9, 10]);
      expect(offsets(await store.page('/layout', 'r', 1))).to.deep.equal([10]);
      expect(offsets(await store.page('/layout', 'r', 100))).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(offsets(await store.page('/layout', 'r', 3, { epoch: EPOCH, offset: 8 }))).to.deep.equal([5, 6, 7]);
      expect(offsets(await store.page('/layout', 'r', 3, { epoch: EPOCH, offset: 3 }))).to.deep.equal([1, 2]);
      expect(await store.page('/layout', 'r', 3, { epoch: EPOCH, offset: 1 })).to.deep.equal([]);
      // A position that was never stored bounds the page all the same.
      expect(offsets(await store.page('/layout', 'r', 2, { epoch: EPOCH, offset: 1000 }))).to.deep.equal([9, 10]);
      const seen: number[] = [];
      for (let page = await store.page('/layout', 'r', 4); page.length > 0; page = await store.page('/layout', 'r', 4, page[0]!)) seen.unshift(...offsets(page));
      expect(seen).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('orders by epoch as byte strings (as isBefore does), then by offset as a number; before crosses epochs', async () => {
      const [e1, e2, e3] = [newEpoch(Date.UTC(2023, 0, 1)), newEpoch(Date.UTC(2024, 0, 1)), newEpoch(Date.UTC(2025, 0, 1))];
      // Byte order, not a locale's: 'B' (0x42) before 'a' (0x61), '-' (0x2d) before '0'.
      const odd = ['0zzzzzzzz-B', '0zzzzzzzz-a', '0zzzzzzzz0'];
      const positions = [
        { epoch: e1, offset: 2 },
        { epoch: e1, offset: 10 },
        { epoch: e1, offset: 100 },
        { epoch: e2, offset: 1 },
        { epoch: e3, offset: 9 },
        ...odd.map((epoch) => ({ epoch, offset: 1 })),
      ].sort((a, b) => (isBefore(a, b) ? -1 : isBefore(b, a) ? 1 : 0));
      // Saved in another order than they are read.
      await Promise.all([...positions].reverse().map((p) => store.save(row(p.offset, p))));
      const pos = (rows: StoredMessage[]) => rows.map((r) => ({ epoch: r.epoch, offset: r.offset }));
      expect(pos(await store.page('/layout', 'r', 100))).to.deep.equal(positions);
      expect(pos(await store.page('/layout', 'r', 100, { epoch: e2, offset: 1 }))).to.deep.equal(positions.slice(0, 3));
      expect(pos(await store.page('/layout', 'r', 2, { epoch: e2, offset: 1 }))).to.deep.equal(positions.slice(1, 3));
      // Before a position of an epoch newer than any: everything; of one older than any: nothing.
      expect(pos(await store.page('/layout', 'r', 100, { epoch: 'zzzzzzzzzz', offset: 0 }))).to.deep.equal(positions);
      expect(await store.page('/layout', 'r', 100, { epoch: '0000000000-0', offset: 50 })).to.deep.equal([]);
    });

    it('keeps namespaces and rooms apart', async () => {
      const rooms = ['r', 'R', 'r ', 'ro', 'r:x', '__proto__'];
      await Promise.all([
        ...rooms.map((room, i) => store.save(row(i + 1, { room }))),
        store.save(row(1, { ns: '/bus' })),
        store.save(row(2, { ns: '/trigger' })),
      ]);
      for (const [i, room] of rooms.entries()) expect(offsets(await store.page('/layout', room, 10)), room).to.deep.equal([i + 1]);
      expect(offsets(await store.page('/bus', 'r', 10))).to.deep.equal([1]);
      expect(offsets(await store.page('/trigger', 'r', 10))).to.deep.equal([2]);
      expect(await store.page('/lobby', 'r', 10)).to.deep.equal([]);
    });

    it('unicode, large and odd payloads, room names and events round-trip exactly', async () => {
      const rows = [
        row(1, { room: 'salle ✓ 🚀 ひらがな', payload: JSON.stringify({ text: 'déjà vu ✓ 🚀 \u{1f600} 漢字 ‮rtl' }) }),
        // JSON.stringify escapes what a text column might not take (NUL, a lone surrogate).
        row(2, { room: 'salle ✓ 🚀 ひらがな', payload: JSON.stringify({ nul: '\u0000', lone: '\ud800', tab: '\t', quote: `'"\\` }) }),
        row(3, { room: 'salle ✓ 🚀 ひらがな', event: 'UPDATES', payload: JSON.stringify('x'.repeat(1 << 20)) }),
      ];
      await Promise.all(rows.map((r) => store.save(r)));
      const got = await store.page('/layout', 'salle ✓ 🚀 ひらがな', 10);
      expect(got).to.deep.equal(rows);
      expect(JSON.parse(got[1]!.payload)).to.deep.equal({ nul: '\u0000', lone: '\ud800', tab: '\t', quote: `'"\\` });
    });

    it('offsets and timestamps beyond 32 bits come back as the same numbers', async () => {
      const big = row(2 ** 40, { ts: 2 ** 50 + 1 });
      await store.save(big);
      const [got] = await store.page('/layout', 'r', 1);
      expect(got).to.deep.equal(big);
      expect(got!.offset).to.be.a('number');
      expect(got!.ts).to.be.a('number');
    });

    it('concurrent saves (more than one batch) all resolve, each row stored once, read back in order', async () => {
      const n = 1200;
      await Promise.all(Array.from({ length: n }, (_, i) => store.save(row(i + 1, { room: i % 2 ? 'odd' : 'even' }))));
      const odd = await store.page('/layout', 'odd', n);
      const even = await store.page('/layout', 'even', n);
      expect(offsets(odd)).to.deep.equal(Array.from({ length: n / 2 }, (_, i) => 2 * i + 2));
      expect(offsets(even)).to.deep.equal(Array.from({ length: n / 2 }, (_, i) => 2 * i + 1));
    });

    it('saving a position already stored resolves and keeps the row first saved (a retried save is not an error)', async () => {
      await store.save(row(1));
      await store.save(row(1, { payload: '"second"' }));
      await Promise.all([store.save(row(2)), store.save(row(2, { payload: '"again"' })), store.save(row(3))]);
      const got = await store.page('/layout', 'r', 10);
      expect(offsets(got)).to.deep.equal([1, 2, 3]);
      expect(got[0]).to.deep.equal(row(1));
      expect(got[1]).to.deep.equal(row(2));
    });

    it('a row that fails does not fail the rows saved with it', async () => {
      await backend.breakInserts('"poison"');
      try {
        const results = await Promise.allSettled([store.save(row(1)), store.save(row(2, { payload: '"poison"' })), store.save(row(3))]);
        expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
        expect(String((results[1] as PromiseRejectedResult).reason)).to.include('injected failure');
        expect(offsets(await store.page('/layout', 'r', 10))).to.deep.equal([1, 3]);
      } finally {
        await backend.repairInserts();
      }
      await store.save(row(2, { payload: '"poison"' }));
      expect(offsets(await store.page('/layout', 'r', 10))).to.deep.equal([1, 2, 3]);
    });

    it('store-first: a pending message is invisible until placed; placed, it reads back at its position, in order with saved rows', async () => {
      const [a, b, c] = [pending('a'), pending('b', { payload: JSON.stringify({ text: 'déjà ✓ 🚀', nul: '\u0000' }) }), pending('c', { payload: JSON.stringify('x'.repeat(1 << 20)) })];
      await Promise.all([a, b, c].map((p) => store.savePending(p)));
      expect(await store.page('/sock', 'r', 10)).to.deep.equal([]);
      // Placed out of order and among ordinary saves: read back by position, exactly as written.
      await store.place(c.id, { epoch: EPOCH, offset: 4, ts: TS + 4 });
      await store.save({ ...placed(a, 2), payload: '"saved"' });
      expect(offsets(await store.page('/sock', 'r', 10))).to.deep.equal([2, 4]);
      await Promise.all([store.place(a.id, { epoch: EPOCH, offset: 1, ts: TS + 1 }), store.place(b.id, { epoch: EPOCH, offset: 3, ts: TS + 3 })]);
      const got = await store.page('/sock', 'r', 10);
      expect(got).to.deep.equal([placed(a, 1), { ...placed(a, 2), payload: '"saved"' }, placed(b, 3), placed(c, 4)]);
      expect(offsets(await store.page('/sock', 'r', 2, { epoch: EPOCH, offset: 4 }))).to.deep.equal([2, 3]);
    });

    it('store-first: placing what is not pending rejects (never saved, placed already) and changes nothing; a retried pending save resolves', async () => {
      let refused: unknown;
      await store.place('never', { epoch: EPOCH, offset: 1, ts: TS }).catch((err: unknown) => (refused = err));
      expect(refused).to.be.instanceOf(Error);
      const a = pending('a');
      await store.savePending(a);
      await store.savePending(a);
      await store.place(a.id, { epoch: EPOCH, offset: 1, ts: TS + 1 });
      refused = undefined;
      await store.place(a.id, { epoch: EPOCH, offset: 2, ts: TS + 2 }).catch((err: unknown) => (refused = err));
      expect(refused).to.be.instanceOf(Error);
      expect(await store.page('/sock', 'r', 10)).to.deep.equal([placed(a, 1)]);
      // One bad placement in a batch does not fail the others.
      const [b, c] = [pending('b'), pending('c')];
      await Promise.all([store.savePending(b), store.savePending(c)]);
      const results = await Promise.allSettled([
        store.place(b.id, { epoch: EPOCH, offset: 3, ts: TS + 3 }),
        store.place('missing', { epoch: EPOCH, offset: 4, ts: TS + 4 }),
        store.place(c.id, { epoch: EPOCH, offset: 5, ts: TS + 5 }),
      ]);
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(offsets(await store.page('/sock', 'r', 10))).to.deep.equal([1, 3, 5]);
    });

    it('store-first: a pending save fails while inserts fail (nothing left behind) and works once repaired; another store places what one saved', async () => {
      await backend.breakInserts();
      try {
        let failure: unknown;
        await store.savePending(pending('a')).catch((err: unknown) => (failure = err));
        expect(String(failure)).to.include('injected failure');
      } finally {
        await backend.repairInserts();
      }
      let refused: unknown;
      await store.place('a', { epoch: EPOCH, offset: 1, ts: TS }).catch((err: unknown) => (refused = err));
      expect(refused, 'the failed pending save left no row').to.be.instanceOf(Error);
      await store.savePending(pending('a'));
      const other = await open();
      await other.place('a', { epoch: EPOCH, offset: 1, ts: TS + 1 });
      expect(await store.page('/sock', 'r', 10)).to.deep.equal([placed(pending('a'), 1)]);
    });

    it('prune deletes pending messages written before ts (never placed) with the stored ones, and counts them', async () => {
      await Promise.all([store.savePending(pending('old', { ts: 1000 })), store.savePending(pending('new', { ts: 3000 })), store.save(row(1, { ts: 1500 }))]);
      expect(await store.prune(2000)).to.equal(2);
      let refused: unknown;
      await store.place('old', { epoch: EPOCH, offset: 1, ts: TS }).catch((err: unknown) => (refused = err));
      expect(refused, 'pruned').to.be.instanceOf(Error);
      await store.place('new', { epoch: EPOCH, offset: 2, ts: 4000 });
      expect(offsets(await store.page('/sock', 'r', 10))).to.deep.equal([2]);
      expect(await store.prune(3500)).to.equal(0);
      expect(await store.prune(4001)).to.equal(1);
    });

    it('prune deletes the rows published before ts (not at it), in every room, and answers how many went', async () => {
      expect(await store.prune(Date.now())).to.equal(0);
      await Promise.all([
        store.save(row(1, { ts: 1000 })),
        store.save(row(2, { ts: 1999 })),
        store.save(row(3, { ts: 2000 })),
        store.save(row(4, { ts: 3000 })),
        store.save(row(1, { room: 'other', ts: 1500 })),
        store.save(row(1, { ns: '/bus', ts: 2500 })),
      ]);
      expect(await store.prune(2000)).to.equal(3);
      expect(offsets(await store.page('/layout', 'r', 10))).to.deep.equal([3, 4]);
      expect(await store.page('/layout', 'other', 10)).to.deep.equal([]);
      expect(await store.prune(2000)).to.equal(0);
      expect(await store.prune(2501)).to.equal(2);
      expect(offsets(await store.page('/layout', 'r', 10))).to.deep.equal([4]);
    });

    it('probe resolves while the store can store, leaving nothing behind; rejects while inserts fail; resolves once repaired', async () => {
      await store.probe();
      await store.probe();
      // The probe row (ns '', ts 0) is not left for readers nor for prune.
      expect(await store.page('', '', 10)).to.deep.equal([]);
      expect(await store.prune(1)).to.equal(0);
      await backend.breakInserts();
      try {
        let failure: unknown;
        await store.probe().catch((err: unknown) => (failure = err));
        expect(String(failure)).to.include('injected failure');
        failure = undefined;
        await store.save(row(1)).catch((err: unknown) => (failure = err));
        expect(String(failure)).to.include('injected failure');
      } finally {
        await backend.repairInserts();
      }
      await store.probe();
      await store.save(row(1));
      expect(offsets(await store.page('/layout', 'r', 10))).to.deep.equal([1]);
    });

    it('what one store saved, another opened on the same database reads; saves made before close() are committed', async () => {
      const other = await open();
      await store.save(row(1));
      expect(offsets(await other.page('/layout', 'r', 10))).to.deep.equal([1]);
      // Not awaited before close(): close() waits for them.
      const pending = [2, 3, 4].map((n) => store.save(row(n)));
      await store.close();
      await Promise.all(pending);
      expect(offsets(await other.page('/layout', 'r', 10))).to.deep.equal([1, 2, 3, 4]);
    });

    it('close() is idempotent; a closed store refuses saves', async () => {
      await store.save(row(1));
      await Promise.all([store.close(), store.close()]);
      await store.close();
      let refused: unknown;
      await store.save(row(2)).catch((err: unknown) => (refused = err));
      expect(refused).to.be.instanceOf(Error);
      const reopened = await open();
      expect(offsets(await reopened.page('/layout', 'r', 10))).to.deep.equal([1]);
    });
  });
}
