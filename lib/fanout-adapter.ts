/**
 * The in-memory adapter with a leaner fan-out for the one case a notification hub lives on: one
 * packet to the members of one room.
 *
 * socket.io's generic broadcast builds a Set of every recipient id (to de-duplicate across several
 * rooms) and pushes each delivery through Engine.IO's write buffer, flush and drain events. For a
 * single room there is nothing to de-duplicate, and a WebSocket connection that is idle (writable,
 * nothing buffered) can take the frame socket.io already pre-encoded once for everyone straight
 * away. Anything else — several rooms, volatile or compressed packets, long-polling, a connection
 * that is busy or upgrading — goes down socket.io's own path, so ordering and back-pressure are
 * unchanged.
 */
import type { BroadcastOptions, Room, SocketId } from 'socket.io-adapter';
import { Adapter } from 'socket.io-adapter';

/** The parts of Engine.IO's socket and WebSocket transport the direct write relies on. */
interface EngineConn {
  readyState: string;
  writeBuffer: unknown[];
  sentCallbackFn: unknown[];
  transport: {
    name: string;
    writable: boolean;
    perMessageDeflate?: unknown;
    _onSentLast?: (err?: Error) => void;
    socket?: { _sender?: { sendFrame?: (frame: unknown, cb: (err?: Error) => void) => void } };
  };
}

interface RoomSocket {
  client: { conn: EngineConn; writeToEngine(packets: unknown[], opts: unknown): void };
  notifyOutgoingListeners?: (packet: unknown) => void;
}

type PacketOpts = { preEncoded: true; volatile?: boolean; compress?: boolean; wsPreEncodedFrame?: unknown };

/**
 * Writes a pre-encoded frame the way Engine.IO's flush() would for a one-packet buffer, minus the
 * bookkeeping nobody listens to. Returns false when the connection is not in the simple state.
 */
function writeFrame(conn: EngineConn, frame: unknown): boolean {
  const transport = conn.transport;
  const sendFrame = transport.socket?._sender?.sendFrame;
  if (
    frame === undefined ||
    conn.readyState !== 'open' ||
    conn.writeBuffer.length !== 0 ||
    !transport.writable ||
    transport.name !== 'websocket' ||
    transport.perMessageDeflate ||
    typeof sendFrame !== 'function' ||
    typeof transport._onSentLast !== 'function'
  ) {
    return false;
  }
  // Mirrors flush(): one entry per send, consumed by the transport's drain.
  conn.sentCallbackFn.push(null);
  transport.writable = false;
  sendFrame.call(transport.socket!._sender, frame, transport._onSentLast);
  return true;
}

export class FanoutAdapter extends Adapter {
  /** Ids of the members of the excluded rooms (a publisher's own room: one id). */
  private exceptIds(rooms: Set<Room> | undefined): Set<SocketId> {
    const ids = new Set<SocketId>();
    if (rooms) for (const room of rooms) this.rooms.get(room)?.forEach((id) => ids.add(id));
    return ids;
  }

  override broadcast(packet: any, opts: BroadcastOptions): void {
    const flags = opts.flags ?? {};
    if (opts.rooms.size !== 1 || flags.volatile || flags.compress) {
      super.broadcast(packet, opts);
      return;
    }
    const packetOpts: PacketOpts = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
    packet.nsp = this.nsp.name;
    const encoded = (this as unknown as { _encode(p: unknown, o: PacketOpts): unknown[] })._encode(packet, packetOpts);
    const [room] = opts.rooms as Set<Room>;
    const members = this.rooms.get(room!);
    if (!members) return;
    const except = this.exceptIds(opts.except);
    const sockets: Map<SocketId, RoomSocket> = this.nsp.sockets;
    const frame = packetOpts.wsPreEncodedFrame;
    for (const id of members) {
      if (except.has(id)) continue;
      const socket = sockets.get(id);
      if (!socket) continue;
      socket.notifyOutgoingListeners?.(packet);
      if (!writeFrame(socket.client.conn, frame)) socket.client.writeToEngine(encoded, packetOpts);
    }
  }
}
