/**
 * The in-memory adapter with a leaner fan-out for the one case a notification hub lives on: one
 * packet to the members of one room.
 *
 * socket.io's generic broadcast builds a Set of every recipient id (to de-duplicate across several
 * rooms) and pushes each delivery through Engine.IO's write buffer, flush and drain events, one
 * frame in flight per connection. For a single room there is nothing to de-duplicate, and a
 * WebSocket connection with nothing queued ahead in Engine.IO can take the frame socket.io already
 * pre-encoded once for everyone straight into its socket, as a raw `ws` server would: the kernel
 * socket (and Node's stream buffer behind it) keeps the order. Anything else — several rooms,
 * volatile or compressed packets, long-polling, a connection with packets waiting in Engine.IO's
 * buffer or upgrading — goes down socket.io's own path, so ordering is unchanged.
 */
import type { BroadcastOptions, Room, SocketId } from 'socket.io-adapter';
import { Adapter } from 'socket.io-adapter';

/** ws's per-connection frame writer (untyped; socket.io's own pre-encoded path uses it too). */
interface WsSender {
  sendFrame?: (frame: unknown, cb?: (err?: Error) => void) => void;
  _state?: number;
  _queue?: unknown[];
}

interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The parts of Engine.IO's socket and WebSocket transport the direct write relies on. */
interface EngineConn {
  readyState: string;
  writeBuffer: unknown[];
  transport: {
    name: string;
    perMessageDeflate?: unknown;
    socket?: { readyState?: number; _sender?: WsSender; _socket?: Corkable };
  };
}

interface RoomSocket {
  client: { conn: EngineConn; writeToEngine(packets: unknown[], opts: unknown): void };
  notifyOutgoingListeners?: (packet: unknown) => void;
}

type PacketOpts = { preEncoded: true; volatile?: boolean; compress?: boolean; wsPreEncodedFrame?: unknown };

/**
 * TCP sockets written to during the current event, uncorked together once it has been handled:
 * when one read brings several NOTIFYs (a busy publisher), each subscriber gets them in one
 * writev instead of one syscall each. Adds no delay: the flush runs before the event loop moves on.
 */
let corked: Corkable[] = [];

function uncorkAll(): void {
  const list = corked;
  corked = [];
  for (const socket of list) socket.uncork();
}

function corkUntilTickEnd(socket: Corkable): void {
  socket.cork();
  if (corked.push(socket) === 1) process.nextTick(uncorkAll);
}

const WS_OPEN = 1;
/** ws Sender's idle state: no deflate or blob read in progress, nothing in its own queue. */
const SENDER_IDLE = 0;

/**
 * Writes a pre-encoded frame straight to the connection's WebSocket when nothing is waiting ahead
 * of it (in Engine.IO's buffer or ws's queue). Returns false when the connection is not in that
 * simple state; the caller then takes Engine.IO's path.
 */
function writeFrame(conn: EngineConn, frame: unknown): boolean {
  const ws = conn.transport.socket;
  const sender = ws?._sender;
  if (
    frame === undefined ||
    conn.readyState !== 'open' ||
    conn.writeBuffer.length !== 0 ||
    conn.transport.name !== 'websocket' ||
    conn.transport.perMessageDeflate ||
    ws!.readyState !== WS_OPEN ||
    typeof sender?.sendFrame !== 'function' ||
    sender._state !== SENDER_IDLE ||
    sender._queue?.length
  ) {
    return false;
  }
  // No completion callback: Engine.IO's write accounting is for its own packets, and a write
  // error surfaces as the WebSocket's error/close, which Engine.IO already handles.
  const tcp = ws!._socket;
  if (tcp) corkUntilTickEnd(tcp);
  sender.sendFrame(frame);
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
