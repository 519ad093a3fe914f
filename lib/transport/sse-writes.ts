/**
 * The short path from a Server-Sent Events delivery to the wire (lib/http/sse-member.ts): an
 * event is encoded once into a Buffer, framed once as an HTTP/1.1 chunk (`<hex size>\r\n<event>\r\n`),
 * and that same Buffer is written straight to every stream's socket. `res.write(text)` would instead
 * encode the text again, write the chunk size, the event and the CRLF as separate socket writes
 * and schedule an uncork, per stream.
 *
 * Writes are also coalesced: each socket written to is corked once and uncorked in the check phase
 * of the current event-loop iteration (setImmediate), so a stream that gets several publications in
 * one iteration receives them in one writev. Not at the end of the current event (process.nextTick,
 * as the WebSocket paths do): node's HTTP server handles each of the pipelined requests a publisher
 * sent in one packet in an event of its own, and a flush per event measured one writev per
 * publication and stream. The flush still runs before the loop waits for I/O again: no timer, no
 * added wait beyond the I/O events already being handled.
 *
 * This relies on internals of node:http's OutgoingMessage (`socket._httpMessage`, `outputData`,
 * `_headerSent`, `chunkedEncoding`), checked at start-up (internals.ts). The short path is taken
 * only when the response owns its socket, its headers are out and nothing of it waits in node's
 * own buffer: then node would write to the socket directly too, and the order is the same. An
 * HTTP/1.0 stream (no chunked encoding) gets the plain event the same way; anything else (a
 * response still waiting for its turn on a pipelined connection, an ended one) takes `res.write`.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CorkUntilFlush } from './cork-until-flush.js';

/** The OutgoingMessage fields the short path reads (untyped internals). */
interface ResponseInternals {
  socket: (Socket & { _httpMessage?: unknown }) | null;
  outputData: unknown[];
  _headerSent: boolean;
  chunkedEncoding: boolean;
  writableEnded: boolean;
}

const CRLF = '\r\n';

/** One SSE event as bytes, shared by every stream it goes to. */
export class SharedChunk {
  /** The event's bytes. */
  readonly data: Buffer;
  private chunk: Buffer | undefined;

  constructor(text: string) {
    this.data = Buffer.from(text);
    stats.encoded++;
  }

  get bytes(): number {
    return this.data.length;
  }

  /** The event as one HTTP/1.1 chunk, made on first use. */
  chunked(): Buffer {
    if (this.chunk === undefined) {
      const head = `${this.data.length.toString(16)}${CRLF}`;
      const chunk = Buffer.allocUnsafe(head.length + this.data.length + 2);
      chunk.write(head, 0, 'latin1');
      this.data.copy(chunk, head.length);
      chunk.write(CRLF, head.length + this.data.length, 'latin1');
      this.chunk = chunk;
    }
    return this.chunk;
  }
}

/** The sockets written during a burst, flushed together (cork-until-flush.ts). */
const corked = new CorkUntilFlush(setImmediate);

/**
 * What the short path did, for test/protocol-fast-paths.test.ts: events encoded, events written
 * through it, and socket flushes (uncorks), fewer than the writes when several share a socket.
 */
const stats = { encoded: 0, written: 0 };
export function sharedChunkCount(): { encoded: number; written: number; flushes: number } {
  return { ...stats, flushes: corked.flushes };
}

/** Writes a shared event to a stream, straight to its socket when node would too; never reorders. */
export function writeSharedChunk(res: ServerResponse, shared: SharedChunk): void {
  const r = res as unknown as ResponseInternals;
  const socket = r.socket;
  if (socket === null || socket._httpMessage !== res || !socket.writable || !r._headerSent || r.outputData.length !== 0 || r.writableEnded) {
    res.write(shared.data);
    return;
  }
  // Uncorked once this iteration's I/O events are handled (see the header).
  corked.cork(socket);
  stats.written++;
  socket.write(r.chunkedEncoding ? shared.chunked() : shared.data);
}
