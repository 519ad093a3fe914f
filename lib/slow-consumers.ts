/**
 * Slow consumers: a client that stops reading would make the server buffer everything sent to it.
 * Every `sendBufferCheckMs` the unsent bytes of each connection are measured (ws's bufferedAmount,
 * which covers the TCP socket's and ws's own queues, plus Engine.IO's packet buffer, where
 * long-polling data waits); a connection past `maxSendBuffer` is closed at once, its buffers
 * dropped. A sweep reads two numbers per connection, so it costs nothing on the send path.
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

export function watchSlowConsumers(io: AppServer, limits: AbuseLimits, logger: Logger): () => void {
  if (limits.maxSendBuffer <= 0) return () => {};
  const timer = setInterval(() => {
    const clients = (io.engine as unknown as { clients: Record<string, EngineConn> }).clients;
    for (const id in clients) {
      const conn = clients[id]!;
      const bytes = unsentBytes(conn);
      if (bytes <= limits.maxSendBuffer) continue;
      logger.warn('slow consumer disconnected', { conn: conn.id, address: conn.remoteAddress, unsentBytes: bytes, limit: limits.maxSendBuffer });
      // Drop what is queued: a graceful close would wait for the client to read it all.
      conn.close(true);
      conn.transport?.socket?.terminate?.();
    }
  }, limits.sendBufferCheckMs);
  timer.unref();
  return () => clearInterval(timer);
}
