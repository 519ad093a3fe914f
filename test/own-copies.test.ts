/**
 * lib/core/own-copies.ts on its own: a publisher's own copy is written at this node's delivery of
 * its message (before or after the broker answered), per room in publication order; a failed
 * publication's expectation is dropped; a delivery that never came is made up for at the next one.
 */
import { expect } from 'chai';
import { OwnCopies } from '../lib/core/own-copies.js';
import type { Envelope } from '../lib/core/types.js';

const EPOCH = '0000000001-abc';
const envelope = (room: string, offset: number, ns = '/chat'): Envelope => ({ ns, room, event: 'MESSAGE_SENT', args: [{ n: offset }], meta: { offset, epoch: EPOCH, ts: 1 } });

describe('own copies of a publisher\'s messages', () => {
  it('written at the delivery that excepts the publisher, per room in publication order, once', () => {
    const copies = new OwnCopies();
    const written: string[] = [];
    const write = (tag: string) => (e: Envelope) => written.push(`${tag}@${e.room}:${e.meta!.offset}`);
    copies.expect('/chat', 's1', 'r', write('a'));
    copies.expect('/chat', 's1', 'q', write('b'));
    copies.expect('/chat', 's1', 'r', write('c'));
    copies.delivered(envelope('r', 1), 'other'); // someone else's
    copies.delivered(envelope('r', 1, '/lobby'), 's1'); // another namespace
    copies.delivered({ ...envelope('r', 2), meta: undefined }, 's1'); // a notice
    expect(written).to.deep.equal([]);
    copies.delivered(envelope('r', 5), 's1');
    copies.delivered(envelope('q', 1), 's1');
    copies.delivered(envelope('r', 6), 's1');
    copies.delivered(envelope('r', 7), 's1'); // nothing expected any more
    expect(written).to.deep.equal(['a@r:5', 'b@q:1', 'c@r:6']);
  });

  it('a cancelled publication is no longer expected; a forgotten publisher none of its', () => {
    const copies = new OwnCopies();
    const written: number[] = [];
    const failed = copies.expect('/chat', 's1', 'r', () => written.push(-1));
    copies.expect('/chat', 's1', 'r', (e) => written.push(e.meta!.offset));
    copies.cancel('/chat', 's1', failed);
    copies.delivered(envelope('r', 3), 's1');
    copies.expect('/chat', 's2', 'r', () => written.push(-2));
    copies.forget('/chat', 's2');
    copies.delivered(envelope('r', 4), 's2');
    expect(written).to.deep.equal([3]);
  });

  it('a delivery that never came here: that copy from what was published, before the next one', () => {
    const copies = new OwnCopies();
    const written: number[] = [];
    const lost = copies.expect('/chat', 's1', 'r', (e) => written.push(e.meta!.offset));
    copies.expect('/chat', 's1', 'r', (e) => written.push(e.meta!.offset));
    copies.published(lost, envelope('r', 1));
    copies.delivered(envelope('r', 2), 's1');
    expect(written).to.deep.equal([1, 2]);
  });
});
