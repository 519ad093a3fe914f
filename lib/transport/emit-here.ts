/**
 * Writes an event to one socket of this node, at once and in call order with everything else
 * written to it: what `socket.emit` does without connection-state recovery.
 *
 * With recovery on, socket.io sends `socket.emit` through the adapter so the packet gets an id and
 * can be recovered. For replies, notices and replays that is wrong at any depth: a replayed packet
 * already carries its id and would get a second one, and in cluster mode the adapter is a round
 * trip through the Redis stream, after which a replay would reach the client behind live messages
 * and be stored in the stream a second time.
 */
import type { AppSocket } from '../core/app-socket.js';

const EVENT_PACKET = 2;

interface PacketWriter {
  notifyOutgoingListeners?(packet: unknown): void;
  packet(packet: { type: number; data: unknown[] }, opts?: object): void;
}

export function emitHere(socket: AppSocket, event: string, ...args: unknown[]): void {
  const packet = { type: EVENT_PACKET, data: [event, ...args] };
  const writer = socket as unknown as PacketWriter;
  writer.notifyOutgoingListeners?.(packet);
  writer.packet(packet);
}
