/**
 * socket.io connections as hub members. A socket is a subscriber (SocketMember: a view of the
 * socket and its socket.data, made when needed); the sockets of a namespace are one member group
 * (SocketIoGroup), held in socket.io's adapter rooms, so a delivery to a room is one broadcast,
 * encoded once and written to every member's connection directly (lib/transport/fanout-adapter.ts).
 * Also here: what a socket.io connection needs when it arrives (its state, connection-state
 * recovery of its rooms).
 */
import { memberEntry, type Hub } from './hub.js';
import { ROOM_PREFIX, type AppNamespace, type AppSocket } from './app-socket.js';
import type { Envelope, MemberGroup, Protocol, Subscriber } from './types.js';
import type { AuthState } from '../auth/principal.js';
import { deliverHere, emitHere, storedRooms, unsentBytes, type EngineConn } from '../transport/index.js';
import { resumeFromStream, streamRestoreOf } from '../history/cluster-recovery.js';
import { resume } from '../history/recovery.js';
import type { Logger } from '../log/logger.js';
import { RoomNames } from './room-names.js';

const EVENT_PACKET = 2;
const roomKey = (room: string): string => ROOM_PREFIX + room;

/** A socket as a subscriber: every field read from the socket, so it costs one small object when made. */
export class SocketMember implements Subscriber {
  readonly protocol: Protocol = 'socketio';
  readonly trusted = false;

  constructor(
    readonly socket: AppSocket,
    readonly group: SocketIoGroup,
  ) {}

  get id(): string {
    return this.socket.id;
  }

  get ns(): string {
    return this.group.ns;
  }

  get auth(): AuthState | undefined {
    return this.socket.data.auth;
  }

  get rooms(): RoomNames {
    return this.socket.data.names;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** At once and in order with everything else written to the socket (replies, replays). */
  send(envelope: Envelope): void {
    emitHere(this.socket, envelope.event, ...envelope.args);
  }

  unsentBytes(): number {
    return unsentBytes(this.socket.conn as unknown as EngineConn);
  }
}

/** The group of each namespace, for memberOf. */
const groups = new WeakMap<object, SocketIoGroup>();

/** The socket as a hub member (its namespace attached to the hub: attachNamespace). */
export function memberOf(socket: AppSocket): SocketMember {
  const group = groups.get(socket.nsp);
  if (!group) throw new Error(`namespace ${socket.nsp.name} is not attached to the hub`);
  return new SocketMember(socket, group);
}

export class SocketIoGroup implements MemberGroup {
  readonly ns: string;

  constructor(
    private readonly nsp: AppNamespace,
    private readonly hub: Hub,
    private readonly logger: Logger,
  ) {
    this.ns = nsp.name;
    groups.set(nsp, this);
    hub.addGroup(this.ns, this);
  }

  private socketOf(member: Subscriber): AppSocket {
    if (!(member instanceof SocketMember) || member.group !== this) throw new Error(`not a socket.io member of ${this.ns}`);
    return member.socket;
  }

  add(member: Subscriber, room: string): void | Promise<void> {
    return this.socketOf(member).join(roomKey(room));
  }

  remove(member: Subscriber, room: string): void | Promise<void> {
    return this.socketOf(member).leave(roomKey(room));
  }

  count(room: string): number {
    return this.nsp.adapter.rooms.get(roomKey(room))?.size ?? 0;
  }

  *roomSizes(): Iterable<[string, number]> {
    // The adapter's rooms are ours (prefixed) and socket.io's own room of each socket id, which the
    // walk skips (the served ones without being made: lib/transport/own-id-rooms.ts).
    for (const [key, members] of storedRooms(this.nsp.adapter)) if (key.startsWith(ROOM_PREFIX)) yield [key.slice(ROOM_PREFIX.length), members.size];
  }

  deliver(envelope: Envelope, except: string | undefined, streamOffset: string | undefined): number {
    // What `nsp.to(room).except(id).emit(...)` does, on this node only; even to a room without
    // members here (connection-state recovery keeps the packet for the room's sessions that are away).
    return deliverHere(this.nsp.adapter, { type: EVENT_PACKET, data: [envelope.event, ...envelope.args] }, roomKey(envelope.room), except, streamOffset);
  }

  sendTo(id: string, event: string, args: unknown[]): void {
    (this.nsp.to(id).emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
  }

  /**
   * Initialises a new connection's state. A socket restored by connection-state recovery keeps its
   * rooms, as far as its rights still allow (lib/history/recovery.ts); in cluster mode that takes a
   * read from Redis first (lib/history/cluster-recovery.ts), and the result settles once it is done.
   */
  attach(socket: AppSocket): void | Promise<void> {
    if (socket.recovered) {
      const member = new SocketMember(socket, this);
      const deps = {
        authorize: (room: string) => this.hub.authorize(member, 'subscribe', room),
        addPresence: (room: string, name: string) => this.hub.trackPresence(this.ns, room, memberEntry(member, name)),
        logger: this.logger,
      };
      const stream = streamRestoreOf(socket);
      if (!stream) return resume(socket, deps);
      return resumeFromStream(socket, deps, stream.restore, stream.offset, stream.failures).catch((err: unknown) => {
        this.logger.error('connection state recovery failed', { nsp: this.ns, err });
      });
    }
    // Every field up front: one allocation, no out-of-object property store later.
    socket.data = { names: new RoomNames(), lastName: undefined, lobby: undefined, auth: socket.data.auth };
  }
}
