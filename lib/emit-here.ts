/**
 * Writes an event to one socket of this node, in call order with everything else written to it.
 *
 * With connection-state recovery on, socket.io sends `socket.emit` through the adapter, so the
 * packet gets an id and can be recovered. In cluster mode that is a round trip through the Redis
 * stream: the packet would reach the client after live messages delivered meanwhile (a replay
 * must come before them) and would be stored in the stream again (a later restore would send it
 * twice). Replies, notices and replays go out on this node only, at once.
 */
import type { AppSocket } from './pubsub.js';

export function emitHere(socket: AppSocket, event: string, ...args: unknown[]): void {
  if ((socket.nsp.server as unknown as { opts: { connectionStateRecovery?: object } }).opts.connectionStateRecovery) {
    (socket.nsp.local.to(socket.id).emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
  } else {
    (socket.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
  }
}
