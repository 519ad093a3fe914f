/**
 * The recent-history contract (lib/history/types.ts HistoryStore), written once and run against
 * every store, through the path the core takes with each: a single node appends, a cluster node
 * publishes (offset, history and hand-over to every node in one step) and completes a resume
 * against what it has delivered. What they share is checked here: offsets and epochs, since,
 * page, the count, age and per-room byte bounds, and a lost history.
 */
import { expect } from 'chai';
import { isBefore, type HistoryEntry, type MessageMeta, type Position, type Recovery } from '../../lib/history/types.js';

export interface HistoryOptions {
  /** Messages kept per room (--history-size). */
  size: number;
  /** Age of the oldest kept message, ms (--history-ttl). */
  ttlMs: number;
  /** Bytes kept per room (--history-max-bytes); absent: no bound. */
  maxBytes?: number;
  now: () => number;
}

export interface HistoryUnderTest {
  /** Gives the message its meta and keeps it, as the core's publish path does; `args` get their meta. */
  publish(ns: string, room: string, event: string, args: unknown[]): Promise<MessageMeta>;
  /** The answer to a JOIN with `since`, as the core completes it. */
  since(ns: string, room: string, since: Position): Promise<Recovery>;
  page(ns: string, room: string, limit: number, before?: Position): Promise<HistoryEntry[]>;
  /** Every room's history is lost (memory: the process restarts; Redis: its keys are gone). */
  loseHistory(): Promise<void>;
  close(): Promise<void>;
}

export interface HistoryBackend {
  open(options: HistoryOptions): Promise<HistoryUnderTest>;
  cleanup(): Promise<void>;
}

const KIB = 1024;
const offsets = (entries: HistoryEntry[]): number[] => entries.map((e) => e.meta.offset);
const replayed = (r: Recovery): number[] | string => (r.recovered ? offsets(r.entries) : r.reason);

export function describeHistoryContract(name: string, factory: () => Promise<HistoryBackend>): void {
  describe(`history contract: ${name}`, () => {
    let backend: HistoryBackend;
    const opened: HistoryUnderTest[] = [];
    let clock: number;
    const now = (): number => clock;
    const open = async (options: Omit<HistoryOptions, 'now'>): Promise<HistoryUnderTest> => {
      const h = await backend.open({ ...options, now });
      opened.push(h);
      return h;
    };
    /** n EVENTs to ns/room, one after the other; their metas. */
    const publish = async (h: HistoryUnderTest, n: number, room = 'r', ns = '/layout', text = ''): Promise<MessageMeta[]> => {
      const metas: MessageMeta[] = [];
      for (let i = 0; i < n; i++) metas.push(await h.publish(ns, room, 'EVENT', [{ sender: 's', room, message: `${text}${i}` }]));
      return metas;
    };

    before(async () => {
      backend = await factory();
    });
    beforeEach(() => {
      clock = Date.now();
    });
    afterEach(async () => {
      for (const h of opened.splice(0)) await h.close();
    });
    after(async () => {
      await backend?.cleanup();
    });

    it('offsets: each room counts from 1 with no hole, under one epoch; rooms and namespaces count apart', async () => {
      const h = await open({ size: 10, ttlMs: 60_000 });
      const a = await publish(h, 3, 'a');
      const b = await publish(h, 2, 'b');
      const other = await publish(h, 1, 'a', '/bus');
      expect(a.map((m) => m.offset)).to.deep.equal([1, 2, 3]);
      expect(b.map((m) => m.offset)).to.deep.equal([1, 2]);
      expect(other.map((m) => m.offset)).to.deep.equal([1]);
      expect(new Set(a.map((m) => m.epoch)).size).to.equal(1);
      expect(a[0]!.epoch).to.not.equal(b[0]!.epoch);
      expect(a.map((m) => m.ts)).to.deep.equal([clock, clock, clock]);
      expect(offsets(await h.page('/layout', 'a', 10))).to.deep.equal([1, 2, 3]);
      expect(offsets(await h.page('/bus', 'a', 10))).to.deep.equal([1]);
      expect(await h.page('/bus', 'b', 10)).to.deep.equal([]);
    });

    it('concurrent publications to one room: offsets 1..n, each once, kept in that order', async () => {
      const h = await open({ size: 100, ttlMs: 60_000 });
      const metas = await Promise.all(Array.from({ length: 40 }, (_, i) => h.publish('/layout', 'r', 'EVENT', [{ sender: 's', room: 'r', message: i }])));
      expect(metas.map((m) => m.offset).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
      const page = await h.page('/layout', 'r', 100);
      expect(offsets(page)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
      // Each message is kept under the offset it was given.
      for (const entry of page) expect(metas[(entry.args[0] as { message: number }).message]!.offset).to.equal(entry.meta.offset);
    });

    it('page: entries exactly as they went out (meta included), oldest first; limit and before bound it, across any epoch', async () => {
      const h = await open({ size: 100, ttlMs: 60_000 });
      const sent: HistoryEntry[] = [];
      const out = async (event: string, args: unknown[]) => sent.push({ event, args, meta: await h.publish('/trigger', 'salle ✓', event, args) });
      await out('EVENT', [{ sender: 's', room: 'salle ✓', message: { text: 'déjà ✓ 🚀 漢字', meta: 'not ours', nul: '\u0000' } }]);
      await out('STATUS', [{ state: 'ready' }]);
      await out('UPDATES', [null]);
      await out('EVENTS', [['a', 1, true]]);
      for (let i = 0; i < 6; i++) await out('MESSAGE', [{ from: 'x', message: i }]);
      // The meta went into the args: in a `meta` field, or as a trailing argument.
      expect((sent[0]!.args[0] as { meta: MessageMeta }).meta).to.deep.equal(sent[0]!.meta);
      expect(sent[1]!.args).to.deep.equal([{ state: 'ready' }, sent[1]!.meta]);
      const epoch = sent[0]!.meta.epoch;
      expect(await h.page('/trigger', 'salle ✓', 100)).to.deep.equal(sent);
      expect(await h.page('/trigger', 'salle ✓', 3)).to.deep.equal(sent.slice(7));
      expect(await h.page('/trigger', 'salle ✓', 3, { epoch, offset: 8 })).to.deep.equal(sent.slice(4, 7));
      expect(await h.page('/trigger', 'salle ✓', 100, { epoch, offset: 3 })).to.deep.equal(sent.slice(0, 2));
      expect(await h.page('/trigger', 'salle ✓', 100, { epoch, offset: 1 })).to.deep.equal([]);
      expect(await h.page('/trigger', 'salle ✓', 0)).to.deep.equal([]);
      // A position of an older epoch: nothing of this one is before it; of a newer one: everything is.
      expect(await h.page('/trigger', 'salle ✓', 100, { epoch: '0', offset: 5 })).to.deep.equal([]);
      expect(await h.page('/trigger', 'salle ✓', 2, { epoch: '~', offset: 1 })).to.deep.equal(sent.slice(8));
      expect(await h.page('/trigger', 'never', 10)).to.deep.equal([]);
    });

    it('since: exactly the entries after the position, oldest first; none at the head; UNKNOWN_OFFSET beyond it; EPOCH_CHANGED for another epoch', async () => {
      const h = await open({ size: 10, ttlMs: 60_000 });
      const metas = await publish(h, 4);
      const epoch = metas[0]!.epoch;
      const head = { offset: 4, epoch };
      const r = await h.since('/layout', 'r', { offset: 1, epoch });
      expect(r).to.deep.include({ recovered: true, head });
      expect(replayed(r)).to.deep.equal([2, 3, 4]);
      expect(r.recovered && r.entries).to.deep.equal((await h.page('/layout', 'r', 10)).slice(1));
      expect(replayed(await h.since('/layout', 'r', { offset: 0, epoch }))).to.deep.equal([1, 2, 3, 4]);
      expect(await h.since('/layout', 'r', { offset: 4, epoch })).to.deep.equal({ recovered: true, entries: [], head });
      expect(await h.since('/layout', 'r', { offset: 5, epoch })).to.deep.equal({ recovered: false, reason: 'UNKNOWN_OFFSET', head });
      expect(await h.since('/layout', 'r', { offset: 1, epoch: 'another' })).to.deep.equal({ recovered: false, reason: 'EPOCH_CHANGED', head });
      // Another room, or the same room in another namespace, is another epoch.
      expect(await h.since('/bus', 'r', { offset: 1, epoch })).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
      // A room never published to: a new epoch at offset 0, which the next message keeps.
      const fresh = await h.since('/layout', 'fresh', { offset: 0, epoch });
      expect(fresh).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
      expect(fresh.head.offset).to.equal(0);
      expect(fresh.head.epoch).to.be.a('string').and.not.equal(epoch);
      const [first] = await publish(h, 1, 'fresh');
      expect(first).to.include({ offset: 1, epoch: fresh.head.epoch });
      expect(replayed(await h.since('/layout', 'fresh', { offset: 0, epoch: fresh.head.epoch }))).to.deep.equal([1]);
    });

    it('size: at most that many entries per room, oldest dropped first; since before them is TOO_OLD', async () => {
      const h = await open({ size: 5, ttlMs: 60_000 });
      const metas = await publish(h, 12);
      await publish(h, 2, 'other');
      const epoch = metas[0]!.epoch;
      expect(offsets(await h.page('/layout', 'r', 100))).to.deep.equal([8, 9, 10, 11, 12]);
      expect(replayed(await h.since('/layout', 'r', { offset: 7, epoch }))).to.deep.equal([8, 9, 10, 11, 12]);
      expect(await h.since('/layout', 'r', { offset: 6, epoch })).to.deep.equal({ recovered: false, reason: 'TOO_OLD', head: { offset: 12, epoch } });
      expect(offsets(await h.page('/layout', 'other', 100))).to.deep.equal([1, 2]);
    });

    it('ttl: entries older than it are neither paged nor replayed (TOO_OLD); offsets go on in the same epoch', async () => {
      const h = await open({ size: 100, ttlMs: 60_000 });
      const [first] = await publish(h, 3);
      clock += 30_000;
      await publish(h, 2);
      clock += 30_001; // the first three are older than the TTL now, the last two are not
      const epoch = first!.epoch;
      expect(offsets(await h.page('/layout', 'r', 100))).to.deep.equal([4, 5]);
      expect(replayed(await h.since('/layout', 'r', { offset: 3, epoch }))).to.deep.equal([4, 5]);
      expect(await h.since('/layout', 'r', { offset: 2, epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
      clock += 30_000;
      expect(await h.page('/layout', 'r', 100)).to.deep.equal([]);
      expect(await h.since('/layout', 'r', { offset: 4, epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
      expect(await h.since('/layout', 'r', { offset: 5, epoch })).to.deep.include({ recovered: true, entries: [] });
      expect((await publish(h, 1))[0]).to.include({ offset: 6, epoch });
    });

    it('maxBytes: a room keeps within its byte budget, oldest dropped first; a larger message is not kept, nor the ones before it', async () => {
      const h = await open({ size: 100, ttlMs: 60_000, maxBytes: 10 * KIB });
      const text = 'x'.repeat(3 * KIB);
      const [first] = await publish(h, 10, 'r', '/layout', text);
      await publish(h, 2, 'other', '/layout', text);
      const epoch = first!.epoch;
      expect(offsets(await h.page('/layout', 'r', 100))).to.deep.equal([8, 9, 10]);
      expect(replayed(await h.since('/layout', 'r', { offset: 7, epoch }))).to.deep.equal([8, 9, 10]);
      expect(await h.since('/layout', 'r', { offset: 6, epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
      await h.publish('/layout', 'r', 'EVENT', [{ sender: 's', room: 'r', message: 'y'.repeat(11 * KIB) }]);
      expect(await h.page('/layout', 'r', 100)).to.deep.equal([]);
      expect(await h.since('/layout', 'r', { offset: 10, epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
      // Other rooms have budgets of their own; the room fills again.
      expect(offsets(await h.page('/layout', 'other', 100))).to.deep.equal([1, 2]);
      await publish(h, 1, 'r', '/layout', text);
      expect(offsets(await h.page('/layout', 'r', 100))).to.deep.equal([12]);
    });

    it('history off (size 0): offsets still; nothing paged; since recovers only at the head', async () => {
      const h = await open({ size: 0, ttlMs: 60_000 });
      const metas = await publish(h, 3);
      const epoch = metas[0]!.epoch;
      expect(metas.map((m) => m.offset)).to.deep.equal([1, 2, 3]);
      expect(await h.page('/layout', 'r', 100)).to.deep.equal([]);
      expect(await h.since('/layout', 'r', { offset: 3, epoch })).to.deep.equal({ recovered: true, entries: [], head: { offset: 3, epoch } });
      expect(await h.since('/layout', 'r', { offset: 2, epoch })).to.deep.equal({ recovered: false, reason: 'TOO_OLD', head: { offset: 3, epoch } });
    });

    it('a lost history: the next message starts a new epoch, later than the old one; old positions are EPOCH_CHANGED', async () => {
      const h = await open({ size: 10, ttlMs: 60_000 });
      const old = await publish(h, 3);
      await h.loseHistory();
      clock += 1000;
      const [fresh] = await publish(h, 1);
      expect(fresh!.offset).to.equal(1);
      expect(fresh!.epoch).to.not.equal(old[0]!.epoch);
      expect(isBefore(old[2]!, fresh!)).to.equal(true);
      expect(await h.since('/layout', 'r', old[2]!)).to.deep.equal({ recovered: false, reason: 'EPOCH_CHANGED', head: { offset: 1, epoch: fresh!.epoch } });
      expect(offsets(await h.page('/layout', 'r', 10))).to.deep.equal([1]);
      // Nothing of the new epoch is before a position of the old one.
      expect(await h.page('/layout', 'r', 10, old[2]!)).to.deep.equal([]);
    });

    it('close() may be called twice', async () => {
      const h = await open({ size: 10, ttlMs: 60_000 });
      await publish(h, 1);
      await h.close();
      await h.close();
    });
  });
}
