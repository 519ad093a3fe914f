/**
 * The WebSocket frames lib/transport/direct-writes.ts builds itself (one buffer for a small frame,
 * see messageFrame) are byte for byte what ws's Sender.frame makes: every length class of the
 * header, non-ASCII text, and the size past which the [header, payload] pair is kept.
 */
import { expect } from 'chai';
import * as ws from 'ws';
import { messageFrame, oneBufferFrame } from '../lib/transport/index.js';

const wsFrame = (text: string): Buffer[] =>
  (ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender.frame(Buffer.from(text), { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true });

describe('direct frames', () => {
  for (const char of ['a', 'é', '😀']) {
    it(`messageFrame and oneBufferFrame equal ws's frame for "${char}" packets of every header size`, () => {
      for (const n of [0, 1, 60, 123, 124, 125, 126, 127, 1000, 5461, 8191, 16382, 16383, 16384, 20000, 70000]) {
        const packet = char.repeat(n);
        const expected = Buffer.concat(wsFrame('4' + packet));
        const built = messageFrame(packet) as Buffer[];
        expect(Buffer.concat(built).equals(expected), `${n} × ${char}`).to.equal(true);
        const merged = oneBufferFrame(wsFrame('4' + packet)) as Buffer[];
        expect(Buffer.concat(merged).equals(expected), `${n} × ${char} merged`).to.equal(true);
        // One buffer up to 16 KiB, ws's pair beyond.
        const one = expected.length - (expected.length - 4 > 65535 ? 10 : expected.length - 2 > 125 ? 4 : 2) <= 16 * 1024;
        expect(built.length, `${n} × ${char} parts`).to.equal(one ? 1 : 2);
      }
    });
  }
});
