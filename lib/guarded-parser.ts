/**
 * socket.io's packet parser with the connection's rate limits and a nesting limit in front of
 * JSON.parse. Rates first (lib/packet-rates.ts: events and bytes per connection; a refused event
 * is answered RATE_LIMITED without being parsed). Then the nesting limit. Every string packet of
 * every client (socket.io-client 1.x, 2.x and 4.x all reach the server's socket.io-parser 4, over
 * WebSocket and long-polling alike; the JSON part of a binary packet too) is scanned first
 * (lib/json-depth.ts); one nested deeper than the limit is refused before it is parsed, and
 * socket.io answers a decoder error by closing that client's connection. Binary attachments are
 * Buffers that socket.io never parses.
 *
 * The packet's own argument list (`["NOTIFY", payload]`) is not counted: a payload may nest
 * `maxDepth` levels whether it is sent as an object or as a JSON string.
 */
import { Decoder, Encoder, PacketType, protocol, type Packet } from 'socket.io-parser';
import { exceedsDepth } from './json-depth.js';
import { PacketRates, REFUSED_EVENT, type PacketRateLimits, type Refusal } from './packet-rates.js';

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

/** Thrown past twice a rate burst (see lib/packet-rates.ts): the connection is closed. */
export class PacketRateError extends Error {
  constructor(message = 'far over the rate limits: connection closed') {
    super(message);
    this.name = 'PacketRateError';
  }
}

/** What a packet's header says, read without parsing its JSON. */
export interface PacketHeader {
  type: number;
  /** Binary types: the attachment count (NaN when malformed). */
  attachments: number;
  nsp: string;
  id: number | undefined;
  /** The client event's name when the JSON starts with a short plain string; else ''. */
  event: string;
}

const MAX_EVENT_NAME = 64;

export function readHeader(packet: string): PacketHeader {
  const type = packet.charCodeAt(0) - DIGIT_0;
  let attachments = 0;
  let i = 0;
  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
    i = packet.indexOf('-', 1);
    attachments = i > 1 && i < 12 ? Number(packet.slice(1, i)) : NaN;
    if (i < 0) i = packet.length;
  }
  let nsp = '/';
  if (packet.charCodeAt(i + 1) === SLASH) {
    let comma = packet.indexOf(',', i + 1);
    if (comma < 0) comma = packet.length;
    nsp = packet.slice(i + 1, comma);
    i = comma;
  }
  const idStart = i + 1;
  while (i + 1 < packet.length && packet.charCodeAt(i + 1) >= DIGIT_0 && packet.charCodeAt(i + 1) <= DIGIT_9) i++;
  const id = i + 1 > idStart ? Number(packet.slice(idStart, i + 1)) : undefined;
  let event = '';
  if (packet.startsWith('["', i + 1)) {
    const end = packet.indexOf('"', i + 3);
    const name = end > 0 && end - (i + 3) <= MAX_EVENT_NAME ? packet.slice(i + 3, end) : '';
    if (!name.includes('\\')) event = name;
  }
  return { type, attachments, nsp, id: id !== undefined && Number.isSafeInteger(id) ? id : undefined, event };
}

/** Bytes of a binary attachment as socket.io-parser receives it (Buffer, ArrayBuffer, EIO3 base64). */
function attachmentBytes(obj: unknown): number {
  const o = obj as { byteLength?: unknown; base64?: unknown; data?: unknown };
  if (typeof o?.byteLength === 'number') return o.byteLength;
  if (o?.base64 && typeof o.data === 'string') return o.data.length;
  return 0;
}

export interface ParserLimits {
  maxDepth: number;
  /** Per-connection rate limits checked before parsing; none: only the depth limit. */
  rates?: PacketRateLimits;
}

/**
 * A parser for socket.io's `parser` option: the stock encoder, a decoder that first applies the
 * connection's rate limits (lib/packet-rates.ts) and then refuses deep packets, before any JSON.parse.
 * A refused event becomes a stand-in packet `[REFUSED_EVENT, Refusal]` with the packet's namespace
 * and ack id, which lib/dispatch.ts answers; its payload is never parsed, nor its attachments kept.
 */
export function guardedParser(limits: ParserLimits, onRefused?: (err: Error) => void) {
  const packetDepth = limits.maxDepth + 1; // the argument list
  const rates = limits.rates;
  // socket.io-parser internals this relies on: the emitter's emitReserved (to hand socket.io a packet).
  if (typeof (Decoder.prototype as unknown as { emitReserved?: unknown }).emitReserved !== 'function') {
    throw new Error('guarded-parser: socket.io-parser Decoder has no emitReserved (socket.io-parser changed): cannot answer refused packets');
  }
  const refuse = (err: Error): never => {
    onRefused?.(err);
    throw err;
  };
  class GuardedDecoder extends Decoder {
    /** One per connection: socket.io makes one decoder per client connection. */
    private readonly rates = rates && new PacketRates(rates);
    /** Attachments of a refused binary packet still to come: dropped, never buffered. */
    private skipAttachments = 0;

    override add(obj: unknown): void {
      if (typeof obj !== 'string') {
        if (this.rates && !this.rates.attachment(attachmentBytes(obj))) refuse(new PacketRateError());
        if (this.skipAttachments > 0) {
          this.skipAttachments--;
          return;
        }
        super.add(obj);
        return;
      }
      if (this.skipAttachments > 0) refuse(new Error('got plaintext data when reconstructing a packet'));
      if (this.rates && this.admit(obj)) return;
      if (exceedsDepth(obj, packetDepth, jsonStart(obj))) refuse(new PacketTooDeepError(limits.maxDepth));
      super.add(obj);
    }

    /** Applies the rate limits; true when the packet was answered or dropped here (not to be parsed). */
    private admit(text: string): boolean {
      const type = text.charCodeAt(0) - DIGIT_0;
      const binary = type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK;
      const kind = type === PacketType.EVENT || type === PacketType.BINARY_EVENT ? 'event' : type === PacketType.ACK || binary ? 'ack' : 'other';
      const verdict = this.rates!.packet(kind, text.length);
      if (verdict.kind === 'ok') return false;
      if (verdict.kind === 'cut') refuse(new PacketRateError());
      const header = readHeader(text);
      if (binary) {
        if (!(header.attachments >= 1 && header.attachments <= 10)) refuse(new Error('Illegal attachments'));
        this.skipAttachments = header.attachments;
      }
      if (verdict.kind === 'refuse') {
        const refusal: Refusal = { code: verdict.code, message: verdict.message, event: header.event, cut: verdict.cut };
        const stand: Packet = { type: PacketType.EVENT, nsp: header.nsp, data: [REFUSED_EVENT, refusal] };
        if (header.id !== undefined) stand.id = header.id;
        this.emitReserved('decoded', stand);
      }
      return true;
    }
  }
  return { protocol, PacketType, Encoder, Decoder: GuardedDecoder };
}
