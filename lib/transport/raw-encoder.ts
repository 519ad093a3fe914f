/**
 * socket.io-parser's encoder, with every RawJson in a packet (a large message kept as its text,
 * lib/json/raw-json.ts) spliced in as that text: a broadcast of a 4 MB message is encoded with a
 * copy of the text, not a stringify of millions of values. Packets without one (nearly all) are
 * encoded exactly as before, at the cost of three counter updates.
 *
 * A RawJson only ever comes from a text packet, so a packet holding one has no binary attachment
 * to take socket.io-parser's binary path (which would copy it as a plain object).
 */
import { Encoder, PacketType, type Packet } from 'socket.io-parser';
import { fillRaw, rawSessionEnd, rawSessionStart } from '../json/raw-json.js';

/** EVENT packets encoded: a broadcast counts once, whatever its audience (read by test/fast-paths.test.ts). */
let eventsEncoded = 0;
export function encodedEventCount(): number {
  return eventsEncoded;
}

export class RawEncoder extends Encoder {
  override encode(packet: Packet): unknown[] {
    if (packet.type === PacketType.EVENT) eventsEncoded++;
    const outer = rawSessionStart();
    let parts: unknown[];
    let raws;
    try {
      parts = super.encode(packet) as unknown[];
    } finally {
      raws = rawSessionEnd(outer);
    }
    if (raws !== undefined) parts[0] = fillRaw(parts[0] as string, raws);
    return parts;
  }
}
