/** The byte budgets of the in-memory history: per room and for every room together, oldest first. */
import { expect } from 'chai';
import { MemoryHistory } from '../lib/history/memory.js';
import { approxBytes } from '../lib/core/message-size.js';

const KIB = 1024;
const message = (n: number) => [{ sender: 's', room: 'r', message: 'x'.repeat(n) }];

describe('history byte budgets (memory)', () => {
  it('keeps a room within --history-max-bytes, oldest first; a larger message is not kept', () => {
    const h = new MemoryHistory({ size: 100, ttlMs: 60_000, maxBytes: 10 * KIB });
    for (let i = 0; i < 10; i++) h.append('/layout', 'a', 'EVENT', message(3 * KIB));
    expect(h.retainedBytes).to.be.at.most(10 * KIB);
    const kept = h.page('/layout', 'a', 100);
    expect(kept.map((e) => e.meta.offset)).to.deep.equal([8, 9, 10]);
    expect(h.since('/layout', 'a', { offset: 7, epoch: kept[0]!.meta.epoch })).to.include({ recovered: true });
    expect(h.since('/layout', 'a', { offset: 6, epoch: kept[0]!.meta.epoch })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
    h.append('/layout', 'a', 'EVENT', message(11 * KIB));
    expect(h.page('/layout', 'a', 100)).to.deep.equal([]);
    expect(h.retainedBytes).to.equal(0);
    h.close();
  });

  it('keeps every room together within --history-memory, dropping the oldest message of any room', () => {
    const one = approxBytes(message(KIB));
    const h = new MemoryHistory({ size: 100, ttlMs: 60_000, memory: 10 * one });
    for (let i = 0; i < 30; i++) h.append('/layout', `room-${i % 3}`, 'EVENT', message(KIB));
    expect(h.retainedBytes).to.equal(10 * one);
    // The 10 newest of 30, published round-robin: the last 3-4 of each room.
    const offsets = [0, 1, 2].map((r) => h.page('/layout', `room-${r}`, 100).map((e) => e.meta.offset));
    expect(offsets.flat().length).to.equal(10);
    expect(offsets).to.deep.equal([[8, 9, 10], [8, 9, 10], [7, 8, 9, 10]]);
    h.close();
  });

  it('does not let bookkeeping grow when rooms drop their own messages', () => {
    const h = new MemoryHistory({ size: 2, ttlMs: 60_000, memory: 1024 * KIB });
    for (let i = 0; i < 50_000; i++) h.append('/layout', 'busy', 'EVENT', message(10));
    const fifo = (h as unknown as { fifoRooms: unknown[]; head: number });
    expect(fifo.fifoRooms.length - fifo.head).to.be.below(3000);
    expect(h.page('/layout', 'busy', 10).length).to.equal(2);
    h.close();
  });
});
