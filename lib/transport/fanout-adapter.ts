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

interface RoomSocket {
  client: { conn: EngineConn; writeToEngine(packets: unknown[], opts: unknown): void };
  notifyOutgoingListeners?: (packet: unknown) => void;
}

/**
 * Ids of the members of the excluded rooms. The common case, a publisher's own room, is one id,
 * returned as such: no Set per publication.
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

/** The single-room path: this node's members of the room, one encoding for all (see the header). */
function fanOutOneRoom(adapter: Adapter, packet: any, opts: BroadcastOptions): void {
  singleRoomBroadcasts++;
  const [room] = opts.rooms as Set<Room>;
  const members = adapter.rooms.get(room!);
  if (!members) return;
  const except = exceptIds(adapter, opts.except);
  // Nobody to send to (a room whose only member is the publisher): no encoding of a message that
  // may be megabytes long.
  if (members.size === 1 && typeof except === 'string' && members.has(except)) return;
  const packetOpts: PacketOpts = { preEncoded: true, volatile: undefined, compress: undefined };
  packet.nsp = adapter.nsp.name;
  const encoded = (adapter as unknown as { _encode(p: unknown, o: PacketOpts): unknown[] })._encode(packet, packetOpts);
  // With recovery on: the packet without its offset, encoded once if a member gets none (lib/transport/recovery-offsets.ts).
  const plain = takePlain(adapter);
  const sockets: Map<SocketId, RoomSocket> = adapter.nsp.sockets as never;
  // One buffer per frame, joined once for every member (direct-writes.ts); Engine.IO's path takes it too.
  const frame = (packetOpts.wsPreEncodedFrame = joinFrame(packetOpts.wsPreEncodedFrame));
  const one = typeof except === 'string' ? except : undefined;
  const many = typeof except === 'object' ? except : undefined;
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
  addOffsetIfNecessary?: (packet: unknown, opts: BroadcastOptions, offset: string) => void;
}

/**
 * Delivers a broadcast to this node's members only, by the fan-out path, whatever the adapter:
 * the fan-out adapters (a single node) broadcast locally anyway; a cluster adapter's own
 * `broadcast` would hand it to the other nodes again, so its in-memory rooms are walked here as the
 * fan-out adapter walks its own. `streamOffset`: the cluster stream entry the broadcast came from,
 * appended as its recovery offset as the cluster adapter does (addOffsetIfNecessary).
 */
export function broadcastHere(adapter: Adapter, packet: any, opts: BroadcastOptions, streamOffset: string | undefined): void {
  if (adapter instanceof FanoutAdapter) {
    adapter.broadcast(packet, opts);
    return;
  }
  if (streamOffset !== undefined) (adapter as OffsetAdding).addOffsetIfNecessary?.(packet, opts, streamOffset);
  // socket.io-adapter's own in-memory broadcast, not the cluster adapter's override.
  if (singleRoom(opts)) fanOutOneRoom(adapter, packet, opts);
  else Adapter.prototype.broadcast.call(adapter, packet, opts);
}
