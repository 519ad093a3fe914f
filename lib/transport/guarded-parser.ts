/**
 * socket.io's packet parser with the connection's rate limits and a nesting limit in front of
 * JSON.parse. Rates first (lib/abuse/packet-rates.ts: events and bytes per connection; a refused event
 * is answered RATE_LIMITED without being parsed). Then the nesting limit. Every string packet of
 * every client (socket.io-client 1.x, 2.x and 4.x all reach the server's socket.io-parser 4, over
 * WebSocket and long-polling alike; the JSON part of a binary packet too) is scanned first
 * (lib/abuse/json-depth.ts); one nested deeper than the limit is refused before it is parsed, and
 * socket.io answers a decoder error by closing that client's connection. Binary attachments are
 * Buffers that socket.io never parses.
 *
 * The packet's own argument list (`["NOTIFY", payload]`) is not counted: a payload may nest
 * `maxDepth` levels whether it is sent as an object or as a JSON string.
 */
import { Decoder, PacketType, protocol, type Packet } from 'socket.io-parser';
import { ServiceError } from '../core/errors.js';
import { exceedsDepth } from '../abuse/json-depth.js';
import { LARGE_PACKET_CHARS, readLargeEvent, type ArgumentStyle, type LargeEvent } from '../core/large-packets.js';
import { PacketRates, REFUSED_EVENT, type PacketRateLimits, type Refusal } from '../abuse/packet-rates.js';
import { RawEncoder } from './raw-encoder.js';
import { DECODER_CLIENT, takeFastEvent, type FastClient } from './event-fast-path.js';

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

/** A packet other than an event over LARGE_PACKET_CHARS: the connection is closed. */
export class PacketTooLargeError extends Error {
  constructor(max: number) {
    super(`only an event packet may be longer than ${max} characters`);
    this.name = 'PacketTooLargeError';
  }
}

/** Thrown past twice a rate burst (see lib/abuse/packet-rates.ts): the connection is closed. */
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
  /** How a namespace reads its arguments, for packets too large to parse at once (default 'payload'). */
  argumentStyle?: (nsp: string) => ArgumentStyle;
  /** Bytes a connection may send while one of its large packets is read; more closes it. Default: no bound. */
  maxQueued?: number;
}

/**
 * The client address of the connection socket.io is setting up: socket.io makes a connection's
 * decoder inside its Engine.IO 'connection' handler, with no arguments, so lib/service.ts notes the
 * address in a listener that runs just before (`noteConnectionAddress`) and the decoder keeps it,
 * to report the connection's protocol violations (lib/abuse/violations.ts).
 */
let connectionAddress: string | undefined;

export function noteConnectionAddress(address: string | undefined): void {
  connectionAddress = address;
}

/** socket.io-parser's Decoder options when it is made without any (as socket.io does). */
const DECODER_DEFAULTS = Object.freeze({ reviver: undefined, maxAttachments: 10 });

/** @socket.io/component-emitter keeps listeners in `_callbacks['$' + event]` (checked at start-up, internals.ts). */
interface EmitterInternals {
  _callbacks?: Record<string, ((...args: any[]) => void)[]>;
}

/** A stand-in packet (a refusal) waiting in the queue behind a large packet. */
interface Ready {
  ready: Packet;
}

/**
 * A parser for socket.io's `parser` option: an encoder that splices large messages in as their
 * text (lib/transport/raw-encoder.ts), and a decoder that first applies the connection's rate limits
 * (lib/abuse/packet-rates.ts), then refuses deep packets before any JSON.parse, and reads packets over
 * LARGE_PACKET_CHARS in slices between other clients' work (lib/core/large-packets.ts). A refused event
 * becomes a stand-in packet `[REFUSED_EVENT, Refusal]` with the packet's namespace and ack id,
 * which lib/core/dispatch.ts answers; its payload is never parsed, nor its attachments kept.
 *
 * While a large packet is being read, what the connection sends next waits in a queue (bounded by
 * the byte and event rates, checked as it arrives), so socket.io gets every packet in order.
 */
export function guardedParser(limits: ParserLimits, onViolation?: (address: string | undefined, err: Error) => void) {
  const packetDepth = limits.maxDepth + 1; // the argument list
  const rates = limits.rates;
  const styleOf = limits.argumentStyle ?? (() => 'payload' as const);
  // Relies on the Decoder's emitReserved (to hand socket.io a packet): checked at start-up (internals.ts).
  class GuardedDecoder extends Decoder {
    /** One per connection: socket.io makes one decoder per client connection. */
    private readonly rates = rates && new PacketRates(rates);
    /** Attachments of a refused binary packet still to come: dropped, never buffered. */
    private skipAttachments = 0;
    /** A large packet is being read: input waits in `queue`, in order (made then: idle connections have none). */
    private reading = false;
    private queue: (string | Ready | unknown)[] | undefined = undefined;
    private queuedBytes = 0;
    private closed = false;
    /** For reporting violations: the client address of this decoder's connection. */
    private readonly address = connectionAddress;
    /** Its socket.io Client, once events may take the fast path (lib/transport/event-fast-path.ts). */
    [DECODER_CLIENT]: FastClient | undefined = undefined;

    constructor() {
      super();
      // socket.io makes its decoders without options: one frozen copy of the defaults for all, not one each.
      (this as unknown as { opts: object }).opts = DECODER_DEFAULTS;
    }

    /**
     * socket.io's one 'decoded' listener in a 1-slot array (the emitter's push reserves 17 slots: ~130 B
     * per connection), in a table made by a literal of that one key (~25 B less than `{}` and a key added).
     */
    override on(event: string, fn: (...args: any[]) => void): this {
      const self = this as unknown as EmitterInternals;
      if (self._callbacks === undefined && event === 'decoded') {
        self._callbacks = { $decoded: [fn] };
        return this;
      }
      const callbacks = (self._callbacks ??= {});
      const key = '$' + event;
      const list = callbacks[key];
      if (list) list.push(fn);
      else callbacks[key] = [fn];
      return this;
    }

    /** socket.io closes the connection on any error thrown here: each one is a violation. */
    override add(obj: unknown): void {
      try {
        this.addChecked(obj);
      } catch (err) {
        onViolation?.(this.address, err as Error);
        throw err;
      }
    }

    private addChecked(obj: unknown): void {
      if (typeof obj !== 'string') {
        if (this.rates && !this.rates.attachment(attachmentBytes(obj))) throw new PacketRateError();
        if (this.skipAttachments > 0) {
          this.skipAttachments--;
          return;
        }
        this.next(obj);
        return;
      }
      if (this.skipAttachments > 0) throw new Error('got plaintext data when reconstructing a packet');
      if (this.rates && this.admit(obj)) return;
      if (obj.length > LARGE_PACKET_CHARS) {
        if (this.refuseLarge(obj)) return;
      } else if (exceedsDepth(obj, packetDepth, jsonStart(obj))) {
        throw new PacketTooDeepError(limits.maxDepth);
      }
      this.next(obj);
    }

    override destroy(): void {
      this.closed = true;
      this.queue = undefined;
      super.destroy();
    }

    /** Hands input on now, or queues it behind the large packet being read. */
    private next(item: string | Ready | unknown): void {
      if (!this.reading) {
        this.handle(item);
        return;
      }
      this.queuedBytes += typeof item === 'string' ? item.length : attachmentBytes(item);
      if (this.queuedBytes > (limits.maxQueued ?? Infinity)) throw new PacketRateError('too much sent while a large packet is read: connection closed');
      (this.queue ??= []).push(item);
    }

    private handle(item: string | Ready | unknown): void {
      if (typeof item === 'string' && item.length > LARGE_PACKET_CHARS) this.readLarge(item);
      else if (typeof item === 'string' && this.fast(item)) return;
      else if (typeof item === 'object' && item !== null && 'ready' in item) this.emitReserved('decoded', (item as Ready).ready);
      else super.add(item);
    }

    /** A text EVENT handed straight to its namespace (event-fast-path.ts); false: socket.io-parser decodes it. */
    private fast(text: string): boolean {
      const client = this[DECODER_CLIENT];
      // Inside a binary packet, text is socket.io-parser's to refuse.
      return client !== undefined && !(this as unknown as { reconstructor?: unknown }).reconstructor && takeFastEvent(client, text);
    }

    /** Input that waited behind a large packet; a failure closes the connection, as it would have. */
    private drain(): void {
      while (!this.reading && !this.closed && this.queue !== undefined && this.queue.length > 0) {
        const item = this.queue.shift();
        this.queuedBytes -= typeof item === 'string' ? item.length : attachmentBytes(item);
        try {
          this.handle(item);
        } catch (err) {
          if (typeof item === 'string') this.refuseLater(item, new ServiceError('INVALID_PAYLOAD', (err as Error).message), true);
          else onViolation?.(this.address, err as Error);
          this.queue = undefined;
        }
      }
      if (this.queue?.length === 0) this.queue = undefined;
    }

    /** Only events may be large: anything else is refused as it arrives (a binary one answered: true). */
    private refuseLarge(text: string): boolean {
      const type = text.charCodeAt(0) - DIGIT_0;
      if (type === PacketType.EVENT) return false;
      if (type !== PacketType.BINARY_EVENT) throw new PacketTooLargeError(LARGE_PACKET_CHARS);
      const header = readHeader(text);
      if (!(header.attachments >= 1 && header.attachments <= 10)) throw new Error('Illegal attachments');
      this.skipAttachments = header.attachments;
      const message = `the JSON part of a binary packet may be at most ${LARGE_PACKET_CHARS} characters`;
      this.next({ ready: standIn(header, { code: 'PAYLOAD_TOO_LARGE', message, event: header.event, cut: false }) } satisfies Ready);
      return true;
    }

    private readLarge(text: string): void {
      const header = readHeader(text);
      const read = readLargeEvent(text, jsonStart(text), styleOf(header.nsp), limits.maxDepth, () => this.closed);
      if (!(read instanceof Promise)) {
        this.deliverLarge(text, header, read);
        return;
      }
      this.reading = true;
      read.then(
        (result) => {
          this.reading = false;
          if (this.closed) return;
          this.deliverLarge(text, header, result);
          this.drain();
        },
        (err: unknown) => {
          this.reading = false;
          if (!this.closed) this.refuseLater(text, new ServiceError('INVALID_PAYLOAD', (err as Error).message), true);
        },
      );
    }

    private deliverLarge(text: string, header: PacketHeader, read: LargeEvent): void {
      if (read.ok) {
        const packet: Packet = { type: PacketType.EVENT, nsp: header.nsp, data: read.data };
        if (header.id !== undefined) packet.id = header.id;
        this.emitReserved('decoded', packet);
      } else if ('error' in read) {
        // socket.io closes a connection whose packet it cannot parse: so does this, with an answer.
        this.refuseLater(text, read.error, true);
      }
    }

    /** Answers a packet found unusable after it arrived (stock socket.io would have closed at once). */
    private refuseLater(text: string, error: ServiceError, cut: boolean): void {
      if (cut) onViolation?.(this.address, error);
      const header = readHeader(text);
      const code = error.code === 'INVALID_JSON' ? 'INVALID_JSON' : 'INVALID_PAYLOAD';
      this.emitReserved('decoded', standIn(header, { code, message: error.message, event: header.event, cut }));
    }

    /** Applies the rate limits; true when the packet was answered or dropped here (not to be parsed). */
    private admit(text: string): boolean {
      const type = text.charCodeAt(0) - DIGIT_0;
      const binary = type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK;
      const kind = type === PacketType.EVENT || type === PacketType.BINARY_EVENT ? 'event' : type === PacketType.ACK || binary ? 'ack' : 'other';
      const verdict = this.rates!.packet(kind, text.length);
      if (verdict.kind === 'ok') return false;
      if (verdict.kind === 'cut') throw new PacketRateError();
      const header = readHeader(text);
      if (binary) {
        if (!(header.attachments >= 1 && header.attachments <= 10)) throw new Error('Illegal attachments');
        this.skipAttachments = header.attachments;
      }
      if (verdict.kind === 'refuse') {
        if (verdict.cut) onViolation?.(this.address, new PacketRateError());
        this.next({ ready: standIn(header, { code: verdict.code, message: verdict.message, event: header.event, cut: verdict.cut, limit: verdict.limit }) } satisfies Ready);
      }
      return true;
    }
  }
  return { protocol, PacketType, Encoder: RawEncoder, Decoder: GuardedDecoder };
}

/** The stand-in event socket.io gets for a refused packet, with its namespace and ack id. */
function standIn(header: PacketHeader, refusal: Refusal): Packet {
  const packet: Packet = { type: PacketType.EVENT, nsp: header.nsp, data: [REFUSED_EVENT, refusal] };
  if (header.id !== undefined) packet.id = header.id;
  return packet;
}
