/**
 * socket.io joins every socket to a room named by its own id (`to(id)` and `except(id)` rely on it;
 * the hub's deliveries leave their publisher out by its id instead: fanout-adapter.ts `deliverHere`).
 * socket.io-adapter stores that room like any other: a Set of one in `rooms` and an entry of the
 * Map, ~190 B per connection. Here it is not stored but served:
 * the socket's entry in `sids` (kept as socket.io-adapter keeps it, own id included) already says
 * whether the socket is in its own room, so `rooms` answers get/has/size/iteration for it as if it
 * held the Set.
 *
 * Nothing private is replaced. The adapter's instance gets:
 *   - `rooms`: an OwnIdRooms (a Map that stores the other rooms and serves the own-id ones);
 *   - `addAll`, `del`, `delAll` wrapped: the own-id room's join/leave, with socket.io-adapter's
 *     'create-room', 'join-room', 'leave-room', 'delete-room' events in the same order. Whenever
 *     the room stops being "the owner alone" (another socket joins it; an unusual order of rooms in
 *     delAll), it is stored as a real Set and socket.io-adapter's own code takes over.
 * Every other reader (apply() behind broadcast, broadcastWithAck, fetchSockets, socketsJoin/Leave,
 * disconnectSockets and computeExceptSids behind `except`; ClusterAdapter's handling of other
 * nodes' requests) goes through rooms.get/has. internals.ts checks that at start-up.
 *
 * One difference is left: a Map walk yields the stored rooms first, then the served ones, where
 * socket.io-adapter yields all in creation order.
 */
import type { Adapter, Room, SocketId } from 'socket.io-adapter';

type Sids = Map<SocketId, Set<Room>>;
type Entry = [Room, Set<SocketId>];

const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!;

/** An adapter's rooms: the stored ones, and each socket's own-id room served from `sids`. */
export class OwnIdRooms extends Map<Room, Set<SocketId>> {
  /** How many own-id rooms are served (so `size` needs no walk). */
  private served = 0;

  constructor(private readonly sids: Sids) {
    super();
  }

  /** Whether `room` is a socket's own-id room, served and not stored. */
  isServed(room: Room): boolean {
    return this.sids.get(room)?.has(room) === true && !super.has(room);
  }

  override get(room: Room): Set<SocketId> | undefined {
    const stored = super.get(room);
    if (stored !== undefined) return stored;
    // A Set of one, as socket.io-adapter would hold.
    return this.sids.get(room)?.has(room) === true ? new Set([room]) : undefined;
  }

  override has(room: Room): boolean {
    return super.has(room) || this.sids.get(room)?.has(room) === true;
  }

  override get size(): number {
    return (mapSize.call(this) as number) + this.served;
  }

  /** The stored rooms only (own-id rooms that had to be stored included): a walk that skips the served ones. */
  stored(): IterableIterator<Entry> {
    return super.entries();
  }

  private *servedEntries(): Generator<Entry> {
    for (const [id, rooms] of this.sids) if (rooms.has(id) && !super.has(id)) yield [id, new Set([id])];
  }

  private *all(): Generator<Entry> {
    yield* super.entries();
    yield* this.servedEntries();
  }

  override entries(): MapIterator<Entry> {
    return this.all() as unknown as MapIterator<Entry>;
  }

  override [Symbol.iterator](): MapIterator<Entry> {
    return this.entries();
  }

  override keys(): MapIterator<Room> {
    return (function* (entries: Iterable<Entry>) {
      for (const [room] of entries) yield room;
    })(this.all()) as unknown as MapIterator<Room>;
  }

  override values(): MapIterator<Set<SocketId>> {
    return (function* (entries: Iterable<Entry>) {
      for (const [, members] of entries) yield members;
    })(this.all()) as unknown as MapIterator<Set<SocketId>>;
  }

  override forEach(callback: (members: Set<SocketId>, room: Room, map: Map<Room, Set<SocketId>>) => void, thisArg?: unknown): void {
    for (const [room, members] of this.all()) callback.call(thisArg, members, room, this);
  }

  /** The owner joined its own room (not stored before). */
  noteServed(): void {
    this.served++;
  }

  /** The owner left its own room, or the room was stored from now on. */
  noteUnserved(): void {
    this.served--;
  }

  /** Stores a served own-id room as a real Set (then socket.io-adapter's code handles it as any room). */
  store(room: Room): void {
    super.set(room, new Set([room]));
    this.served--;
  }
}

/** An adapter whose own-id rooms are served (see the header). */
export function servesOwnIdRooms(adapter: Adapter): boolean {
  return adapter.rooms instanceof OwnIdRooms;
}

/** Whether `room` is one of `adapter`'s served own-id rooms (its one member is `room`): no Set made. */
export function isServedOwnIdRoom(adapter: Adapter, room: Room): boolean {
  return adapter.rooms instanceof OwnIdRooms && adapter.rooms.isServed(room);
}

/** The stored rooms of an adapter (all of them for any other adapter): for walks that skip socket ids anyway. */
export function storedRooms(adapter: Adapter): Iterable<Entry> {
  return adapter.rooms instanceof OwnIdRooms ? adapter.rooms.stored() : adapter.rooms;
}

/**
 * Serves `adapter`'s own-id rooms (see the header). Call right after it is made, before any socket
 * joins (its `rooms` must still be empty).
 */
export function serveOwnIdRooms(adapter: Adapter): void {
  if (adapter.rooms.size !== 0 || adapter.rooms instanceof OwnIdRooms) throw new Error('serveOwnIdRooms: the adapter already has rooms');
  const rooms = new OwnIdRooms(adapter.sids);
  adapter.rooms = rooms;
  const { addAll, del, delAll } = adapter;

  adapter.addAll = function (this: Adapter, id: SocketId, joined: Set<Room>) {
    let own = false;
    for (const room of joined) {
      if (room === id) own = true;
      // Someone else joins a served room: it is stored from now on.
      else if (rooms.isServed(room)) rooms.store(room);
    }
    if (!own || rooms.has(id)) return addAll.call(this, id, joined);
    // The owner joins its own room, which does not exist yet: served. socket.io-adapter's events
    // and order, with the rooms before it in `joined` handled by it first.
    const before = new Set<Room>();
    const after = new Set<Room>();
    let seen = false;
    for (const room of joined) {
      if (room === id) seen = true;
      else (seen ? after : before).add(room);
    }
    const results: unknown[] = [];
    if (before.size > 0) results.push(addAll.call(this, id, before));
    let mine = this.sids.get(id);
    if (mine === undefined) this.sids.set(id, (mine = new Set()));
    mine.add(id);
    rooms.noteServed();
    this.emit('create-room', id);
    this.emit('join-room', id, id);
    if (after.size > 0) results.push(addAll.call(this, id, after));
    if (results.some((r) => r instanceof Promise)) return Promise.all(results).then(() => undefined);
  };

  adapter.del = function (this: Adapter, id: SocketId, room: Room) {
    if (room !== id || !rooms.isServed(id)) return del.call(this, id, room);
    this.sids.get(id)!.delete(id);
    rooms.noteUnserved();
    this.emit('leave-room', id, id);
    this.emit('delete-room', id);
  };

  adapter.delAll = function (this: Adapter, id: SocketId) {
    const mine = this.sids.get(id);
    if (mine !== undefined && rooms.isServed(id)) {
      if (mine.values().next().value === id) {
        // The usual order (the own room joined first): its events first, then the others'.
        mine.delete(id);
        rooms.noteUnserved();
        this.emit('leave-room', id, id);
        this.emit('delete-room', id);
      } else {
        // Left and joined again later: stored, so socket.io-adapter's walk keeps the order.
        rooms.store(id);
      }
    }
    return delAll.call(this, id);
  };
}
