/**
 * Engine.IO v4 sessions opened directly on WebSocket (socket.io-client 3+ with
 * `transports: ['websocket']`, python-socketio and most non-browser clients) served by one small
 * object per connection instead of Engine.IO's Socket and WebSocket transport.
 *
 * For such a session engine.io makes, after ws has completed the upgrade, a transport object and a
 * Socket with their listeners, timers, write buffer and callbacks, answers in a promise (its
 * handshake awaits the id), and then relays every frame through three event hops (ws 'message',
 * transport 'packet', socket 'data') with a packet object each. A `WebSocketSession` speaks the
 * same protocol (https://socket.io/docs/v4/engine-io-protocol/) with ws's WebSocket: the open
 * packet written in the same turn as the 101 (one write), PING/PONG on the shared heartbeat queues
 * (shared-heartbeats.ts), a MESSAGE frame handed straight to socket.io's Client as `data`.
 * Measured: about 15 % less server CPU per connect + JOIN (docs/PERFORMANCE.md, "Sixth look").
 *
 * It presents what socket.io's Client and Socket and the rest of lib/transport read of an Engine.IO
 * socket: `id`, `server`, `request`, `protocol`, `remoteAddress`, `readyState`, `transport`
 * (itself: `name` 'websocket', `socket` the ws WebSocket, `writable`), an always-empty
 * `writeBuffer`, `write`/`send`, `close(discard)`, `flush`, what engine.io's server calls on a
 * session named by a later request (`_maybeUpgrade`: a WebSocket asking to upgrade it is closed;
 * `onRequest`: an HTTP request is answered 400), and the 'data', 'close' (reason,
 * description), 'error' and 'heartbeat' events with Engine.IO's reasons ('transport close',
 * 'forced close', 'ping timeout', 'transport error', 'parse error'). A write goes to ws at once
 * (ws queues behind a write in progress; its `bufferedAmount` is what the send-buffer limit reads)
 * when direct-writes.ts has not already written the frame itself. Upgrades do not exist on it
 * (nothing to upgrade to): `upgrades` is empty in its open packet, as Engine.IO's for WebSocket.
 * WebSocket pings and pongs, and Engine.IO packets but MESSAGE and the PONG it awaits, count against
 * the connection's control-frame limit (lib/abuse/control-frames.ts).
 *
 * Everything else keeps Engine.IO's path: long-polling (and its upgrade), Engine.IO v3 (socket.io-
 * client 1.x/2.x), a server with `initialPacket` or its own `generateId`. The upgrade request goes
 * through Engine.IO's `verify()`, `allowRequest` and middlewares as before: only the session
 * after ws's upgrade is different. Installed per engine from service.ts (outermost around
 * `handshake`), checked at start-up (internals.ts).
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { engineModule } from './library-modules.js';
import { dropUpgradeErrorListener } from './lean-connections.js';
import { HeartbeatTimer } from './shared-heartbeats.js';
import { closeFlooded, CONTROL_FLOOD_MESSAGE, countControlFrame, reportControlFlood } from '../abuse/control-frames.js';

type SendOptions = { compress?: boolean };
type SendCallback = (err?: Error) => void;

const SESSION: unique symbol = Symbol('websocket-session');

/** The ws WebSocket of a session (the parts used here). */
interface Ws extends EventEmitter {
  readonly readyState: number;
  readonly bufferedAmount: number;
  _socket?: { remoteAddress?: string };
  send(data: string | Buffer, options?: { compress?: boolean }, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  pause(): void;
  terminate(): void;
  [SESSION]?: WebSocketSession;
}

interface SessionRequest {
  _query: Record<string, string | undefined>;
  websocket?: Ws;
  headers: Record<string, string | string[] | undefined>;
}

interface EngineServer extends EventEmitter {
  opts: { pingInterval: number; pingTimeout: number; maxHttpBufferSize: number; initialPacket?: unknown };
  clients: Record<string, unknown>;
  clientsCount: number;
  generateId(req: unknown): unknown;
  handshake(transport: string, req: SessionRequest, closeConnection: (code: number, context?: unknown) => void): unknown;
}

// Engine.IO v4 packet types, as the first character of a text frame.
const OPEN = '0';
const PING = '2';
const PONG_CODE = 0x33; // '3'
const MESSAGE = '4';
const MESSAGE_CODE = 0x34;
const PING_CODE = 0x32;
/** Packet types a client may send that Engine.IO's socket ignores: open, close, upgrade, noop. */
const IGNORED = new Set([0x30, 0x31, 0x35, 0x36]);
const BASE64_CODE = 0x62; // 'b': a base64 binary message

const TYPE_NAMES = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'];

/** A text frame as engine.io-parser decodes it (only made for 'packet' listeners). */
function decoded(text: string): { type: string; data?: unknown } {
  if (text.charCodeAt(0) === BASE64_CODE) return { type: 'message', data: Buffer.from(text.slice(1), 'base64') };
  const type = TYPE_NAMES[text.charCodeAt(0) - 0x30];
  if (type === undefined) return { type: 'error', data: 'parser error' };
  return text.length > 1 ? { type, data: text.slice(1) } : { type };
}

/** The write buffer every session shows: always empty (writes go to ws at once). */
const NO_PACKETS: readonly unknown[] = Object.freeze([]);

// ws's listeners, shared by every session: `this` is the WebSocket.
function onWsMessage(this: Ws, data: Buffer, isBinary: boolean): void {
  this[SESSION]!.onFrame(data, isBinary);
}
function onWsClose(this: Ws): void {
  this[SESSION]!.onClose('transport close');
}
function onWsError(this: Ws, err: Error): void {
  this[SESSION]!.onClose('transport error', err);
}
/** A WebSocket ping or pong frame (ws answers a ping itself): counted as a control frame, also after the session closed. */
function onWsControl(this: Ws): void {
  this[SESSION]!.controlFrame();
}
/** Errors of a closed session's WebSocket (engine.io's clearTransport silences them the same way). */
function ignoreError(): void {}

let sessionsOpened = 0;
/** Sessions opened by this module (tests fail when WebSocket connections stop taking it). */
export function webSocketSessionCount(): number {
  return sessionsOpened;
}

/** One Engine.IO v4 session on a WebSocket (see the header). */
export class WebSocketSession extends EventEmitter {
  readyState: 'open' | 'closed' = 'open';
  readonly remoteAddress: string | undefined;
  // Heartbeat state, as engine.io's socket names it (shared-heartbeats.ts's HeartbeatTimer drives it).
  pingIntervalTimer: HeartbeatTimer | null = null;
  pingTimeoutTimer: HeartbeatTimer | null = null;
  hasRefreshedPingTimeout = false;

  constructor(
    readonly id: string,
    readonly server: EngineServer,
    /** The opening request (lib/transport/lean-connections.ts slims it on 'connection'). */
    public request: unknown,
    /** ws's WebSocket: what an Engine.IO WebSocket transport calls `socket`. */
    readonly socket: Ws,
  ) {
    super();
    this.remoteAddress = socket._socket?.remoteAddress;
  }

  // Constants on the prototype, not slots in every session.
  get protocol(): 4 {
    return 4;
  }
  get upgrading(): false {
    return false;
  }
  get upgraded(): false {
    return false;
  }
  /** The transport is the session itself: `conn.transport.name`, `.socket`, `.writable`. */
  get transport(): this {
    return this;
  }
  get name(): 'websocket' {
    return 'websocket';
  }
  /**
   * socket.io drops a volatile packet when this is false: while earlier writes still wait in ws or
   * the TCP socket, as Engine.IO's transport is not writable while a send is in flight.
   */
  get writable(): boolean {
    return this.readyState === 'open' && this.socket.bufferedAmount === 0;
  }
  get writeBuffer(): readonly unknown[] {
    return NO_PACKETS;
  }
  /** Nothing is ever buffered here (see `writeBuffer`). */
  flush(): void {}
  getAvailableUpgrades(): string[] {
    return [];
  }
  /**
   * A WebSocket opened with this session's id asks to upgrade it: engine.io's onWebSocket() hands
   * its transport here, as to its own socket. There is nothing to upgrade to: it is closed, and
   * this session goes on (without this method, engine.io's call threw and took the process down).
   */
  _maybeUpgrade(transport: { close(): void }): void {
    transport.close();
  }
  /**
   * An HTTP request (not an upgrade) with this session's id and `transport=websocket`: engine.io
   * hands it to the session's transport (itself). Engine.IO's WebSocket transport ignores it and the
   * request hangs; here it is answered as engine.io answers a bad request, from engine.io's own error
   * table (without this method, engine.io's call threw and took the process down).
   */
  onRequest(req: { res?: ServerResponse }): void {
    const res = req.res;
    if (res === undefined || res.headersSent) return;
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(badRequestBody);
  }

  /** Listens to ws, writes the open packet, starts the heartbeat. */
  open(): void {
    const ws = this.socket;
    ws[SESSION] = this;
    dropUpgradeErrorListener(ws);
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
    ws.on('error', onWsError);
    ws.on('ping', onWsControl);
    ws.on('pong', onWsControl);
    const opts = this.server.opts;
    ws.send(OPEN + JSON.stringify({ sid: this.id, upgrades: [], pingInterval: opts.pingInterval, pingTimeout: opts.pingTimeout, maxPayload: opts.maxHttpBufferSize }));
    this.schedulePing();
  }

  /** A frame from the client (Engine.IO's Socket.onPacket for protocol 4). */
  onFrame(data: Buffer, isBinary: boolean): void {
    if (this.readyState !== 'open') return;
    // Engine.IO's 'packet' event, for whoever listens (the packet object is made only then).
    const observed = this.listenerCount('packet') !== 0;
    if (isBinary) {
      if (observed) this.emit('packet', { type: 'message', data });
      this.refreshWhileWaiting();
      this.emit('data', data);
      return;
    }
    const text = data.toString();
    const type = text.charCodeAt(0);
    if (observed) this.emit('packet', decoded(text));
    if (type === MESSAGE_CODE) {
      this.refreshWhileWaiting();
      // "4" alone is a message without data, as engine.io-parser decodes it.
      this.emit('data', text.length > 1 ? text.slice(1) : undefined);
    } else if (type === PONG_CODE) {
      // The PONG to our PING is the heartbeat; any other is a control frame the client chose to send.
      if (this.pingTimeoutTimer === null) return this.controlFrame();
      const deadline = this.pingTimeoutTimer;
      this.pingTimeoutTimer = null;
      if (deadline !== this.pingIntervalTimer) deadline?.drop();
      this.pingIntervalTimer?.refresh();
      this.emit('heartbeat');
    } else if (type === PING_CODE) {
      // Protocol 4: the server pings, never the client.
      this.onClose('transport error', new Error('invalid heartbeat direction'));
    } else if (type === BASE64_CODE) {
      this.refreshWhileWaiting();
      this.emit('data', Buffer.from(text.slice(1), 'base64'));
    } else if (IGNORED.has(type)) {
      this.refreshWhileWaiting();
      this.controlFrame();
    } else {
      this.onClose('parse error');
    }
  }

  /**
   * One control frame from the client (lib/abuse/control-frames.ts): past the limit the session is
   * closed ('transport error') and the WebSocket with 1008 RATE_LIMITED.
   */
  controlFrame(): void {
    if (countControlFrame(this) !== 'over') return;
    reportControlFlood(this.server, this);
    this.onClose('transport error', new Error(CONTROL_FLOOD_MESSAGE), true);
  }

  /** Any packet but a PONG while one is awaited extends the deadline once, as engine.io does. */
  private refreshWhileWaiting(): void {
    if (this.pingTimeoutTimer !== null && !this.hasRefreshedPingTimeout) {
      this.hasRefreshedPingTimeout = true;
      this.pingTimeoutTimer.refresh();
    }
  }

  // The heartbeat (HeartbeatTimer calls these as engine.io's timer callbacks would).
  schedulePing(): void {
    const t = new HeartbeatTimer(this);
    this.pingIntervalTimer = t;
    t.refresh();
  }
  resetPingTimeout(): void {
    // The interval has just fired: the same object is the PONG deadline now.
    const t = this.pingIntervalTimer ?? new HeartbeatTimer(this);
    this.pingTimeoutTimer = t;
    t.refresh();
  }
  sendPacket(type: string): void {
    if (type !== 'ping' || this.readyState !== 'open') return;
    if (this.listenerCount('packetCreate') !== 0) this.emit('packetCreate', { type, options: { compress: true } });
    this.socket.send(PING);
  }

  /** A MESSAGE packet (socket.io's Client writes through this when the direct path did not). */
  write(data: string | Buffer, options?: SendOptions | SendCallback, callback?: SendCallback): this {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this.readyState !== 'open') return this;
    if (this.listenerCount('packetCreate') !== 0) this.emit('packetCreate', { type: 'message', data, options: { ...options, compress: options?.compress !== false } });
    this.socket.send(typeof data === 'string' ? MESSAGE + data : data, undefined, callback);
    return this;
  }
  send(data: string | Buffer, options?: SendOptions | SendCallback, callback?: SendCallback): this {
    return this.write(data, options, callback);
  }

  /** Closes the WebSocket (after what ws has queued) and the session at once: 'forced close'. */
  close(_discard?: boolean): void {
    if (this.readyState !== 'open') return;
    this.onClose('forced close');
  }

  /** `flooded`: closed for too many control frames (the WebSocket's close says so). */
  onClose(reason: string, description?: unknown, flooded = false): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.pingIntervalTimer?.drop();
    this.pingTimeoutTimer?.drop();
    this.pingTimeoutTimer = null;
    const ws = this.socket;
    ws.removeListener('message', onWsMessage);
    ws.removeListener('close', onWsClose);
    ws.removeListener('error', onWsError);
    ws.on('error', ignoreError);
    if (flooded) closeFlooded(ws);
    else ws.close();
    const server = this.server;
    delete server.clients[this.id];
    server.clientsCount--;
    this.emit('close', reason, description);
  }
}

/** Whether an Engine.IO connection is a WebSocketSession (for the modules that set up transports). */
export function isWebSocketSession(conn: unknown): conn is WebSocketSession {
  return conn instanceof WebSocketSession;
}

/** engine.io's answer to a bad request, from its own error table (set when sessions are installed). */
let badRequestBody = '';

/** engine.io's own id generator (what `generateId` is unless a server replaced it) and its bad-request answer. */
function engineIds(): { generateId(): string; serverGenerateId: unknown; badRequest: string } {
  const { base64id } = engineModule<{ base64id: { generateId(): string } }>('./contrib/base64id.js');
  type ServerClass = { prototype: { generateId: unknown }; errors: { BAD_REQUEST: number }; errorMessages: Record<number, string> };
  const { Server } = engineModule<{ Server: ServerClass }>('./server.js');
  const code = Server.errors.BAD_REQUEST;
  return { generateId: () => base64id.generateId(), serverGenerateId: Server.prototype.generateId, badRequest: JSON.stringify({ code, message: Server.errorMessages[code] }) };
}

/**
 * Serves `engine`'s new Engine.IO v4 WebSocket sessions with WebSocketSession. Wraps `handshake`,
 * which engine.io's onWebSocket() calls once ws has upgraded a request without a session id.
 */
export function serveWebSocketSessions(engineServer: unknown): void {
  const engine = engineServer as EngineServer;
  const ids = engineIds();
  badRequestBody = ids.badRequest;
  const handshake = engine.handshake;
  engine.handshake = function (this: EngineServer, transport, req, closeConnection) {
    const ws = req.websocket;
    if (transport !== 'websocket' || req._query.EIO !== '4' || ws === undefined || this.opts.initialPacket !== undefined || this.generateId !== ids.serverGenerateId) {
      return handshake.call(this, transport, req, closeConnection);
    }
    const id = ids.generateId();
    const session = new WebSocketSession(id, this, req, ws);
    session.open();
    this.clients[id] = session;
    this.clientsCount++;
    sessionsOpened++;
    this.emit('connection', session);
    return undefined;
  };
}
