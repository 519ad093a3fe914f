/**
 * The short path from a plain WebSocket endpoint (/sock, lib/transport/ws-endpoint.ts) to the wire
 * for fan-out: a delivery is serialized once (the protocol's job) and framed once here, and the
 * same frame buffers are written to every recipient through ws's frame writer, as a raw `ws`
 * server would (bench/baselines/sock-limit.ts). `ws.send(text)` would instead convert the text to
 * a Buffer and build a frame header per recipient.
 *
 * Writes are also coalesced: each TCP socket written to is corked once and uncorked after the
 * current event (and the promise jobs it started) has been handled, so a subscriber that gets
 * several publications from one read of a busy publisher receives them in one writev instead of
 * one syscall each. This adds no delay: the flush runs before the event loop moves on.
 *
 * This relies on internals of ws (Sender.frame, the WebSocket's `_sender` with its `sendFrame`,
 * `_state` and `_queue`, and `_socket`), the ones lib/transport/direct-writes.ts uses for
 * socket.io; they are checked at start-up (internals.ts), and a connection whose sender is busy
 * (a frame of its own queued) takes ws's regular path behind it, which keeps the order.
 */
import type { WebSocket } from 'ws';
import { CorkUntilFlush } from './cork-until-flush.js';
import { idleWebSocket, textFrame } from './direct-writes.js';

/** One text message as a ready WebSocket frame, shared by every connection it goes to. */
export class SharedFrame {
  private list: Buffer[] | undefined;
  /** The text as UTF-8, encoded once: its length bounds the send buffer, and it is the frame's payload. */
  private readonly payload: Buffer;
  /** Its bytes on the wire (header included, once framed; the payload's until then). */
  bytes: number;

  constructor(readonly text: string) {
    this.payload = Buffer.from(text);
    this.bytes = this.payload.length;
  }

  /**
   * The frame, made on first use, as one buffer (header and payload joined: direct-writes.ts
   * textFrame): ws's sendFrame then writes it with one socket write per recipient instead of two.
   */
  frame(): Buffer[] {
    if (this.list === undefined) {
      this.list = textFrame(this.payload);
      stats.framed++;
      this.bytes = this.list.reduce((n, b) => n + b.length, 0);
    }
    return this.list;
  }
}

/** The sockets written during a burst, flushed together (cork-until-flush.ts). */
const corked = new CorkUntilFlush((flush) => process.nextTick(flush));

/**
 * What the short path did, for test/protocol-fast-paths.test.ts: frames built, frames written
 * through it, and socket flushes (uncorks), fewer than the writes when several share a socket.
 */
const stats = { framed: 0, written: 0 };
export function sharedFrameCount(): { framed: number; written: number; flushes: number } {
  return { ...stats, flushes: corked.flushes };
}


/**
 * Writes a shared frame to an open connection. Straight to ws's frame writer when it is idle,
 * else through ws.send behind what is queued; never reorders. The caller checks the send buffer.
 */
export function writeShared(socket: WebSocket, shared: SharedFrame): void {
  if (!idleWebSocket(socket)) {
    socket.send(shared.text);
    return;
  }
  const tcp = socket._socket;
  // Uncorked once the event and its promise jobs are done (a tick queued from a promise job runs after them).
  if (tcp) corked.cork(tcp);
  stats.written++;
  socket._sender.sendFrame(shared.frame());
}
