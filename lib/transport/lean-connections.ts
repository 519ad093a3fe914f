/**
 * Lets the HTTP request that opened an Engine.IO connection be garbage-collected once the
 * connection is set up. engine.io keeps it for the connection's whole life twice over: as
 * `Socket.request`, and, for WebSocket, through the `WebSocketResponse` it builds for middlewares
 * (a 'close' listener on the TCP socket holds that response, and the response holds `req`). With
 * its parser state, raw headers and stream objects that is ~0.8 KB of heap per idle connection.
 *
 * socket.io reads only `headers`, `url`, `_query` and `connection.encrypted` of `conn.request`
 * (to build `socket.handshake` when a namespace is joined, possibly later), so a small object
 * with just those replaces it. Consequence for code using `socket.request`: only those fields
 * (plus `method` and the peer address as `socket`/`connection`) are there; `socket.handshake` is unchanged.
 *
 * The `WebSocketResponse` (with `req`, ~0.4 KB besides the request) is released by removing the
 * one thing that keeps it, its 'close' forwarding listener on the TCP socket: that listener only
 * tells middlewares that the response is over, and no middleware of the service listens (it is
 * removed when ws completes the upgrade: websocket-upgrades.ts). And the `onUpgradeError`
 * listener engine.io puts on every new WebSocket (a closure per connection, only needed until the
 * transport listens for errors itself, which it does from createTransport on) is removed then.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AppServer } from '../core/app-socket.js';

/** What is left of the opening request: the fields socket.io's handshake (and our handlers) read. */
export interface HandshakeRequest {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  _query: Record<string, string>;
  connection: { encrypted: boolean; remoteAddress: string | undefined };
  /** the same object as `connection` (Node's newer name for it) */
  socket: { encrypted: boolean; remoteAddress: string | undefined };
}

type EngineRequest = IncomingMessage & { _query?: Record<string, string> };
type UpgradedRequest = EngineRequest & { websocket?: NodeJS.EventEmitter };
interface EngineInternals {
  createTransport(name: string, req: EngineRequest): unknown;
  on(event: 'connection', fn: (conn: { request: EngineRequest | HandshakeRequest }) => void): void;
}

/**
 * Headers whose values are the same for many connections (the same host, browser, language), and
 * none a secret: each connection's copy of the string (~30-150 B each; a browser's handshake has
 * several) is swapped for one shared copy of the same text. Values are compared as strings: the
 * headers object keeps its identity, its keys, its shape and what every reader sees.
 */
const SHARED_HEADERS = new Set([
  'host', 'origin', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'cache-control', 'pragma',
  'connection', 'upgrade', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-fetch-dest', 'sec-fetch-mode',
  'sec-fetch-site', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port',
]);
const MAX_SHARED_LENGTH = 512;
/** The shared copies; emptied when full (a flood of distinct values only costs the sharing). */
const sharedValues = new Map<string, string>();
const MAX_SHARED_VALUES = 1024;

function shareHeaderValues(headers: IncomingMessage['headers']): void {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== 'string' || value.length > MAX_SHARED_LENGTH || !SHARED_HEADERS.has(name)) continue;
    const shared = sharedValues.get(value);
    if (shared !== undefined) {
      headers[name] = shared;
    } else {
      if (sharedValues.size >= MAX_SHARED_VALUES) sharedValues.clear();
      sharedValues.set(value, value);
    }
  }
}

/** Whether a header value is the shared copy (for the tests that fail when it is not). */
export function isSharedHeaderValue(value: string): boolean {
  return sharedValues.has(value);
}

function slim(req: EngineRequest): HandshakeRequest {
  shareHeaderValues(req.headers);
  const socket = req.socket as TLSSocket | null;
  const peer = { encrypted: Boolean(socket?.encrypted), remoteAddress: socket?.remoteAddress };
  return { method: req.method, url: req.url, headers: req.headers, _query: req._query ?? {}, connection: peer, socket: peer };
}

/** engine.io's WebSocketResponse forwards the TCP socket's 'close' with exactly this listener. */
const RESPONSE_CLOSE_SOURCE = '() => this.emit("close")';
/** The listener engine.io's onWebSocket() declares (a new closure per connection). */
const UPGRADE_ERROR_LISTENER = 'onUpgradeError';

/**
 * Drops the 'close' forwarding of the WebSocketResponse engine.io made for this upgrade: called
 * when ws completes the upgrade (websocket-upgrades.ts), just after engine.io added it (the
 * socket's last 'close' listeners are searched from the end).
 */
export function releaseUpgradeResponse(socket: NodeJS.EventEmitter): void {
  const listeners = socket.listeners('close') as ((...args: unknown[]) => void)[];
  for (let i = listeners.length - 1; i >= 0; i--) {
    if (Function.prototype.toString.call(listeners[i]) === RESPONSE_CLOSE_SOURCE) {
      socket.removeListener('close', listeners[i]!);
      return;
    }
  }
}

/** Removes the `onUpgradeError` listener engine.io's onWebSocket() put on a new WebSocket (a closure per connection). */
export function dropUpgradeErrorListener(websocket: NodeJS.EventEmitter): void {
  for (const fn of websocket.listeners('error') as ((...args: unknown[]) => void)[]) {
    if (fn.name === UPGRADE_ERROR_LISTENER) websocket.removeListener('error', fn);
  }
}

export function releaseHandshakeRequests(io: AppServer): void {
  const engine = io.engine as unknown as EngineInternals;
  // A transport listens for ws errors once made (a new session; an upgrade removed it already).
  const createTransport = engine.createTransport;
  engine.createTransport = function (this: unknown, name: string, req: UpgradedRequest) {
    const transport = createTransport.call(this, name, req);
    if (req.websocket) dropUpgradeErrorListener(req.websocket);
    return transport;
  };

  // socket.io has built its Client (and, for Engine.IO v3, the '/' socket) by now: its
  // listener was registered first.
  engine.on('connection', (conn) => {
    conn.request = slim(conn.request as EngineRequest);
  });
}
