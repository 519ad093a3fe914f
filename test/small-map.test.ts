import { expect } from 'chai';
import { SmallMap } from '../lib/transport/index.js';

/** Runs the same operations on a SmallMap and a Map and compares everything readable after each. */
function same(ops: [op: 'set' | 'delete' | 'clear', key?: string, value?: number][]): void {
  const small = new SmallMap<string, number>();
  const map = new Map<string, number>();
  for (const [op, key, value] of ops) {
    if (op === 'set') {
      expect(small.set(key!, value!)).to.equal(small);
      map.set(key!, value!);
    } else if (op === 'delete') {
      expect(small.delete(key!)).to.equal(map.delete(key!));
    } else {
      small.clear();
      map.clear();
    }
    expect(small.size).to.equal(map.size);
    expect([...small.entries()]).to.deep.equal([...map.entries()]);
    expect([...small.keys()]).to.deep.equal([...map.keys()]);
    expect([...small.values()]).to.deep.equal([...map.values()]);
    expect([...small]).to.deep.equal([...map]);
    for (const k of ['a', 'b', 'c']) {
      expect(small.has(k), `has ${k}`).to.equal(map.has(k));
      expect(small.get(k), `get ${k}`).to.equal(map.get(k));
    }
    const seen: [string, number][] = [];
    small.forEach((v, k) => seen.push([k, v]));
    expect(seen).to.deep.equal([...map.entries()]);
  }
}

describe('SmallMap (socket.io Client sockets/nsps with the one entry inline)', () => {
  it('behaves as a Map with none, one and several entries', () => {
    same([['set', 'a', 1], ['set', 'a', 2], ['delete', 'b'], ['delete', 'a'], ['delete', 'a'], ['set', 'b', 3]]);
    same([['set', 'a', 1], ['set', 'b', 2], ['set', 'c', 3], ['delete', 'b'], ['set', 'b', 4], ['clear'], ['set', 'c', 5]]);
    same([['clear'], ['set', 'a', 0], ['set', 'b', 1], ['delete', 'a'], ['delete', 'b'], ['set', 'a', 7]]);
  });

  it('may be emptied while its values are iterated (as socket.io does on close)', () => {
    for (const keys of [['a'], ['a', 'b', 'c']]) {
      const small = new SmallMap<string, number>();
      keys.forEach((k, i) => small.set(k, i));
      const seen: number[] = [];
      for (const v of small.values()) {
        seen.push(v);
        small.delete(keys[v]!);
      }
      expect(seen).to.deep.equal(keys.map((_, i) => i));
      expect(small.size).to.equal(0);
    }
  });
});
