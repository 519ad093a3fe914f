/**
 * The short path from socket.io to the wire for WebSocket connections.
 *
 * Every packet socket.io sends (an EVENT of a fan-out, an ack, a CLIENTS reply) normally goes
 * through Engine.IO's write buffer: a packet object, `packetCreate`/`flush`/`drain` events and
 * one frame in flight per connection. When a connection is on WebSocket and nothing is queued
 * ahead of the packet (in Engine.IO's buffer or in ws's own queue), the frame can go straight to
 * ws's frame writer, as a raw `ws` server would write it: the TCP socket keeps the order, and
 * packets that find something queued still take Engine.IO's path behind it.
 *
 * A frame goes out as one buffer, its header and payload joined (`joinFrame`, once per broadcast):
 * ws's frame writer then makes one socket write of it instead of cork + two writes + uncork, and
 * each flush carries one chunk per frame instead of two.
 *
 * Writes are also coalesced: the TCP sockets written during one event are corked and uncorked
 * together once it has been handled, so a subscriber that gets several notifications from one
 * read of a busy publisher receives them in one writev instead of one syscall each. This adds
 * no delay: the flush runs before the event loop moves on.
 *
 * This relies on internals of Engine.IO (writeBuffer, transport) and ws (_sender, _socket) that
 * socket.io's own pre-encoded broadcast uses too; each is checked, and any surprise falls back to
 * the regular path. `test/fanout-order.test.ts` pins the ordering guarantees.
 *
 * Every write also passes the send-buffer limit first (lib/transport/slow-consumers.ts `admitWrite`): this is
 * the one place every packet to a connection goes through.
 */
import * as ws from 'ws';
import { CorkUntilFlush, type Corkable } from './cork-until-flush.js';
import { admitWrite, type EngineConn as LimitedConn } from './slow-consumers.js';

/** ws's per-connection frame writer (untyped internals). */
interface WsSender {
  sendFrame?: (frame: unknown, cb?: (err?: Error) => void) => void;
  _state?: number;
  _queue?: unknown[];
}

/** The ws internals a frame written straight to the frame writer relies on. */
interface WsInternals {
  readyState?: number;
  _sender?: WsSender;
  _socket?: Corkable;
}

/** The parts of Engine.IO's socket and WebSocket transport the direct write relies on. */
export interface EngineConn {
  readyState: string;
  writeBuffer: unknown[];
  transport: {
    name: string;
    perMessageDeflate?: unknown;
    socket?: WsInternals;
  };
}

/** ws's WebSocket once idleWebSocket has checked it. */
export interface OpenWs {
  _sender: WsSender & { sendFrame(frame: unknown, cb?: (err?: Error) => void): void };
  _socket?: Corkable;
}

export interface PacketOpts {
  volatile?: boolean;
  compress?: boolean;
  preEncoded?: boolean;
  /** set by socket.io's adapter when it framed a broadcast once for every recipient */
  wsPreEncodedFrame?: unknown;
}

interface EngineClient {
  conn: EngineConn;
  writeToEngine(encoded: unknown, opts: PacketOpts): void;
}

const WS_OPEN = 1;
/** ws Sender's idle state: no deflate or blob read in progress. */
const SENDER_IDLE = 0;
const FRAME_OPTIONS = { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true };
const frameText = (ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender.frame;
/** Frames up to this size are joined into one buffer; a larger message is not copied again for one write fewer. */
const JOIN_MAX_BYTES = 64 * 1024;

/** The TCP sockets written to during this event, each uncorked once after it (see the header). */
const corked = new CorkUntilFlush((flush) => process.nextTick(flush));
/** Frames writeFrame sent straight to ws, past Engine.IO's write buffer (read by test/fast-paths.test.ts). */
let framesWrittenDirect = 0;
export function directFrameCount(): number {
  return framesWrittenDirect;
}

/**
 * A frame from ws's Sender.frame (header, payload) as one buffer, for up to JOIN_MAX_BYTES; any
 * other frame as it is. ws's sendFrame writes a one-buffer list with a single socket write.
 */
export function joinFrame(frame: unknown): unknown {
  const list = frame as Buffer[] | undefined;
  if (list?.length !== 2) return frame;
  const bytes = list[0]!.length + list[1]!.length;
  return bytes <= JOIN_MAX_BYTES ? [Buffer.concat(list, bytes)] : frame;
}

/** A text payload as an unmasked, final WebSocket frame from ws's Sender.frame, joined (joinFrame). */
export function textFrame(payload: Buffer): Buffer[] {
  return joinFrame(frameText(payload, FRAME_OPTIONS)) as Buffer[];
}

/** Socket flushes of the direct writes so far (read by test/fast-paths.test.ts): one per socket and event. */
export function directFlushCount(): number {
  return corked.flushes;
}

/**
 * Whether a frame may go straight to this ws WebSocket's frame writer: open, and its Sender idle
 * with nothing queued (else ws's own path keeps the order behind what waits). Also /sock's
 * (ws-frames.ts).
 */
export function idleWebSocket(ws: unknown): ws is OpenWs {
  const internals = ws as WsInternals | undefined;
  const sender = internals?._sender;
  return internals?.readyState === WS_OPEN && typeof sender?.sendFrame === 'function' && sender._state === SENDER_IDLE && !sender._queue?.length;
}

/** The connection's WebSocket when a frame may go straight to its frame writer, else undefined. */
function idleSocket(conn: EngineConn): OpenWs | undefined {
  const transport = conn.transport;
  if (conn.readyState !== 'open' || conn.writeBuffer.length !== 0 || transport.name !== 'websocket' || transport.perMessageDeflate) return undefined;
  const ws = transport.socket;
  return idleWebSocket(ws) ? ws : undefined;
}

function send(ws: OpenWs, frame: unknown): void {
  const tcp = ws._socket;
  if (tcp) corked.cork(tcp);
  // No completion callback: Engine.IO's write accounting is for its own packets, and a write
  // error surfaces as the WebSocket's error/close, which Engine.IO already handles.
  ws._sender.sendFrame(frame);
}

/**
 * Writes a ready-made WebSocket frame when nothing is waiting ahead of it on the connection.
 * Returns false when the caller must take Engine.IO's path instead.
 */
export function writeFrame(conn: EngineConn, frame: unknown): boolean {
  const ws = idleSocket(conn);
  if (!ws) return false;
  framesWrittenDirect++;
  // Over the send-buffer limit: the connection is closed and the frame dropped.
  if (admitWrite(conn as unknown as LimitedConn, frameBytes(frame))) send(ws, frame);
  return true;
}

/** Bytes of a frame from ws's Sender.frame: a list of buffers. */
function frameBytes(frame: unknown): number {
  const list = frame as Uint8Array[];
  return list.length === 2 ? list[0]!.length + list[1]!.length : list.reduce((n, b) => n + b.length, 0);
}

/** Bytes of socket.io's encoded packets (strings and binary attachments). */
function encodedBytes(encoded: unknown): number {
  if (typeof encoded === 'string') return encoded.length;
  if (!Array.isArray(encoded)) return encoded instanceof Uint8Array ? encoded.byteLength : 0;
  let bytes = 0;
  for (const part of encoded) bytes += typeof part === 'string' ? part.length : part instanceof Uint8Array ? part.byteLength : 0;
  return bytes;
}

/** Engine.IO "message" packets as a WebSocket text frame ("4" + socket.io packet), one buffer. */
function messageFrame(encoded: string): unknown {
  return textFrame(Buffer.from('4' + encoded));
}

let engineWrite: EngineClient['writeToEngine'] | undefined;

/** socket.io's Client.writeToEngine with the short path in front. */
function writeToEngine(this: EngineClient, encoded: unknown, opts: PacketOpts): void {
  // Over the send-buffer limit: the connection is closed and the packet dropped.
  if (!admitWrite(this.conn as unknown as LimitedConn, encodedBytes(encoded))) return;
  // One text packet is the common case; binary attachments and volatile packets (dropped when
  // the transport is busy) keep Engine.IO's semantics.
  const packet = Array.isArray(encoded) ? (encoded.length === 1 ? encoded[0] : undefined) : encoded;
  if (typeof packet === 'string' && !opts.volatile) {
    const ws = idleSocket(this.conn);
    if (ws) {
      send(ws, opts.wsPreEncodedFrame ?? messageFrame(packet));
      return;
    }
  }
  engineWrite!.call(this, encoded, opts);
}

/**
 * Routes one socket.io connection's writes through the short path. Set on the instance, not the
 * class, so other socket.io servers in the same process are left alone; idempotent.
 */
export function useDirectWrites(client: object): void {
  const c = client as EngineClient;
  if (c.writeToEngine === writeToEngine) return;
  engineWrite ??= (Object.getPrototypeOf(c) as EngineClient).writeToEngine;
  c.writeToEngine = writeToEngine;
}
