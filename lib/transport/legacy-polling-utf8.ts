/**
 * Keeps non-ASCII text intact on HTTP long-polling between a socket.io v4 server
 * (engine.io 6, `allowEIO3: true`) and both generations of Engine.IO v3 clients:
 *  - legacy = socket.io-client 1.x (engine.io-parser 1.x): UTF-8 encodes each packet
 *    of a text payload into a "byte string" (one char per byte), counts the length
 *    prefix in bytes and UTF-8 decodes every packet it receives;
 *  - modern = socket.io-client 2.x (engine.io-parser 2.x): raw strings, lengths in
 *    UTF-16 code units -- exactly engine.io's bundled v3 parser, so left untouched.
 * Both send EIO=3 with identical HTTP requests, so each EIO=3 polling transport is
 * classified ("unknown" -> "legacy" | "modern") from what it sends:
 *  - CONNECT to a namespace: socket.io-parser 2.x (client 1.x) writes `0/nsp[?query]`,
 *    socket.io-parser >= 3 (client 2.x) always appends a `,`  (deterministic);
 *  - non-ASCII text: a legacy packet only holds chars <= U+00FF forming valid UTF-8,
 *    so anything else proves "modern" (final); a conforming packet suggests "legacy".
 * Server -> client payloads that contain non-ASCII text are written as:
 *  - modern: stock;  no `b64` (XHR2 clients): binary payload, decoded alike by both;
 *  - b64 + legacy: byte-string packets with byte lengths (the 1.x text format);
 *  - b64 + unknown: socket.io JSON with non-ASCII as \uXXXX escapes (pure ASCII).
 * Websocket, EIO=4, ASCII-only and binary-body traffic keep the stock code paths,
 * and any internal failure falls back to them.
 */
import type { Server as IoServer } from "socket.io";
import type { Server as EngineServer } from "engine.io";

export type LegacyClientKind = "unknown" | "legacy" | "modern";
export interface LegacyPollingUtf8Options {
  /** Diagnostics hook, called when a transport's classification changes. */
  onClassify?: (e: { sid: string | undefined; kind: LegacyClientKind; reason: string }) => void;
}

type Packet = { type: string; data?: unknown; options?: unknown };
type PacketCallback = (packet: Packet, index: number, total: number) => unknown;
type Encoded = string | Buffer;
/** The parts of engine.io/build/parser-v3 used by the polling transport and by us. */
interface V3Parser {
  encodePacket(p: Packet, supportsBinary: boolean, utf8encode: boolean, cb: (e: Encoded) => void): void;
  encodePayload(ps: Packet[], supportsBinary: boolean, cb: (e: Encoded) => void): void;
  encodePayloadAsBinary(ps: Packet[], cb: (e: Buffer) => void): void;
  decodePayload(data: Encoded, cb: PacketCallback): void;
}
type Transport = { readonly name: string; protocol: number; parser: unknown; sid?: string };
type Engine = { createTransport(name: string, req: unknown): unknown; [UNINSTALL]?: () => void };

const UNINSTALL = Symbol.for("legacy-polling-utf8.uninstall");
const V3_FUNCTIONS = ["encodePacket", "encodePayload", "encodePayloadAsBinary", "decodePayload"] as const;
const NON_ASCII = /[^\x00-\x7f]/;
const hasNonAscii = (p: Packet) => typeof p.data === "string" && NON_ASCII.test(p.data);

/**
 * Decodes a byte string (chars U+0000..U+00FF) as UTF-8; surrogate code points
 * (WTF-8, produced by engine.io-parser 1.x for lone surrogates) are let through.
 * Returns null for anything that is not such a byte string.
 */
export function decodeUtf8ByteString(s: string): string | null {
  const units = new Uint16Array(s.length); // decoded text is never longer than its bytes
  let n = 0;
  for (let i = 0; i < s.length; ) {
    const lead = s.charCodeAt(i++);
    if (lead < 0x80) { units[n++] = lead; continue; }
    // [continuation bytes, payload bits of the lead byte, smallest legal code point]
    const [trail, bits, min] =
      lead >= 0xc2 && lead <= 0xdf ? [1, lead & 0x1f, 0x80] :
      lead >= 0xe0 && lead <= 0xef ? [2, lead & 0x0f, 0x800] :
      lead >= 0xf0 && lead <= 0xf4 ? [3, lead & 0x07, 0x10000] : [0, 0, 0];
    if (trail === 0 || i + trail > s.length) return null;
    let cp = bits;
    for (const end = i + trail; i < end; i++) {
      const b = s.charCodeAt(i);
      if (b > 0xff || (b & 0xc0) !== 0x80) return null;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff) return null; // overlong or out of range
    if (cp < 0x10000) units[n++] = cp;
    else { units[n++] = 0xd800 | ((cp - 0x10000) >> 10); units[n++] = 0xdc00 | (cp & 0x3ff); }
  }
  let out = ""; // chunked, so that megabyte messages do not overflow the argument stack
  for (let i = 0; i < n; i += 0x2000) out += String.fromCharCode(...units.subarray(i, Math.min(i + 0x2000, n)));
  return out;
}

/**
 * Makes a socket.io packet string pure ASCII by writing the non-ASCII chars of its
 * JSON body as \uXXXX (they can only sit inside JSON string literals, where such an
 * escape means the same char). The header (type, `N-` attachments, `/nsp,`, ack id)
 * is skipped the way socket.io-parser reads it. Returns null if that is impossible.
 */
export function asciiSafeSocketIoPacket(s: string): string | null {
  const type = s.charCodeAt(0) - 48;
  if (!(type >= 0 && type <= 6)) return null;
  let i = 1;
  if (type === 5 || type === 6) i = s.indexOf("-", i) + 1;
  if (i > 0 && s.charAt(i) === "/") i = s.indexOf(",", i) + 1;
  if (i <= 0) return null;
  while (s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  const head = s.slice(0, i);
  if (NON_ASCII.test(head) || !'[{"'.includes(s.charAt(i) || "x")) return null;
  return head + s.slice(i).replace(/[^\x00-\x7f]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** Per-transport replacement for engine.io's shared v3 parser. */
function createParser(stock: V3Parser, transport: Transport, opts: LegacyPollingUtf8Options): V3Parser {
  let kind: LegacyClientKind = "unknown";
  const classify = (next: "legacy" | "modern", reason: string) => {
    if (kind === next || kind === "modern") return; // "modern" rests on proof: final
    kind = next;
    try { opts.onClassify?.({ sid: transport.sid, kind, reason }); } catch { /* ignore logger errors */ }
  };
  const parser: V3Parser = Object.create(stock); // inherits everything else unchanged

  parser.decodePayload = (data, callback) => {
    if (typeof data !== "string" || kind === "modern") return stock.decodePayload(data, callback);
    // Framing is the same for both generations (chars of the UTF-8-decoded body), so
    // parse with the stock decoder, classify, then hand packets on in order. Only our
    // own work is guarded: errors thrown by `callback` (application code) propagate.
    let packets: Array<[Packet, number, number]>;
    try {
      packets = [];
      stock.decodePayload(data, (p, index, total) => void packets.push([p, index, total]));
      const utf8 = new Map<number, string>();
      let modernText = false;
      packets.forEach(([p], k) => {
        if (p.type === "error" || typeof p.data !== "string") return;
        if (p.type === "message" && p.data.startsWith("0/")) {
          if (p.data.endsWith(",")) classify("modern", "CONNECT with trailing comma");
          else classify("legacy", "CONNECT without trailing comma");
        }
        if (!NON_ASCII.test(p.data)) return;
        const text = decodeUtf8ByteString(p.data);
        if (text === null) modernText = true;
        else utf8.set(k, text);
      });
      if (modernText) classify("modern", "non-ASCII text that is not a UTF-8 byte string");
      else if (utf8.size > 0 && kind === "unknown") classify("legacy", "non-ASCII text that is a UTF-8 byte string");
      if (kind === "legacy") {
        packets = packets.map(([p, index, total], k) => [utf8.has(k) ? { ...p, data: utf8.get(k) } : p, index, total]);
      }
    } catch {
      return stock.decodePayload(data, callback);
    }
    for (const [p, index, total] of packets) if (callback(p, index, total) === false) return; // "close"
  };

  parser.encodePayload = (packets, supportsBinary, callback) => {
    let result: Encoded | undefined;
    const keep = (e: Encoded) => void (result = e);
    try {
      if (kind !== "modern" && packets.some(hasNonAscii)) {
        if (supportsBinary) {
          stock.encodePayloadAsBinary(packets, keep);
        } else if (kind === "legacy") {
          const parts: string[] = [];
          for (const p of packets) stock.encodePacket(p, false, true, (e) => void parts.push(`${String(e).length}:${e}`));
          if (parts.length === packets.length) result = parts.join("");
        } else {
          const ascii = packets.map((p) => {
            const safe = p.type === "message" && hasNonAscii(p) ? asciiSafeSocketIoPacket(p.data as string) : null;
            return safe === null ? p : { ...p, data: safe };
          });
          stock.encodePayload(ascii, false, keep);
        }
      }
    } catch {
      result = undefined;
    }
    if (result === undefined) return stock.encodePayload(packets, supportsBinary, callback);
    callback(result);
  };
  return parser;
}

/**
 * Wraps `engine.createTransport` so every EIO=3 polling transport (created at the
 * handshake, before any packet flows) gets its own compatibility parser. Pass the
 * socket.io Server once it is attached, or the engine.io Server. Idempotent; returns
 * a function removing the hook (existing transports keep their parser).
 */
export function installLegacyPollingUtf8(
  target: IoServer | EngineServer,
  opts: LegacyPollingUtf8Options = {},
): () => void {
  const engine = ("engine" in target ? target.engine : target) as unknown as Engine | undefined;
  if (typeof engine?.createTransport !== "function") {
    throw new TypeError("installLegacyPollingUtf8: no engine.io server (attach socket.io first)");
  }
  if (engine[UNINSTALL]) return engine[UNINSTALL];
  const hadOwn = Object.prototype.hasOwnProperty.call(engine, "createTransport");
  const original = engine.createTransport;

  engine.createTransport = function (this: unknown, name: string, req: unknown) {
    const transport = original.call(this, name, req) as Transport | undefined;
    try {
      const stock = transport?.parser as Record<keyof V3Parser, unknown> | undefined;
      const usable = V3_FUNCTIONS.every((f) => typeof stock?.[f] === "function");
      if (transport?.protocol === 3 && transport.name === "polling" && usable) {
        transport.parser = createParser(stock as unknown as V3Parser, transport, opts);
      }
    } catch { /* keep the stock parser */ }
    return transport;
  };

  const uninstall = () => {
    if (engine[UNINSTALL] !== uninstall) return;
    if (hadOwn) engine.createTransport = original;
    else delete (engine as Partial<Engine>).createTransport;
    delete engine[UNINSTALL];
  };
  engine[UNINSTALL] = uninstall;
  return uninstall;
}

/** Installs the fix on the service's socket.io server, logging classifications at debug level. */
export function installLegacyPollingFix(io: IoServer, logger: { isDebugEnabled(): boolean; debug(m: string, meta: object): unknown }): () => void {
  return installLegacyPollingUtf8(io, {
    onClassify: (e) => {
      if (logger.isDebugEnabled()) logger.debug('Engine.IO v3 polling client classified', e);
    },
  });
}
