/**
 * Engine.IO v4 / Socket.IO v5 wire helpers shared by the load generator and the `limit` server.
 * Text frames only (no binary attachments): that is all the /layout protocol needs, and it lets the
 * hot path look at raw bytes instead of decoding strings.
 */

export const NSP = '/layout';
/** Engine.IO over WebSocket without the long-polling handshake, as socket.io-client does with transports: ['websocket']. */
export const WS_PATH = '/socket.io/?EIO=4&transport=websocket';

/** Socket.IO packet prefix for our namespace: `4` (Engine.IO message) + Socket.IO type + `/layout,`. */
export const CONNECT = `40${NSP},`;
export const EVENT_PREFIX = `42${NSP},`;
export const ACK_PREFIX = `43${NSP},`;
export const CONNECT_ERROR_PREFIX = `44${NSP},`;
export const DISCONNECT = `41${NSP},`;

/** Engine.IO packet types as the first byte of a text frame. */
export const EIO_OPEN = 0x30; // '0'
export const EIO_CLOSE = 0x31; // '1'
export const EIO_PING = 0x32; // '2'
export const EIO_PONG = 0x33; // '3'
export const EIO_MESSAGE = 0x34; // '4'
/** Socket.IO packet types as the second byte of an Engine.IO message. */
export const SIO_CONNECT = 0x30;
export const SIO_DISCONNECT = 0x31;
export const SIO_EVENT = 0x32;
export const SIO_ACK = 0x33;
export const SIO_CONNECT_ERROR = 0x34;

/** `42/layout,<id>[event, payload]`: an emit that asks for an ack. */
export function emitFrame(id: number, event: string, payload: unknown): string {
  return `${EVENT_PREFIX}${id}${JSON.stringify([event, payload])}`;
}

/** Splits `43/layout,<id>[...]` (or `42/layout,<id>[...]`) into the ack id and the JSON array text. */
export function splitIdAndBody(text: string, prefixLength: number): { id: number; body: string } {
  let i = prefixLength;
  let id = 0;
  let digits = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    id = id * 10 + (c - 0x30);
    digits++;
  }
  return { id: digits ? id : -1, body: text.slice(i) };
}

/**
 * Monotonic milliseconds on one clock for every thread of the process (publisher and subscribers
 * may live in different threads). performance.now() alone is relative to each thread's start, and
 * process.hrtime() allocates an array per call; both read the same uv_hrtime clock, so anchor the
 * cheap one to the shared one once per thread.
 */
const hrtimeMs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};
const anchor = hrtimeMs() - performance.now();
export function nowMs(): number {
  return performance.now() + anchor;
}

/**
 * The benchmark's NOTIFY message. Built by hand (no JSON.stringify per publish) so the publisher
 * stays cheap; `seq` first and `t` second so a subscriber finds both right after `"message":{`.
 */
export function notifyFrame(id: number, roomJson: string, seq: number, t: number, pad: string, asString: boolean, store = false): string {
  const message = `{"seq":${seq},"t":${t.toFixed(3)},"pad":"${pad}"}`;
  const payload = `{"room":${roomJson},"message":${message}${store ? ',"store":true' : ''}}`;
  return `${EVENT_PREFIX}${id}["NOTIFY",${asString ? JSON.stringify(payload) : payload}]`;
}

const SEQ_NEEDLE = Buffer.from('"seq":');
const T_NEEDLE = Buffer.from(',"t":');
const EVENT_NEEDLE = Buffer.from(`${EVENT_PREFIX}["EVENT",`);

/** Whether a server frame is `42/layout,["EVENT",...`: compares bytes, decodes nothing. */
export function isEventFrame(buf: Buffer): boolean {
  return buf.length > EVENT_NEEDLE.length && buf.compare(EVENT_NEEDLE, 0, EVENT_NEEDLE.length, 0, EVENT_NEEDLE.length) === 0;
}

/**
 * Reads seq and t out of an EVENT frame without decoding or parsing it. Returns false when the
 * frame does not carry a benchmark message. Sender and room come before the message in every
 * server's envelope, and the harness never puts `"seq":` in a room or display name.
 */
export function readSeqAndTime(buf: Buffer, out: { seq: number; t: number }, from = EVENT_NEEDLE.length): boolean {
  const i = readSeqAt(buf, from, out);
  if (i < 0) return false;
  if (buf.compare(T_NEEDLE, 0, T_NEEDLE.length, i, i + T_NEEDLE.length) !== 0) return false;
  const start = i + T_NEEDLE.length;
  let end = start;
  while (end < buf.length && buf[end] !== 0x2c /* , */ && buf[end] !== 0x7d /* } */) end++;
  out.t = Number(buf.toString('latin1', start, end));
  return true;
}

/** Just the seq of a benchmark message anywhere in `buf` (a /sock publisher's own copy). */
export function readSeq(buf: Buffer, out: { seq: number }): boolean {
  return readSeqAt(buf, 0, out) >= 0;
}

/** Reads the digits after the first `"seq":` at or after `from` into out.seq; the index after them, or -1. */
function readSeqAt(buf: Buffer, from: number, out: { seq: number }): number {
  let i = buf.indexOf(SEQ_NEEDLE, from);
  if (i < 0) return -1;
  i += SEQ_NEEDLE.length;
  let seq = 0;
  let c = buf[i]!;
  if (c < 0x30 || c > 0x39) return -1;
  while (c >= 0x30 && c <= 0x39) {
    seq = seq * 10 + (c - 0x30);
    c = buf[++i]!;
  }
  out.seq = seq;
  return i;
}

/** The full-parse alternative to readSeqAndTime (--parse full), to measure what parsing costs the client. */
export function parseEventFully(buf: Buffer): { room: string; seq: number; t: number } | undefined {
  const packet = JSON.parse(buf.toString('utf8', EVENT_PREFIX.length)) as [string, { room: string; message: { seq: number; t: number } }];
  const envelope = packet[1];
  if (typeof envelope?.message?.seq !== 'number') return undefined;
  return { room: envelope.room, seq: envelope.message.seq, t: envelope.message.t };
}
