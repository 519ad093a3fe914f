/**
 * A plain WebSocket endpoint on the service's HTTP server (the `ws` package in noServer mode, on
 * the server's 'upgrade' event), for protocols that need no socket.io client (/sock). It owns what
 * is the transport's job, whatever protocol runs on it:
 *
 * - the path: `<path>` and `<path>/<one segment>` (a ticket in the path); socket.io's own path is
 *   left to Engine.IO, and any other upgrade of a server the service owns is answered 404 (socket.io
 *   is then told not to destroy upgrades it does not know: `destroyUpgrade: false`);
 * - admission before the handshake: `admit` resolves or rejects with a ServiceError, whose status and
 *   `{error: {code, message}}` body are the HTTP answer; no WebSocket is opened;
 * - limits: a frame over `maxPayload` closes the connection with 1009 (ws's own check, before the
 *   frame is buffered); each frame costs one event and its length in the connection's rate buckets
 *   (lib/abuse/packet-rates.ts): over a burst it is refused unread (`refused`), over twice a burst
 *   the connection is closed with 1008, as it is past the control-frame limit for pings and pongs
 *   (lib/abuse/control-frames.ts); a connection whose unsent bytes (ws's bufferedAmount) would
 *   pass `maxSendBuffer` is dropped at once (a client that does not read cannot read a close frame
 *   either: it sees 1006);
 * - liveness: a ping every `pingIntervalMs`; a connection that answered none of the last one is
 *   terminated. The pings also keep idle connections open through proxies.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { toErrorBody, ServiceError, type ErrorBody } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { ClientCounts } from '../core/types.js';
import { logClosed, wsCloseReason } from '../log/connection-close.js';
import { PacketRates, type PacketRateLimits, type Refusal } from '../abuse/packet-rates.js';
import { closeFlooded, countControlFrame } from '../abuse/control-frames.js';
import { writeShared, type SharedFrame } from './ws-frames.js';

/** Close codes of the endpoint (docs/PROTOCOL.md). */
export const WS_CLOSE = {
  /** The service is shutting down: reconnect (elsewhere). */
  GOING_AWAY: 1001,
  /** Far over the event or byte rate. */
  POLICY: 1008,
  /** A frame over --max-payload (sent by ws itself). */
  TOO_BIG: 1009,
  /** The token expired: connect again with a fresh credential. */
  TOKEN_EXPIRED: 4001,
  /** Closed by POST /users/:user/disconnect: do not reconnect at once. */
  DISCONNECTED_BY_SERVER: 4002,
} as const;

/** One open WebSocket as the protocol sees it. */
export interface WsConnection {
  /** Random and unique in the cluster; never a socket.io id (those are 20 characters, these 24 + the prefix). */
  readonly id: string;
  readonly open: boolean;
  /** Writes one text frame, in order; false when the connection is closed (or was just cut as a slow consumer). */
  send(text: string): boolean;
  /** The same for a frame shared by every recipient of a delivery (framed once: lib/transport/ws-frames.ts). */
  sendShared(frame: SharedFrame): boolean;
  close(code: number, reason: string): void;
  /** ws's bufferedAmount: bytes written and not yet sent. */
  unsentBytes(): number;
}

/** What the protocol does with a connection once it is open. */
export interface WsSession {
  /** A text frame that passed the rate limits (not parsed: the protocol does that). */
  text(frame: string): void;
  /** A binary frame (protocols of JSON text refuse them). */
  binary(): void;
  /** A frame refused unread by the rate limits; the connection may be closed right after. */
  refused(error: ErrorBody): void;
  /** The connection closed, whatever the reason. */
  closed(): void;
}

export interface WsEndpointOptions<A> {
  /** e.g. '/sock' */
  path: string;
  /** Engine.IO's path ('/socket.io/'): its upgrades are left alone. */
  socketIoPath: string;
  /** Answer upgrades of any other path with 404 (the service owns the HTTP server). */
  ownsUpgrades: boolean;
  maxPayload: number;
  /** 0: no limit. */
  maxSendBuffer: number;
  rates: PacketRateLimits;
  pingIntervalMs: number;
  logger: Logger;
  /** A connection closed for breaking the protocol (a frame over the limit, far over a rate): counted against its address. */
  violation?: (req: IncomingMessage) => void;
  /** Told of coded refusals, rate limits and slow consumers (the metrics); absent: nothing is counted. */
  counts?: ClientCounts;
  /** The user of an admitted connection, for its close log line (never its token). */
  userOf?: (admitted: A) => string | undefined;
  /** Before the handshake: what the connection is admitted as, or a ServiceError (its status answers the upgrade). */
  admit(req: IncomingMessage, query: URLSearchParams, pathSegment: string | undefined): Promise<A>;
  /** The connection is open. */
  open(conn: WsConnection, admitted: A, req: IncomingMessage): WsSession;
}

export interface WsEndpoint {
  /** Open connections. */
  readonly count: number;
  /**
   * Closes every connection (1001) and stops answering upgrades; resolves once they are closed (a
   * client that does not answer the close handshake within a second is cut). Safe to call twice.
   */
  close(): Promise<void>;
}

/** A fresh connection id: 'ws-' and 128 random bits (base64url), so it cannot be a socket.io id. */
export function newConnectionId(): string {
  return `ws-${randomBytes(16).toString('base64url')}`;
}

/** Writes an HTTP refusal on a socket that asked for an upgrade, then closes it. */
function refuseUpgrade(socket: Duplex, status: number, body: ErrorBody): void {
  if (!socket.writable) return void socket.destroy();
  const json = JSON.stringify({ error: { code: body.code, message: body.message } });
  const reason = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
}

/**
 * The query and the one path segment after `path` (a ticket) of an upgrade to `path`; undefined for
 * any other path, and for a URL that cannot be read (a bad percent-encoding).
 */
function parseTarget(url: string, path: string): { query: URLSearchParams; segment: string | undefined } | undefined {
  try {
    const parsed = new URL(url, 'http://localhost');
    const pathname = parsed.pathname;
    if (pathname === path || pathname === `${path}/`) return { query: parsed.searchParams, segment: undefined };
    const rest = pathname.startsWith(`${path}/`) ? pathname.slice(path.length + 1) : undefined;
    if (rest === undefined || rest.includes('/')) return undefined;
    return { query: parsed.searchParams, segment: decodeURIComponent(rest) };
  } catch {
    return undefined;
  }
}

class Connection implements WsConnection {
  readonly id = newConnectionId();
  alive = true;

  constructor(
    readonly ws: WebSocket,
    private readonly maxSendBuffer: number,
    private readonly logger: Logger,
    private readonly counts: ClientCounts | undefined,
  ) {}

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  send(text: string): boolean {
    if (!this.admit(text.length)) return false;
    this.ws.send(text);
    return true;
  }

  sendShared(frame: SharedFrame): boolean {
    if (!this.admit(frame.bytes)) return false;
    writeShared(this.ws, frame);
    return true;
  }

  /** Whether `bytes` more may be queued: open, and within the send-buffer limit (else it is cut). */
  private admit(bytes: number): boolean {
    if (!this.open) return false;
    if (this.maxSendBuffer > 0 && this.ws.bufferedAmount + bytes > this.maxSendBuffer) {
      // Sizes only, never the body.
      this.logger.warn('slow consumer disconnected', { conn: this.id, unsentBytes: this.ws.bufferedAmount, limit: this.maxSendBuffer });
      this.ws.terminate();
      this.counts?.slowConsumer();
      return false;
    }
    return true;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  unsentBytes(): number {
    return this.ws.bufferedAmount;
  }
}

export function createWsEndpoint<A>(server: HttpServer, options: WsEndpointOptions<A>): WsEndpoint {
  const { path, logger } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false, clientTracking: false });
  const connections = new Set<Connection>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/';
    if (url.startsWith(options.socketIoPath)) return; // Engine.IO's
    const target = parseTarget(url, path);
    if (target === undefined) {
      if (options.ownsUpgrades) {
        socket.on('error', () => undefined);
        options.counts?.error('NOT_FOUND');
        refuseUpgrade(socket, 404, { code: 'NOT_FOUND', message: 'no WebSocket endpoint at this path' });
      }
      return;
    }
    const { query: parsedQuery, segment } = target;
    socket.on('error', () => undefined); // a client gone while it is admitted: nothing to do
    if (closed) {
      options.counts?.error('SHUTTING_DOWN');
      return refuseUpgrade(socket, 503, { code: 'SHUTTING_DOWN', message: 'the service is shutting down' });
    }
    options.admit(req, parsedQuery, segment).then(
      (admitted) => {
        if (closed || !socket.writable) return void socket.destroy();
        wss.handleUpgrade(req, socket, head, (ws) => opened(ws, admitted, req));
      },
      (err: unknown) => {
        const body = toErrorBody(err);
        const status = err instanceof ServiceError ? err.status : 500;
        if (status === 500) logger.error('WebSocket admission failed', { path, err });
        else if (logger.isDebugEnabled()) logger.debug('WebSocket upgrade refused', { path, code: body.code, reason: body.message });
        options.counts?.error(body.code);
        refuseUpgrade(socket, status, body);
      },
    );
  };

  const opened = (ws: WebSocket, admitted: A, req: IncomingMessage): void => {
    const conn = new Connection(ws, options.maxSendBuffer, logger, options.counts);
    const openedAt = Date.now();
    connections.add(conn);
    const rates = new PacketRates(options.rates);
    let session: WsSession | undefined;
    // Pings and pongs count against the control-frame limit (lib/abuse/control-frames.ts), but
    // for the pong that answers our ping.
    const control = (): void => {
      if (countControlFrame(conn) !== 'over') return;
      logger.warn('too many control frames: disconnected', { conn: conn.id });
      options.counts?.limited('control');
      closeFlooded(ws);
      options.violation?.(req);
    };
    ws.on('ping', control);
    ws.on('pong', () => {
      if (conn.alive) return control();
      conn.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the connection itself (1009 for an oversize frame, 1002 for a protocol error).
      if (logger.isDebugEnabled()) logger.debug('WebSocket error', { conn: conn.id, reason: err.message });
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') options.violation?.(req);
    });
    ws.on('close', (code: number) => {
      connections.delete(conn);
      session?.closed();
      logClosed(logger, { protocol: 'sock', path, reason: wsCloseReason(code), code, openedAt, user: options.userOf?.(admitted) });
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!session || !conn.open) return;
      const length = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;
      const verdict = rates.packet('event', length);
      if (verdict.kind === 'refuse') {
        if (verdict.limit) options.counts?.limited(verdict.limit);
        session.refused({ code: verdict.code, message: verdict.message });
        if (verdict.cut) {
          logger.warn('frame refused: disconnected', { conn: conn.id, code: verdict.code, reason: verdict.message });
          conn.close(WS_CLOSE.POLICY, verdict.code satisfies Refusal['code']);
          options.violation?.(req);
        }
        return;
      }
      if (isBinary) session.binary();
      else session.text(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString());
    });
    try {
      session = options.open(conn, admitted, req);
    } catch (err) {
      logger.error('opening a WebSocket session failed', { path, err });
      conn.close(1011, 'internal error');
    }
  };

  const ping = setInterval(() => {
    for (const conn of connections) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }, options.pingIntervalMs);
  ping.unref();

  server.on('upgrade', upgrade);
  return {
    get count() {
      return connections.size;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(ping);
        server.off('upgrade', upgrade);
        await Promise.all(
          [...connections].map(
            (conn) =>
              new Promise<void>((resolve) => {
                conn.ws.once('close', () => resolve());
                conn.close(WS_CLOSE.GOING_AWAY, 'server shutting down');
                // A client that does not answer the close handshake is not waited for.
                setTimeout(() => conn.ws.terminate(), 1000).unref();
              }),
          ),
        );
        wss.close();
      })();
      return closing;
    },
  };
}
