/**
 * The pub/sub core every namespace module calls: membership with display names, presence and
 * the one publish path. Everything that must apply to every message (limits now; history,
 * metrics and authorization later) plugs in here, not in the namespace modules.
 */
import type { Namespace, Server, Socket } from 'socket.io';
import type { DefaultEventsMap } from 'socket.io';
import type { AuthState } from './auth/principal.js';
import type { Action } from './auth/rights.js';
import { ServiceError } from './errors.js';
import type { ServerEvents } from './events.js';
import type { Logger } from './logger.js';
import type { Member, PresenceStore } from './presence.js';
import type { EventBucket } from './rate-limits.js';
import { RoomNames } from './room-names.js';
import type { Limits } from './validate.js';

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
  /** Abuse limits: this connection's event rate, made on its first event (lib/auth/access.ts). */
  events: EventBucket | undefined;
}

/**
 * What the core asks before a JOIN (subscribe) and a client publication (publish); lib/auth
 * implements it. Synchronous when the answer is known; throws (or rejects with) FORBIDDEN.
 */
export interface AccessControl {
  authorize(socket: AppSocket, action: Action, room: string): void | Promise<void>;
}

/** A verb's result once a publication that may have waited for authorization is done. */
export function whenDone<T>(sent: void | Promise<void>, result: T): T | Promise<T> {
  return sent ? sent.then(() => result) : result;
}

export type AppServer = Server<DefaultEventsMap, ServerEvents, DefaultEventsMap, SocketState>;
export type AppNamespace = Namespace<DefaultEventsMap, ServerEvents, DefaultEventsMap, SocketState>;
export type AppSocket = Socket<DefaultEventsMap, ServerEvents, DefaultEventsMap, SocketState>;

export interface CoreLimits extends Limits {
  maxRoomsPerSocket: number;
}

/**
 * Client room names live in their own key space, so no client can join a room named like another
 * socket's id and read what is sent to that socket alone.
 */
const roomKey = (room: string): string => `r:${room}`;

export class PubSub {
  /** Set when authentication is on (lib/auth/access.ts); absent, everything is allowed. */
  access?: AccessControl;

  constructor(
    readonly limits: CoreLimits,
    private readonly presence: PresenceStore,
    private readonly logger: Logger,
  ) {}

  /** Initialises a new connection's state. */
  attach(socket: AppSocket): void {
    // Every field up front: one allocation, no out-of-object property store later.
    socket.data = { names: new RoomNames(), lastName: undefined, lobby: undefined, auth: socket.data.auth, events: undefined };
  }

  /** Throws FORBIDDEN unless the connection may `action` the room (always allowed with auth off). */
  authorize(socket: AppSocket, action: Action, room: string): void | Promise<void> {
    return this.access?.authorize(socket, action, room);
  }

  /**
   * Joins `room` under `name` (needs subscribe rights); joining again only updates the name. With
   * auth on the name is the connection's identity, whatever was asked. Returns the name used.
   */
  async join(socket: AppSocket, room: string, name: string): Promise<string> {
    await this.access?.authorize(socket, 'subscribe', room);
    const state = socket.data;
    if (state.auth) name = state.auth.name;
    if (!state.names.has(room)) {
      if (state.names.size >= this.limits.maxRoomsPerSocket) {
        throw new ServiceError('TOO_MANY_ROOMS', `a connection may be in at most ${this.limits.maxRoomsPerSocket} rooms`);
      }
      await socket.join(roomKey(room));
    }
    state.names.set(room, name);
    state.lastName = name;
    await this.presence.add(socket.nsp.name, room, { id: socket.id, name });
    // The connection may have closed while the store was busy: do not leave a ghost behind.
    if (socket.disconnected) await this.presence.remove(socket.nsp.name, room, socket.id);
    return name;
  }

  /** Leaves `room`; false when the socket was not in it. */
  async leave(socket: AppSocket, room: string): Promise<boolean> {
    if (!socket.data.names.delete(room)) return false;
    await socket.leave(roomKey(room));
    await this.presence.remove(socket.nsp.name, room, socket.id);
    return true;
  }

  isJoined(socket: AppSocket, room: string): boolean {
    return socket.data.names.has(room);
  }

  /** Name shown as EVENT.sender: the name it joined `room` with, else its last JOIN name. */
  senderName(socket: AppSocket, room: string): string {
    return socket.data.auth?.name ?? socket.data.names.get(room) ?? socket.data.lastName ?? 'unknown';
  }

  /**
   * The one publish path: to every member of `room` in the namespace, except `from` when a client
   * publishes (publishers never receive their own notification). Goes through the adapter, so it
   * reaches members on every node in a cluster.
   *
   * A client's publication needs publish rights: when they must be asked for (--authorize-url),
   * the result is a promise that rejects with FORBIDDEN and nothing is sent; return it from the
   * verb (`whenDone`). Server notices about a member use `announce` instead.
   */
  publish<E extends keyof ServerEvents>(
    from: AppSocket | AppNamespace,
    room: string,
    event: E,
    ...args: Parameters<ServerEvents[E]>
  ): void | Promise<void> {
    if (this.access && 'handshake' in from) {
      const pending = this.access.authorize(from, 'publish', room);
      if (pending) {
        const sent = pending.then(() => {
          from.to(roomKey(room)).emit(event, ...args);
        });
        sent.catch(() => {}); // the verb reports it; never an unhandled rejection
        return sent;
      }
    }
    from.to(roomKey(room)).emit(event, ...args);
  }

  /** A server notice about `socket` (lobby JOINED / LEFT) to the other members: no publish right needed. */
  announce<E extends keyof ServerEvents>(socket: AppSocket, room: string, event: E, ...args: Parameters<ServerEvents[E]>): void {
    socket.to(roomKey(room)).emit(event, ...args);
  }

  /** Sends to one socket by id, on whichever node it is. */
  sendTo<E extends keyof ServerEvents>(nsp: AppNamespace, socketId: string, event: E, ...args: Parameters<ServerEvents[E]>): void {
    nsp.to(socketId).emit(event, ...args);
  }

  members(nsp: AppNamespace, room: string): Promise<Member[]> {
    return this.presence.list(nsp.name, room);
  }

  isMember(nsp: AppNamespace, room: string, socketId: string): Promise<boolean> {
    return this.presence.has(nsp.name, room, socketId);
  }

  count(nsp: AppNamespace, room: string): Promise<number> {
    return this.presence.count(nsp.name, room);
  }

  /** Forgets a closed connection everywhere. socket.io has already removed it from its rooms. */
  async detach(socket: AppSocket): Promise<void> {
    const rooms = socket.data.names.keys();
    socket.data.names.clear();
    await Promise.all(rooms.map((room) => this.presence.remove(socket.nsp.name, room, socket.id)));
    if (rooms.length && this.logger.isDebugEnabled()) {
      this.logger.debug('connection left its rooms', { nsp: socket.nsp.name, socket: socket.id, rooms: rooms.length });
    }
  }

  close(): Promise<void> {
    return this.presence.close();
  }
}
