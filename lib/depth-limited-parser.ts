/**
 * socket.io's packet parser with a nesting limit in front of JSON.parse. Every string packet of
 * every client (socket.io-client 1.x, 2.x and 4.x all reach the server's socket.io-parser 4, over
 * WebSocket and long-polling alike; the JSON part of a binary packet too) is scanned first
 * (lib/json-depth.ts); one nested deeper than the limit is refused before it is parsed, and
 * socket.io answers a decoder error by closing that client's connection. Binary attachments are
 * Buffers that socket.io never parses.
 *
 * The packet's own argument list (`["NOTIFY", payload]`) is not counted: a payload may nest
 * `maxDepth` levels whether it is sent as an object or as a JSON string.
 */
import { Decoder, Encoder, PacketType, protocol } from 'socket.io-parser';
import { exceedsDepth } from './json-depth.js';

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const SLASH = 0x2f;

/**
 * Where the JSON of a socket.io packet string starts, skipping its header as socket.io-parser
 * reads it: type, `N-` attachment count (binary types), `/nsp,`, ack id. A namespace may hold
 * quotes and brackets, so it must not be scanned as JSON: a `"` there would hide the JSON from
 * the scan. (socket.io-parser also takes whitespace for id digits; the scan ignores it anyway.)
 */
export function jsonStart(packet: string): number {
  let i = 0;
  const type = packet.charCodeAt(0) - DIGIT_0;
  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
    i = packet.indexOf('-', 1);
    if (i < 0) return packet.length; // refused by the parser itself
  }
  if (packet.charCodeAt(i + 1) === SLASH) {
    const comma = packet.indexOf(',', i + 1);
    if (comma < 0) return packet.length;
    i = comma;
  }
  while (i + 1 < packet.length && packet.charCodeAt(i + 1) >= DIGIT_0 && packet.charCodeAt(i + 1) <= DIGIT_9) i++;
  return i + 1;
}

/** What the decoder throws; socket.io closes the connection on it. */
export class PacketTooDeepError extends Error {
  constructor(maxDepth: number) {
    super(`packet nested deeper than ${maxDepth} levels`);
    this.name = 'PacketTooDeepError';
  }
}

/** A parser for socket.io's `parser` option: the stock encoder, a decoder that refuses deep packets. */
export function depthLimitedParser(maxDepth: number, onRefused?: (err: PacketTooDeepError) => void) {
  const packetDepth = maxDepth + 1; // the argument list
  class DepthLimitedDecoder extends Decoder {
    override add(obj: unknown): void {
      if (typeof obj === 'string' && exceedsDepth(obj, packetDepth, jsonStart(obj))) {
        const err = new PacketTooDeepError(maxDepth);
        onRefused?.(err);
        throw err;
      }
      super.add(obj);
    }
  }
  return { protocol, PacketType, Encoder, Decoder: DepthLimitedDecoder };
}
