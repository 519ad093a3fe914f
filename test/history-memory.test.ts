/**
 * MemoryHistory on its own, beyond the history contract (test/contracts/history.contract.ts, which
 * covers offsets, since, page and the bounds): forgetting idle rooms, and the epoch and payload helpers.
 */
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
