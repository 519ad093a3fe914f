/**
 * The service's socket.io vocabulary: the typed server, namespace and socket, the state each
 * connection keeps, and the key space of client rooms. Apart from the pub/sub core (pubsub.ts)
 * because the modules the core calls (recovery, replies, write limits) need these names too.
 */
import type { DefaultEventsMap, Namespace, Server, Socket } from 'socket.io';
import type { AuthState } from '../auth/principal.js';
import type { ServerEvents } from './events.js';
import type { RoomNames } from './room-names.js';

/** Per-connection protocol state, kept in socket.data. */
export interface SocketState {
  /** room -> display name this socket joined it with */
  names: RoomNames;
  /** the name of the most recent JOIN, used as sender for rooms it publishes to without joining */
  lastName: string | undefined;
  /** /lobby: the one lobby this socket is in */
  lobby: string | undefined;
  /** Identity and rights from the connection's credentials (auth on); set before `attach`. */
  auth: AuthState | undefined;
}

export type AppServer = Server<DefaultEventsMap, ServerEvents, DefaultEventsMap, SocketState>;
export type AppNamespace = Namespace<DefaultEventsMap, ServerEvents, DefaultEventsMap, SocketState>;
export type AppSocket = Socket<DefaultEventsMap, ServerEvents, DefaultEventsMap, SocketState>;

/**
 * Client room names live in their own key space, so no client can join a room named like another
 * socket's id and read what is sent to that socket alone.
 */
export const ROOM_PREFIX = 'r:';
