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
import { writeFrame, type EngineConn, type PacketOpts } from './direct-writes.js';
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

export class FanoutAdapter extends Adapter {
  /**
   * Ids of the members of the excluded rooms. The common case, a publisher's own room, is one id,
   * returned as such: no Set per publication.
   */
  private exceptIds(rooms: Set<Room> | undefined): Set<SocketId> | SocketId | undefined {
    if (!rooms || rooms.size === 0) return undefined;
    if (rooms.size === 1) {
      for (const room of rooms) {
        const members = this.rooms.get(room);
        if (members?.size === 1) for (const id of members) return id;
      }
    }
    const ids = new Set<SocketId>();
    for (const room of rooms) this.rooms.get(room)?.forEach((id) => ids.add(id));
    return ids;
  }

  override broadcast(packet: any, opts: BroadcastOptions): void {
    const flags = opts.flags ?? {};
    if (opts.rooms.size !== 1 || flags.volatile || flags.compress) {
      super.broadcast(packet, opts);
      return;
    }
    singleRoomBroadcasts++;
    const [room] = opts.rooms as Set<Room>;
    const members = this.rooms.get(room!);
    if (!members) return;
    const except = this.exceptIds(opts.except);
    // Nobody to send to (a room whose only member is the publisher): no encoding of a message that
    // may be megabytes long.
    if (members.size === 1 && typeof except === 'string' && members.has(except)) return;
    const packetOpts: PacketOpts = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
    packet.nsp = this.nsp.name;
    const encoded = (this as unknown as { _encode(p: unknown, o: PacketOpts): unknown[] })._encode(packet, packetOpts);
    // With recovery on: the packet without its offset, encoded once if a member gets none (lib/transport/recovery-offsets.ts).
    const plain = takePlain(this);
    const sockets: Map<SocketId, RoomSocket> = this.nsp.sockets;
    const frame = packetOpts.wsPreEncodedFrame;
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
}

/** The plain encoding to one member, by the same short path. */
function writeDirect(socket: RoomSocket, plain: PlainEncoding): void {
  const frame = plain.opts.wsPreEncodedFrame;
  if (frame !== undefined && writeFrame(socket.client.conn, frame)) {
    socket.notifyOutgoingListeners?.(plain.packet);
    return;
  }
  writePlain(socket, plain);
}
