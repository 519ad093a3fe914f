/**
 * The sockets sharing one Engine.IO connection (one per namespace it joined). socket.io's Client
 * keeps them in a private map; this is the one place that reads it.
 */
import type { AppSocket } from '../core/app-socket.js';

interface ClientInternals {
  sockets: Map<string, AppSocket>;
}

export function socketsOnConnection(socket: AppSocket): AppSocket[] {
  return [...(socket.client as unknown as ClientInternals).sockets.values()];
}
