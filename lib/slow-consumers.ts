/**
 * Slow consumers: a client that stops reading would make the server buffer everything sent to it.
 * Every `sendBufferCheckMs` the unsent bytes of each connection are measured (ws's bufferedAmount,
 * which covers the TCP socket's and ws's own queues, plus Engine.IO's packet buffer, where
 * long-polling data waits); a connection past `maxSendBuffer` is closed at once, its buffers
 * dropped. A sweep reads two numbers per connection, in slices, so it costs nothing on the send
 * path and never holds the event loop for long.
 */
import type { AbuseLimits } from './auth/config.js';
import type { Logger } from './logger.js';
import type { AppServer } from './pubsub.js';

interface EngineConn {
  id: string;
  readyState: string;
  writeBuffer: Array<{ data?: unknown }>;
  remoteAddress?: string;
  transport?: { name: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

export function unsentBytes(conn: EngineConn): number {
  let bytes = 0;
  const transport = conn.transport;
  if (transport?.name === 'websocket') bytes += transport.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer) {
    const data = packet.data;
    bytes += typeof data === 'string' ? data.length : data instanceof Uint8Array ? data.byteLength : 0;
  }
  return bytes;
}

/** Connections measured per slice: a sweep never holds the event loop for long, whatever the count. */
const SLICE = 500;

export function watchSlowConsumers(io: AppServer, limits: AbuseLimits, logger: Logger): () => void {
  if (limits.maxSendBuffer <= 0) return () => {};
  // Our own set of connections: Engine.IO's `clients` is a dictionary-mode object, and listing one
  // of 5k entries (Object.keys/values sorts them) cost more than measuring them all. Closed ones
  // leave it at the next sweep: a close listener per connection would cost memory on each.
  const live = new Set<EngineConn>();
  const engine = io.engine as unknown as { on(event: 'connection', listener: (conn: EngineConn) => void): void };
  engine.on('connection', (conn) => live.add(conn));
  let stopped = false;
  let pending: NodeJS.Immediate | undefined;

  const check = (conn: EngineConn | undefined): void => {
    if (!conn || conn.readyState !== 'open') return;
    const bytes = unsentBytes(conn);
    if (bytes <= limits.maxSendBuffer) return;
    logger.warn('slow consumer disconnected', { conn: conn.id, address: conn.remoteAddress, unsentBytes: bytes, limit: limits.maxSendBuffer });
    // Drop what is queued: a graceful close would wait for the client to read it all.
    conn.close(true);
    conn.transport?.socket?.terminate?.();
  };

  // One sweep: every connection, measured a slice per turn of the event loop, so deliveries
  // interleave with it (one pass over 10k connections in one go shows up in delivery latency). The
  // set's iterator goes on across slices; connections that close meanwhile are simply not reached.
  const sweep = (conns: Iterator<EngineConn>): void => {
    pending = undefined;
    if (stopped) return;
    for (let i = 0; i < SLICE; i++) {
      const next = conns.next();
      if (next.done) return;
      if (next.value.readyState === 'closed') live.delete(next.value);
      else check(next.value);
    }
    pending = setImmediate(sweep, conns);
  };

  const timer = setInterval(() => {
    if (pending === undefined) sweep(live.values());
  }, limits.sendBufferCheckMs);
  timer.unref();
  return () => {
    stopped = true;
    live.clear();
    clearInterval(timer);
    if (pending) clearImmediate(pending);
  };
}
