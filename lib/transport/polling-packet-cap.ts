/**
 * At most MAX_PACKETS_PER_POLL packets in one HTTP long-polling response, for every client
 * (Engine.IO v3 and v4 alike); the rest go in the next responses, in order.
 *
 * Engine.IO flushes its whole write buffer into the pending poll. python-engineio (4.x, as Debian
 * ships it) refuses a payload of more than 16 packets (`Payload.max_decode_packets`) and drops the
 * connection, so a burst of notifications while it polls cut it off.
 *
 * The cap sits in the one place both protocol versions go through: the Engine.IO socket's
 * `flush()`, which hands the buffer to the transport. Packets past the cap are put back at the head
 * of the buffer; the client's next poll (the transport's `ready`) flushes them, and a transport
 * upgrade takes them with it. Write callbacks of a capped flush run with its first response.
 * Set per connection (not on engine.io's class), checked: without the expected internals the
 * connection keeps Engine.IO's own flush.
 */
import type { Logger } from '../log/logger.js';

/** python-engineio's `Payload.max_decode_packets`. */
export const MAX_PACKETS_PER_POLL = 16;

/** The parts of engine.io's Socket the cap relies on. */
interface EngineSocket {
  readyState: string;
  writeBuffer: unknown[];
  transport: { name: string; writable: boolean; shouldClose?: unknown };
  flush(): void;
}

interface Engine {
  on(event: 'connection', fn: (conn: EngineSocket) => void): unknown;
}

function usable(conn: EngineSocket): boolean {
  return typeof conn.flush === 'function' && Array.isArray(conn.writeBuffer) && typeof conn.transport?.name === 'string';
}

/** The capped flush of each (engine.io flush, cap): one function for every connection, no closure each. */
const cappedFlushes = new Map<EngineSocket['flush'], Map<number, EngineSocket['flush']>>();

function cappedFlush(flush: EngineSocket['flush'], max: number): EngineSocket['flush'] {
  let byMax = cappedFlushes.get(flush);
  if (!byMax) cappedFlushes.set(flush, (byMax = new Map()));
  let capped = byMax.get(max);
  if (!capped) {
    capped = function (this: EngineSocket) {
      const transport = this.transport;
      // A pending close adds a packet to the response: leave room for it.
      const limit = transport.shouldClose ? max - 1 : max;
      if (transport.name !== 'polling' || !transport.writable || this.readyState === 'closed' || this.writeBuffer.length <= limit) {
        flush.call(this);
        return;
      }
      const rest = this.writeBuffer.splice(limit);
      flush.call(this);
      // Whatever was written while flushing goes after them.
      this.writeBuffer = this.writeBuffer.length ? rest.concat(this.writeBuffer) : rest;
    };
    byMax.set(max, capped);
  }
  return capped;
}

/**
 * Caps the packets per polling response on this connection. A connection opened over WebSocket
 * never polls (Engine.IO does not go back to polling): it keeps Engine.IO's flush, no own property.
 */
export function capPollingPackets(conn: EngineSocket, max = MAX_PACKETS_PER_POLL): boolean {
  if (!usable(conn)) return false;
  if (conn.transport.name === 'websocket') return true;
  conn.flush = cappedFlush(conn.flush, max);
  return true;
}

/** Caps every connection of `engine` from its handshake on. */
export function capPollingResponses(engine: Engine, logger: Logger): void {
  let warned = false;
  engine.on('connection', (conn) => {
    if (capPollingPackets(conn) || warned) return;
    warned = true;
    logger.warn('engine.io internals changed: long-polling responses are not capped (python-engineio clients may be cut off by bursts)');
  });
}
