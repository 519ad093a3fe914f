import { expect } from 'chai';
import { RoomNames } from '../lib/core/room-names.js';

describe('RoomNames (room -> name with the first entry inline)', () => {
  it('behaves like a Map under random set/delete/clear', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let run = 0; run < 50; run++) {
      const names = new RoomNames();
      const model = new Map<string, string>();
      for (let step = 0; step < 200; step++) {
        const room = `r${rand(6)}`;
        const op = rand(10);
        if (op < 5) {
          const name = `n${step}`;
          names.set(room, name);
          model.set(room, name);
        } else if (op < 9) {
          expect(names.delete(room)).to.equal(model.delete(room));
        } else if (rand(5) === 0) {
          names.clear();
          model.clear();
        }
        expect(names.size).to.equal(model.size);
        expect([...names.keys()].sort()).to.deep.equal([...model.keys()].sort());
        for (let i = 0; i < 6; i++) {
          expect(names.has(`r${i}`)).to.equal(model.has(`r${i}`));
          expect(names.get(`r${i}`)).to.equal(model.get(`r${i}`));
        }
      }
    }
  });
});
