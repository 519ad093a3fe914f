/**
 * Until a connection is authenticated (auth on), it may send only small frames: the handshake and
 * the CONNECT with its token. The bound applies before the frame is buffered:
 *  - WebSocket: ws's per-connection receiver checks `_maxPayload` against each frame's header and
 *    closes with 1009 before reading the payload; it is lowered when the transport is made
 *    (new connection or upgrade from polling) and raised again once authenticated;
 *  - long-polling: Engine.IO's per-transport `maxHttpBufferSize` ends a POST with 413 as soon as
 *    the body passes it (the rest is not kept); before authentication that closes the connection.
 * A connection is authenticated once any namespace admitted it with credentials
 * (`socket.data.auth`, lib/auth/access.ts): the service calls `authenticated(socket.conn)`.
 *
 * These are internals of ws and engine.io; they are checked when the service starts, and a
 * WebSocket transport found without them later is closed rather than left unbounded.
 */
import type { ServerResponse } from 'node:http';
import * as ws from 'ws';
import type { Logger } from './logger.js';
import type { AppServer } from './app-socket.js';

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

/** Throws when the internals this module sets are not where it expects them. */
function checkInternals(engine: EngineInternals): void {
  const Receiver = (ws as unknown as { Receiver?: new (options: object) => WsReceiver }).Receiver;
  const probe = typeof Receiver === 'function' ? new Receiver({ maxPayload: 12345 }) : undefined;
  if (probe?._maxPayload !== 12345) throw new Error('preauth-frames: ws Receiver has no _maxPayload (ws changed): cannot bound pre-auth frames');
  if (typeof engine.createTransport !== 'function' || typeof engine.clients !== 'object' || typeof engine.opts?.maxHttpBufferSize !== 'number') {
    throw new Error('preauth-frames: engine.io internals (createTransport, clients, opts.maxHttpBufferSize) changed: cannot bound pre-auth frames');
  }
}

export function limitPreauthFrames(io: AppServer, preauthLimit: number, logger: Logger): PreauthFrames {
  const engine = io.engine as unknown as EngineInternals;
  checkInternals(engine);
  const normal = engine.opts.maxHttpBufferSize;
  const small = Math.min(preauthLimit, normal);
  const trusted = new WeakSet<object>();

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
  const unbounded = (transport: EngineTransport): void => {
    logger.error('pre-auth frame limit: WebSocket without a ws receiver; closing it');
    transport.socket?.terminate?.();
  };

  // Every transport starts small unless it joins an authenticated connection (an upgrade).
  const createTransport = engine.createTransport;
  engine.createTransport = function (this: unknown, name, req) {
    const transport = createTransport.call(this, name, req);
    const sid = req._query?.sid;
    const conn = sid === undefined ? undefined : engine.clients[sid];
    if (!(conn && trusted.has(conn)) && !apply(transport, small)) unbounded(transport);
    return transport;
  };
  // The handshake sets a polling transport's maxHttpBufferSize after creating it: set it again.
  engine.on('connection', (conn) => {
    if (!apply(conn.transport, trusted.has(conn) ? normal : small)) unbounded(conn.transport);
    closeOnRefusedPost(conn);
    conn.on('upgrade', (transport) => {
      if (!apply(transport, trusted.has(conn) ? normal : small)) unbounded(transport);
    });
  });

  // Engine.IO answers a POST over the limit with 413 but keeps the session: close it (pre-auth).
  const closeOnRefusedPost = (conn: EngineConn): void => {
    const transport = conn.transport;
    const onDataRequest = transport.onDataRequest;
    if (transport.name !== 'polling' || typeof onDataRequest !== 'function') return;
    transport.onDataRequest = function (this: unknown, req, res) {
      res.once('finish', () => {
        if (res.statusCode === 413 && !trusted.has(conn)) conn.close();
      });
      return onDataRequest.call(this, req, res);
    };
  };

  return {
    authenticated(conn) {
      if (trusted.has(conn)) return;
      trusted.add(conn);
      apply((conn as EngineConn).transport, normal);
    },
  };
}
