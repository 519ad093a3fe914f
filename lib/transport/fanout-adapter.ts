/**
 * The in-memory adapter with a leaner fan-out for the one case a notification hub lives on: one
 * packet to the members of one room.
 *
 * socket.io's generic broadcast builds a Set of every recipient id (to de-duplicate across several
 * rooms) before writing. For a single room there is nothing to de-duplicate: walk the room and
 * hand socket.io's once-encoded frame to each member's connection (see direct-writes.ts). Several
 * rooms, volatile and compressed packets go down socket.io's own path.
 */
import type { BroadcastOptions, Room, SocketId } from 'socket.io-adapter';
import { Adapter } from 'socket.io-adapter';
import { joinFrame, writeFrame, type EngineConn, type PacketOpts } from './direct-writes.js';
import { isServedOwnIdRoom, serveOwnIdRooms } from './own-id-rooms.js';
import { getsOffsets, takePlain, writePlain, type PlainEncoding } from './recovery-offsets.js';

/** Broadcasts that took the single-room path below (read by test/fast-paths.test.ts). */
let singleRoomBroadcasts = 0;
export function singleRoomBroadcastCount(): number {
  return singleRoomBroadcasts;
}
/** Of those, hub deliveries handed over as a room and a publisher id (deliverHere; read by the same test). */
let roomDeliveries = 0;
export function roomDeliveryCount(): number {
  return roomDeliveries;
}

interface RoomSocket {
  client: { conn: EngineConn; writeToEngine(packets: unknown[], opts: unknown): void };
  notifyOutgoingListeners?: (packet: unknown) => void;
}

/**
 * Ids of the members of the excluded rooms. A socket's own room (`except(socket.id)`) is one id,
 * returned as such: no Set made. (The hub's deliveries name their publisher's id: deliverHere.)
 */
function exceptIds(adapter: Adapter, rooms: Set<Room> | undefined): Set<SocketId> | SocketId | undefined {
  if (!rooms || rooms.size === 0) return undefined;
  if (rooms.size === 1) {
    for (const room of rooms) {
      // A socket's own room (the sender of a NOTIFY), as own-id-rooms.ts serves it: no Set made.
      if (isServedOwnIdRoom(adapter, room)) return room;
      const members = adapter.rooms.get(room);
      if (members?.size === 1) for (const id of members) return id;
    }
  }
  const ids = new Set<SocketId>();
  for (const room of rooms) adapter.rooms.get(room)?.forEach((id) => ids.add(id));
  return ids;
}

/** Whether a broadcast can take the single-room path: one room, neither volatile nor compressed. */
function singleRoom(opts: BroadcastOptions): boolean {
  const flags = opts.flags;
  return opts.rooms.size === 1 && !flags?.volatile && !flags?.compress;
}

/** The single-room path for socket.io's broadcast options (one room; `except` as rooms). */
function fanOutOneRoom(adapter: Adapter, packet: any, opts: BroadcastOptions): void {
  const [room] = opts.rooms as Set<Room>;
  const except = exceptIds(adapter, opts.except);
  fanOut(adapter, packet, room!, typeof except === 'string' ? except : undefined, typeof except === 'object' ? except : undefined);
}

/**
 * This node's members of `room`, but `one` and those in `many`, one encoding for all (see the
 * header). Answers how many members of the room there are here, `one` not counted.
 */
function fanOut(adapter: Adapter, packet: any, room: Room, one: SocketId | undefined, many: Set<SocketId> | undefined): number {
  singleRoomBroadcasts++;
  const members = adapter.rooms.get(room);
  if (!members) return 0;
  const count = one !== undefined && members.has(one) ? members.size - 1 : members.size;
  // Nobody to send to (a room whose only member is the publisher): no encoding of a message that
  // may be megabytes long.
  if (count === 0) return 0;
  const packetOpts: PacketOpts = { preEncoded: true, volatile: undefined, compress: undefined };
  packet.nsp = adapter.nsp.name;
  const encoded = (adapter as unknown as { _encode(p: unknown, o: PacketOpts): unknown[] })._encode(packet, packetOpts);
  // With recovery on: the packet without its offset, encoded once if a member gets none (lib/transport/recovery-offsets.ts).
  const plain = takePlain(adapter);
  const sockets: Map<SocketId, RoomSocket> = adapter.nsp.sockets as never;
  // One buffer per frame, joined once for every member (direct-writes.ts); Engine.IO's path takes it too.
  const frame = (packetOpts.wsPreEncodedFrame = joinFrame(packetOpts.wsPreEncodedFrame));
  for (const id of members) {
    if (id === one || many?.has(id)) continue;
    const socket = sockets.get(id);
    if (!socket) continue;
    if (plain !== undefined && !getsOffsets(socket.client.conn)) {
      writeDirect(socket, plain());
      continue;
    }
    socket.notifyOutgoingListeners?.(packet);
    if (frame === undefined || !writeFrame(socket.client.conn, frame)) socket.client.writeToEngine(encoded, packetOpts);
  }
  return count;
}

export class FanoutAdapter extends Adapter {
  constructor(nsp: any) {
    super(nsp);
    // Each socket's own-id room served, not stored (lib/transport/own-id-rooms.ts).
    serveOwnIdRooms(this);
  }

  override broadcast(packet: any, opts: BroadcastOptions): void {
    if (singleRoom(opts)) fanOutOneRoom(this, packet, opts);
    else super.broadcast(packet, opts);
  }

  /**
   * What `nsp.to(room).except(id).emit(...)` does when `except` is a socket id (a publisher),
   * without the options' two Sets and the lookups that turn the excepted room back into its one
   * member: a hub delivery (deliverHere).
   */
  deliverToRoom(packet: any, room: Room, except: SocketId | undefined): number {
    return fanOut(this, packet, room, except, undefined);
  }
}

/** The plain encoding to one member, by the same short path. */
function writeDirect(socket: RoomSocket, plain: PlainEncoding): void {
  const frame = (plain.opts.wsPreEncodedFrame = joinFrame(plain.opts.wsPreEncodedFrame));
  if (frame !== undefined && writeFrame(socket.client.conn, frame)) {
    socket.notifyOutgoingListeners?.(plain.packet);
    return;
  }
  writePlain(socket, plain);
}

interface OffsetAdding {
  addOffsetIfNecessary?: (packet: unknown, opts: Pick<BroadcastOptions, 'flags'>, offset: string) => void;
}

/** The options of a hub delivery as the cluster adapter's addOffsetIfNecessary reads them (flags only). */
const PLAIN_FLAGS: Pick<BroadcastOptions, 'flags'> = Object.freeze({ flags: Object.freeze({}) });

/**
 * Delivers a packet to this node's members of `room`, but the socket `except` (an id), by the
 * fan-out path, whatever the adapter: the fan-out adapters (a single node) deliver locally anyway;
 * a cluster adapter's own `broadcast` would hand it to the other nodes again, so its in-memory rooms
 * are walked here as the fan-out adapter walks its own. `streamOffset`: the cluster stream entry
 * the packet came from, appended as its recovery offset as the cluster adapter does
 * (addOffsetIfNecessary). Answers how many members of the room this node has, `except` not counted.
 */
export function deliverHere(adapter: Adapter, packet: any, room: Room, except: SocketId | undefined, streamOffset: string | undefined): number {
  roomDeliveries++;
  if (adapter instanceof FanoutAdapter) return adapter.deliverToRoom(packet, room, except);
  if (streamOffset !== undefined) (adapter as OffsetAdding).addOffsetIfNecessary?.(packet, PLAIN_FLAGS, streamOffset);
  return fanOut(adapter, packet, room, except, undefined);
}
