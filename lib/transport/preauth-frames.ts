/**
 * Until a connection is authenticated (auth on), it may send only small frames: the handshake and
 * the CONNECT with its token. The bound applies before the frame is buffered:
 *  - WebSocket: ws's per-connection receiver checks `_maxPayload` against each frame's header and
 *    closes with 1009 before reading the payload; it is lowered when the transport is made
 *    (new connection or upgrade from polling) and raised again once authenticated;
 *  - long-polling: Engine.IO's per-transport `maxHttpBufferSize` ends a POST with 413 as soon as
 *    the body passes it (the rest is not kept); before authentication that closes the connection.
 * A connection is authenticated once any namespace admitted it with credentials
 * (`socket.data.auth`, lib/auth/admission.ts): the service calls `authenticated(socket.conn)`.
 *
 * The same bound holds the connections of a client address on probation for breaking the protocol
 * (lib/abuse/violations.ts), for their lifetime: a hostile client that reconnects cannot send
 * another large frame, and refusing one costs a frame header.
 *
 * These are internals of ws and engine.io; they are checked when the service starts (internals.ts), and a
 * WebSocket transport found without them later is closed rather than left unbounded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isWebSocketSession } from './websocket-sessions.js';
import type { Logger } from '../log/logger.js';
import type { AppServer } from '../core/app-socket.js';

/** The code of ws's error for a frame over the receiver's `_maxPayload`. */
const WS_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

interface WsReceiver {
  _maxPayload: number;
}
interface EngineTransport {
  readonly name: string;
  maxHttpBufferSize?: number;
  socket?: { _receiver?: WsReceiver | null; terminate?(): void };
  /** polling: handles one POST of packets */
  onDataRequest?: (req: unknown, res: ServerResponse) => void;
}
interface EngineConn {
  transport: EngineTransport;
  request: OpeningRequest;
  close(): void;
  on(event: 'upgrade', fn: (transport: EngineTransport) => void): void;
}
interface EngineInternals {
  clients: Record<string, EngineConn>;
  opts: { maxHttpBufferSize: number };
  createTransport(name: string, req: { _query?: Record<string, string> }): EngineTransport;
  on(event: 'connection', fn: (conn: EngineConn) => void): void;
}

export interface PreauthFrames {
  /** The connection presented valid credentials: frames up to the normal limit from now on. */
  authenticated(conn: object): void;
}

/**
 * Throws when this engine lacks what the module sets. The packages' internals (ws's receiver
 * `_maxPayload`, ...) are checked at start-up (internals.ts); this guards the engine it is given.
 */
function checkInternals(engine: EngineInternals): void {
  if (typeof engine.createTransport !== 'function' || typeof engine.clients !== 'object' || typeof engine.opts?.maxHttpBufferSize !== 'number') {
    throw new Error('preauth-frames: engine.io internals (createTransport, clients, opts.maxHttpBufferSize) changed: cannot bound pre-auth frames');
  }
}

/** What the opening request of a connection still has once set up (lib/transport/lean-connections.ts). */
export type OpeningRequest = Pick<IncomingMessage, 'headers'> & { socket?: { remoteAddress?: string } };

export interface SmallFramePolicy {
  /**
   * The new connections held to small frames: absent, every one (auth on); with auth off, those
   * from an address on probation for breaking the protocol (lib/abuse/violations.ts), which stay
   * small for their lifetime.
   */
  startsSmall?: (req: OpeningRequest) => boolean;
  /** A held connection sent a bigger frame (refused from its header; a polling POST answered 413). */
  oversize?: (req: OpeningRequest) => void;
}

export function limitPreauthFrames(io: AppServer, preauthLimit: number, logger: Logger, policy: SmallFramePolicy = {}): PreauthFrames {
  const startsSmall = policy.startsSmall ?? (() => true);
  const oversize = policy.oversize;
  const engine = io.engine as unknown as EngineInternals;
  checkInternals(engine);
  const normal = engine.opts.maxHttpBufferSize;
  const small = Math.min(preauthLimit, normal);
  /** Connections held to small frames (until authenticated). */
  const limited = new WeakSet<object>();
  /** Transports of handshakes that start small, until their connection exists. */
  const smallAtStart = new WeakSet<object>();
  /** A held WebSocket's connection: whose frame was too big, when ws reports it. */
  const connOfSocket = new WeakMap<object, EngineConn>();
  function onSocketError(this: { terminate?(): void }, err: { code?: string }): void {
    const conn = connOfSocket.get(this);
    if (!conn || !limited.has(conn) || err?.code !== WS_TOO_BIG) return;
    oversize!(conn.request);
    // ws would read (and drop) the rest of the frame while it closes: not worth a byte more.
    this.terminate?.();
  }
  const watch = (conn: EngineConn, transport: EngineTransport): void => {
    const socket = transport.socket as (object & { on?(event: 'error', fn: typeof onSocketError): void }) | undefined;
    if (!oversize || transport.name !== 'websocket' || !socket || connOfSocket.has(socket)) return;
    connOfSocket.set(socket, conn);
    socket.on?.('error', onSocketError);
  };

  /** Sets a transport's frame limit; false when a WebSocket lacks its receiver. */
  const apply = (transport: EngineTransport, limit: number): boolean => {
    if (transport.name === 'polling') {
      transport.maxHttpBufferSize = limit;
    } else if (transport.name === 'websocket') {
      const receiver = transport.socket?._receiver;
      if (!receiver || typeof receiver._maxPayload !== 'number') return false;
      receiver._maxPayload = limit;
    }
    return true;
  };
  const limit = (transport: EngineTransport): void => {
    if (apply(transport, small)) return;
    logger.error('small-frame limit: WebSocket without a ws receiver; closing it');
    transport.socket?.terminate?.();
  };

  // A new connection's transport starts small when it should; an upgrade when its connection is held.
  const createTransport = engine.createTransport;
  engine.createTransport = function (this: unknown, name, req) {
    const transport = createTransport.call(this, name, req);
    const sid = req._query?.sid;
    const conn = sid === undefined ? undefined : engine.clients[sid];
    if (conn ? limited.has(conn) : startsSmall(req as unknown as IncomingMessage)) {
      smallAtStart.add(transport);
      limit(transport);
    }
    return transport;
  };
  // The handshake sets a polling transport's maxHttpBufferSize after creating it: set it again.
  engine.on('connection', (conn) => {
    // A WebSocketSession has no transport of its own to have been made small: decided here, before
    // ws reads its first frame (the handshake that emits this runs in the upgrade's turn).
    const session = isWebSocketSession(conn);
    if (!(session ? startsSmall(conn.request) : smallAtStart.has(conn.transport))) return;
    limited.add(conn);
    limit(conn.transport);
    watch(conn, conn.transport);
    if (session) return; // no POSTs, no upgrade
    closeOnRefusedPost(conn);
    // The upgrade may have begun (its transport made small) before the connection was authenticated.
    conn.on('upgrade', (transport) => {
      if (!limited.has(conn)) {
        apply(transport, normal);
        return;
      }
      limit(transport);
      watch(conn, transport);
    });
  });

  // Engine.IO answers a POST over the limit with 413 but keeps the session: close it.
  const closeOnRefusedPost = (conn: EngineConn): void => {
    const transport = conn.transport;
    const onDataRequest = transport.onDataRequest;
    if (transport.name !== 'polling' || typeof onDataRequest !== 'function') return;
    transport.onDataRequest = function (this: unknown, req, res) {
      res.once('finish', () => {
        if (res.statusCode !== 413 || !limited.has(conn)) return;
        oversize?.(conn.request);
        conn.close();
      });
      return onDataRequest.call(this, req, res);
    };
  };

  return {
    authenticated(conn) {
      if (!limited.delete(conn)) return;
      apply((conn as EngineConn).transport, normal);
    },
  };
}
