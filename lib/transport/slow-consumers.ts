/**
 * Slow consumers: a client that stops reading would make the server buffer everything sent to it.
 * The limit (--max-send-buffer) is enforced where a packet is queued for a connection: before each
 * write, the connection's unsent bytes (ws's bufferedAmount, which covers the TCP socket's and
 * ws's own queues, plus Engine.IO's packet buffer, where long-polling data waits) and the packet's
 * size are compared with it; past it the packet is not written and the connection is closed at
 * once, its buffers dropped. So a connection never holds more than the limit.
 *
 * The one choke point is lib/transport/direct-writes.ts, which every socket.io write to a connection passes:
 * the fan-out adapter's direct frames (`writeFrame`) and `Client.writeToEngine` (replies, socket.io's
 * own broadcasts, the cluster adapter's deliveries). On the fan-out hot path the check reads a few
 * fields (the buffered amount, nothing queued in Engine.IO); Engine.IO's buffer is counted
 * incrementally (each packet once), and only when it holds something.
 */
import type { Logger } from '../log/logger.js';
import type { AppServer } from '../core/app-socket.js';

interface Packet {
  data?: unknown;
}

/** The parts of Engine.IO's socket the check reads (untyped internals, checked where used). */
export interface EngineConn {
  id?: string;
  readyState: string;
  writeBuffer: Packet[];
  remoteAddress?: string;
  server?: object;
  transport?: { name: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

interface Policy {
  limit: number;
  logger: Logger;
  /** Tests: called after each admitted write with the connection's unsent bytes including it. */
  observer?: (conn: EngineConn, queued: number) => void;
  /** Told of each connection closed (the metrics). */
  onCut?: () => void;
}

/** Engine.IO's write buffer as counted last: the array (replaced on each flush), packets counted, their bytes. */
interface Counted {
  buf: Packet[];
  n: number;
  bytes: number;
}

const POLICY = Symbol('sendLimit');
const COUNTED = Symbol('writeBufferBytes');

function packetBytes(packet: Packet): number {
  const data = packet.data;
  return typeof data === 'string' ? data.length : data instanceof Uint8Array ? data.byteLength : 0;
}

/** Bytes in Engine.IO's write buffer, counting only the packets added since the last call. */
function engineQueued(conn: EngineConn): number {
  const buf = conn.writeBuffer;
  if (buf.length === 0) return 0;
  const holder = conn as unknown as { [COUNTED]?: Counted };
  let counted = holder[COUNTED];
  if (counted === undefined) counted = holder[COUNTED] = { buf, n: 0, bytes: 0 };
  else if (counted.buf !== buf) {
    counted.buf = buf;
    counted.n = 0;
    counted.bytes = 0;
  }
  for (let i = counted.n; i < buf.length; i++) counted.bytes += packetBytes(buf[i]!);
  counted.n = buf.length;
  return counted.bytes;
}

/** A connection's unsent bytes: ws's and the TCP socket's queues, plus Engine.IO's packet buffer. */
export function unsentBytes(conn: EngineConn): number {
  const transport = conn.transport;
  const ws = transport?.name === 'websocket' ? (transport.socket?.bufferedAmount ?? 0) : 0;
  return ws + engineQueued(conn);
}

/**
 * Whether `bytes` more may be queued for `conn`. When not, the connection is closed (once: it is
 * not open afterwards) and the caller drops the packet. Connections of a server without a limit
 * always pass.
 */
export function admitWrite(conn: EngineConn, bytes: number): boolean {
  const policy = (conn.server as { [POLICY]?: Policy } | undefined)?.[POLICY];
  if (policy === undefined || conn.readyState !== 'open') return true;
  const queued = unsentBytes(conn) + bytes;
  if (queued <= policy.limit) {
    policy.observer?.(conn, queued);
    return true;
  }
  cut(conn, queued - bytes, policy);
  return false;
}

function cut(conn: EngineConn, unsent: number, policy: Policy): void {
  // Address and sizes only: never the body.
  policy.logger.warn('slow consumer disconnected', { conn: conn.id, address: conn.remoteAddress, unsentBytes: unsent, limit: policy.limit });
  // Drop what is queued: a graceful close would wait for the client to read it all.
  conn.close(true);
  conn.transport?.socket?.terminate?.();
  policy.onCut?.();
}

/** Turns the limit on for every connection of `io` (0: no limit). Returns the undo. */
export function limitSendBuffers(io: AppServer, maxSendBuffer: number, logger: Logger, onCut?: () => void): () => void {
  const engine = io.engine as unknown as { [POLICY]?: Policy };
  if (maxSendBuffer <= 0) return () => {};
  engine[POLICY] = { limit: maxSendBuffer, logger, ...(onCut ? { onCut } : {}) };
  return () => {
    delete engine[POLICY];
  };
}

/** Tests: sees every admitted write of `io`'s connections with their unsent bytes. */
export function observeSendBuffers(io: AppServer, observer: ((conn: EngineConn, queued: number) => void) | undefined): void {
  const policy = (io.engine as unknown as { [POLICY]?: Policy })[POLICY];
  if (!policy) throw new Error('no send-buffer limit on this server');
  policy.observer = observer;
}
