/**
 * The control-frame limit (lib/abuse/control-frames.ts) on the connections Engine.IO's own socket
 * serves: long-polling (and its upgrade to WebSocket) and Engine.IO v3 (socket.io-client 1.x/2.x).
 * WebSocketSessions count their own (websocket-sessions.ts). Counted: every packet but a MESSAGE
 * and the PONG that answers the server's PING (engine.io's 'packet' event: a v3 client's PING is
 * answered with a PONG, a noop is read for nothing), each probe PING of an upgrade (answered too:
 * 'upgrading'), and on WebSocket every ping and pong frame (ws answers pings itself), on an
 * upgrade's WebSocket from the moment it is made (`createTransport`).
 *
 * Over the limit the connection is closed: on WebSocket with 1008 RATE_LIMITED (closeFlooded), on
 * long-polling by Engine.IO (its next poll answers the close). These connections are few (browsers
 * upgrade within a second, legacy clients are legacy), so a closure per WebSocket is fine here.
 */
import { closeFlooded, countControlFrame, onControlFlood, reportControlFlood, type ControlFloodReport, type FloodedWebSocket } from '../abuse/control-frames.js';
import { isWebSocketSession } from './websocket-sessions.js';

interface Ws extends FloodedWebSocket {
  on(event: 'ping' | 'pong', fn: () => void): unknown;
}

interface EngineTransport {
  name: string;
  socket?: Ws;
}

interface EngineSocket {
  request: unknown;
  transport: EngineTransport;
  server: object;
  protocol: number;
  on(event: 'packet' | 'packetCreate', fn: (this: EngineSocket, packet: { type: string }) => void): unknown;
  on(event: 'upgrading', fn: (this: EngineSocket, transport: EngineTransport) => void): unknown;
  close(): void;
}

interface Engine {
  clients: Record<string, EngineSocket | undefined>;
  on(event: 'connection', fn: (conn: EngineSocket) => void): unknown;
  createTransport(name: string, req: { _query: Record<string, string | undefined> }): EngineTransport;
}

/** A control frame of `conn` (on its current transport, or on the WebSocket `ws` it came from). */
function controlFrame(conn: EngineSocket, ws: Ws | undefined): void {
  if (countControlFrame(conn) !== 'over') return;
  reportControlFlood(conn.server, conn);
  // WebSocket: the close code says why (Engine.IO's socket sees 'transport close'); polling: Engine.IO closes.
  const socket = ws ?? (conn.transport.name === 'websocket' ? conn.transport.socket : undefined);
  if (socket) closeFlooded(socket);
  else conn.close();
}

/** Set while a PONG to the server's PING is awaited (Engine.IO v4): that PONG is the heartbeat, not counted. */
const AWAITING_PONG = Symbol('awaiting pong');
type Heartbeat = { [AWAITING_PONG]?: boolean };

function onPacket(this: EngineSocket, packet: { type: string }): void {
  if (packet.type === 'message') return;
  if (packet.type === 'pong' && (this as Heartbeat)[AWAITING_PONG]) {
    (this as Heartbeat)[AWAITING_PONG] = false;
    return;
  }
  controlFrame(this, undefined);
}

function onPacketCreate(this: EngineSocket, packet: { type: string }): void {
  if (packet.type === 'ping') (this as Heartbeat)[AWAITING_PONG] = true;
}

function watchWebSocket(conn: EngineSocket, transport: EngineTransport): void {
  const ws = transport.name === 'websocket' ? transport.socket : undefined;
  if (!ws) return;
  const count = (): void => controlFrame(conn, ws);
  ws.on('ping', count);
  ws.on('pong', count);
}

/** Each probe PING of an upgrade is answered by engine.io (a PONG) before the upgrade completes. */
function onUpgrading(this: EngineSocket, transport: EngineTransport): void {
  controlFrame(this, transport.socket);
}

/**
 * Limits control frames on `engine`'s connections; `report` is told of each one closed for it
 * (sessions included).
 */
export function limitControlFrames(engineServer: unknown, report: ControlFloodReport): void {
  const engine = engineServer as Engine;
  onControlFlood(engine, report);
  engine.on('connection', (conn) => {
    if (isWebSocketSession(conn)) return;
    conn.on('packet', onPacket);
    if (conn.protocol === 4) conn.on('packetCreate', onPacketCreate);
    watchWebSocket(conn, conn.transport);
    if (conn.transport.name !== 'websocket') conn.on('upgrading', onUpgrading);
  });
  // The WebSocket an upgrade opens is made for a session that exists: watched from its start, the
  // probe and the wait for the upgrade packet included (engine.io's upgrade timeout, 10 s).
  const createTransport = engine.createTransport;
  engine.createTransport = function (this: Engine, name, req) {
    const transport = createTransport.call(this, name, req);
    const sid = req._query.sid;
    const conn = sid === undefined ? undefined : this.clients[sid];
    if (conn !== undefined) watchWebSocket(conn, transport);
    return transport;
  };
}
