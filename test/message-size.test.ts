/**
 * approxBytes: the byte estimate behind the history and recovery budgets. Exact on small values
 * (the rule is documented), safe on any depth, and a large payload measured by the history is not
 * walked again by the recovery buffer in the same publication.
 */
import { expect } from 'chai';
import { approxBytes } from '../lib/core/message-size.js';

describe('approxBytes (message-size)', () => {
  it('counts strings by length + 2, numbers 8, null 4, booleans 5, punctuation per value', () => {
    const payload = { a: 1, b: 'xy', c: [1, null, true] };
    // {}: 2; a: 5 + 8; b: 5 + 4; c: 5 + [2 + 3] + 8 + 4 + 5
    expect(approxBytes(payload)).to.equal(51);
    // an argument list: [] 2 + 2 items, "EVENT" 7, the payload 51
    expect(approxBytes(['EVENT', payload])).to.equal(62);
    expect(approxBytes(new Uint8Array(10))).to.equal(10);
  });

  it('measures a value nested 100 000 deep without recursion', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(approxBytes(deep)).to.equal(100_000 * 3 + 8);
  });

  it('walks a large payload once when it is measured again in another argument list', () => {
    let reads = 0;
    const big = new Proxy(Array.from({ length: 50_000 }, (_, i) => i), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    const payload = { sender: 's', room: 'r', message: big };
    const first = approxBytes(['EVENT', payload]);
    expect(reads).to.equal(50_000);
    // The recovery buffer's list: the same payload, plus the offset.
    expect(approxBytes(['EVENT', payload, 'offset-1'])).to.equal(first + 1 + 10);
    expect(reads).to.equal(50_000);
  });
});
