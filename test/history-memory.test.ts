/** MemoryHistory on its own: offsets, bounds by count and age (an injected clock), recovery answers, paging, forgetting idle rooms. */
import { expect } from 'chai';
import { MemoryHistory } from '../lib/history/memory.js';
import { attachMeta, entryOf, isBefore, newEpoch, payloadOf, type MessageMeta } from '../lib/history/types.js';

describe('MemoryHistory', () => {
  let clock = 1_000_000;
  const now = () => clock;
  const stores: MemoryHistory[] = [];
  const make = (size: number, ttlMs: number, inUse?: (ns: string, room: string) => boolean) => {
    const h = new MemoryHistory({ size, ttlMs, now, inUse });
    stores.push(h);
    return h;
  };
  afterEach(() => {
    for (const h of stores.splice(0)) h.close();
  });

  /** Appends n EVENTs to ns/room and returns their metas. */
  const publish = (h: MemoryHistory, n: number, room = 'r', ns = '/layout'): MessageMeta[] =>
    Array.from({ length: n }, (_, i) => {
      const args: unknown[] = [{ sender: 's', room, message: i }];
      const meta = h.append(ns, room, 'EVENT', args);
      attachMeta('EVENT', args, meta);
      return meta;
    });

  it('gives each room its own offsets from 1 and one epoch', () => {
    const h = make(10, 60_000);
    const a = publish(h, 3, 'a');
    const b = publish(h, 2, 'b');
    const other = publish(h, 1, 'a', '/bus');
    expect(a.map((m) => m.offset)).to.deep.equal([1, 2, 3]);
    expect(b.map((m) => m.offset)).to.deep.equal([1, 2]);
    expect(other[0]!.offset).to.equal(1);
    expect(new Set(a.map((m) => m.epoch)).size).to.equal(1);
    expect(a[0]!.epoch).to.not.equal(b[0]!.epoch);
    expect(a[0]!.ts).to.equal(clock);
  });

  it('keeps at most --history-size messages per room', () => {
    const h = make(5, 60_000);
    const metas = publish(h, 12);
    expect(h.page('/layout', 'r', 100).map((e) => e.meta.offset)).to.deep.equal([8, 9, 10, 11, 12]);
    expect(h.since('/layout', 'r', { offset: 7, epoch: metas[0]!.epoch })).to.deep.include({ recovered: true });
    expect(h.since('/layout', 'r', { offset: 6, epoch: metas[0]!.epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
  });

  it('drops messages older than --history-ttl (injected clock)', () => {
    const h = make(100, 1000);
    const [first] = publish(h, 3);
    clock += 600;
    publish(h, 2);
    clock += 500; // the first three are 1100 ms old now, the last two 500 ms
    expect(h.page('/layout', 'r', 100).map((e) => e.meta.offset)).to.deep.equal([4, 5]);
    const epoch = first!.epoch;
    expect(h.since('/layout', 'r', { offset: 3, epoch })).to.deep.include({ recovered: true });
    expect(h.since('/layout', 'r', { offset: 2, epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
    clock += 1000;
    expect(h.page('/layout', 'r', 100)).to.deep.equal([]);
    // Offsets go on: nothing was lost that a client could not be told about.
    expect(publish(h, 1)[0]).to.include({ offset: 6, epoch });
  });

  it('answers since exactly: the missed entries in order, nothing, or why not', () => {
    const h = make(10, 60_000);
    const metas = publish(h, 4);
    const epoch = metas[0]!.epoch;
    const r = h.since('/layout', 'r', { offset: 1, epoch });
    expect(r.recovered).to.equal(true);
    if (r.recovered) expect(r.entries.map((e) => e.meta.offset)).to.deep.equal([2, 3, 4]);
    expect(h.since('/layout', 'r', { offset: 4, epoch })).to.deep.equal({ recovered: true, entries: [], head: { offset: 4, epoch } });
    expect(h.since('/layout', 'r', { offset: 5, epoch })).to.deep.include({ recovered: false, reason: 'UNKNOWN_OFFSET' });
    expect(h.since('/layout', 'r', { offset: 1, epoch: 'another' })).to.deep.equal({ recovered: false, reason: 'EPOCH_CHANGED', head: { offset: 4, epoch } });
    // A room never published to: its epoch is new, so any position is from another life.
    expect(h.since('/layout', 'fresh', { offset: 0, epoch })).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
  });

  it('with history off (size 0) still numbers messages, and recovers only an empty gap', () => {
    const h = make(0, 60_000);
    const metas = publish(h, 3);
    expect(metas.map((m) => m.offset)).to.deep.equal([1, 2, 3]);
    expect(h.page('/layout', 'r', 10)).to.deep.equal([]);
    expect(h.since('/layout', 'r', { offset: 3, epoch: metas[0]!.epoch }).recovered).to.equal(true);
    expect(h.since('/layout', 'r', { offset: 2, epoch: metas[0]!.epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
  });

  it('pages backwards from a position', () => {
    const h = make(100, 60_000);
    const metas = publish(h, 25);
    const offsets = (before?: MessageMeta) => h.page('/layout', 'r', 10, before).map((e) => e.meta.offset);
    expect(offsets()).to.deep.equal([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(offsets(metas[15])).to.deep.equal([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(offsets(metas[5])).to.deep.equal([1, 2, 3, 4, 5]);
    expect(offsets(metas[0])).to.deep.equal([]);
    // Another, older epoch: nothing of this one is before it; a newer one: everything is.
    expect(h.page('/layout', 'r', 10, { offset: 5, epoch: '0' })).to.deep.equal([]);
    expect(h.page('/layout', 'r', 3, { offset: 1, epoch: '~' }).map((e) => e.meta.offset)).to.deep.equal([23, 24, 25]);
  });

  it('forgets a quiet room without messages or members; its next message starts a new epoch', () => {
    let members = true;
    const h = make(10, 1000, () => members);
    const [old] = publish(h, 2);
    clock += 2000;
    h.sweep();
    expect(h.size).to.equal(1); // still has members
    members = false;
    h.sweep();
    expect(h.size).to.equal(0);
    const [fresh] = publish(h, 1);
    expect(fresh!.offset).to.equal(1);
    expect(fresh!.epoch).to.not.equal(old!.epoch);
    expect(h.since('/layout', 'r', { offset: 2, epoch: old!.epoch })).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
  });

  it('epochs of one room sort by creation time; payloads round-trip through a store', () => {
    const a = newEpoch(1_000);
    const b = newEpoch(2_000_000_000_000);
    expect(a < b).to.equal(true);
    expect(isBefore({ epoch: a, offset: 99 }, { epoch: b, offset: 1 })).to.equal(true);
    const meta = { offset: 3, epoch: b, ts: 5 };
    const event = entryOf('EVENT', { sender: 's', room: 'r', message: { meta: 'not ours' } }, meta);
    expect(event.args).to.deep.equal([{ sender: 's', room: 'r', message: { meta: 'not ours' }, meta }]);
    expect(payloadOf(event)).to.deep.equal({ sender: 's', room: 'r', message: { meta: 'not ours' } });
    const status = entryOf('STATUS', 'ready', meta);
    expect(status.args).to.deep.equal(['ready', meta]);
    expect(payloadOf(status)).to.equal('ready');
  });
});
