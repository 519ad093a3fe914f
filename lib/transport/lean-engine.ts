/**
 * What Engine.IO allocates per connection to wire its socket, its transport and ws's WebSocket
 * together, replaced by functions shared by every connection (heap snapshots of 2000 idle joined
 * connections, docs/PERFORMANCE.md): EventEmitter calls a listener with `this` set to the emitter,
 * so one function per event finds its connection through a property of the emitter instead of
 * each connection binding its own.
 *
 * - Socket.setTransport() made 4 bound functions and a closure as the transport's listeners, two of
 *   them through `once` (a wrapper, its state object and a property store each), a cleanup closure
 *   over all of them and the `cleanupFn` array it pushed it into (17 slots reserved): ~0.75 KB.
 *   Now the transport's `OWNER` property names the socket; the listeners are shared; the 'error'
 *   and 'close' ones remove themselves before they run (what `once` did); `cleanupFn` is an
 *   accessor that hands clearTransport() the one cleanup it needs when it asks.
 * - The WebSocket transport's constructor made a closure for ws's 'message', a bound 'close' (through
 *   `once`) and 'error' listener, and 4 send callbacks as own properties: ~0.5 KB. Its replacement
 *   (same prototype chain, same fields otherwise) puts the transport on ws's WebSocket under
 *   `TRANSPORT` and listens with shared functions; the send callbacks are made per send() call,
 *   by accessors on its prototype (garbage of the write, not kept by an idle connection).
 * - Server.handshake() put a closure on the new socket's 'close' (through `once`: ~0.3 KB with its
 *   wrapper, state and context) to forget the client, and one on its first transport's 'headers'.
 *   The first 'connection' listener swaps both for shared functions, in the same place (the 'close'
 *   one first among the socket's 'close' listeners). With `cookie` set the 'headers' one is kept.
 *
 * Behaviour is engine.io's (engine.io 6.6.x): the same events reach the same methods, in the same
 * order, with the same arguments; the 'error' and 'close' listeners still run at most once; an
 * upgrade (polling -> websocket) still detaches the old transport in clearTransport(). Only the
 * `debug("received ...")` trace of every WebSocket message is gone. Installed once per process
 * (the classes are engine.io's own); checked at start-up (internals.ts).
 */
import { engineModule } from './library-modules.js';
import type { EventEmitter } from 'node:events';
import { noteReplaced } from './replaced-methods.js';
import { isWebSocketSession } from './websocket-sessions.js';

/** The socket a transport belongs to (on the transport). */
export const OWNER: unique symbol = Symbol('eio-socket');
/** The Engine.IO transport a ws WebSocket belongs to (on the WebSocket). */
export const TRANSPORT: unique symbol = Symbol('eio-transport');

type Listener = (...args: any[]) => void;

interface EngineSocket extends EventEmitter {
  id: string;
  server: EngineServer;
  readyState: string;
  transport: EngineTransport | undefined;
  onError(err: unknown): void;
  onPacket(packet: unknown): void;
  onDrain(): void;
  onClose(reason: string, description?: unknown): void;
  flush(): void;
}

interface EngineTransport extends EventEmitter {
  [OWNER]?: EngineSocket | null;
  socket: WsLike;
  writable: boolean;
  onError(msg: unknown, desc?: unknown): void;
  onClose(): void;
}

interface EngineServer extends EventEmitter {
  clients: Record<string, EngineSocket>;
  clientsCount: number;
  opts: { cookie?: unknown };
}

interface WsLike extends EventEmitter {
  [TRANSPORT]?: EngineTransport;
  send(data: unknown, cb: (err?: Error) => void): void;
}

interface Engine {
  Socket: { prototype: Record<string, unknown> };
  Transport: new (req: unknown) => EngineTransport;
  WsTransport: { prototype: object };
  transports: Record<string, unknown>;
}

// The transport's listeners: `this` is the transport.
function onTransportError(this: EngineTransport, err: unknown): void {
  this.removeListener('error', onTransportError);
  this[OWNER]!.onError(err);
}
function onTransportReady(this: EngineTransport): void {
  this[OWNER]!.flush();
}
function onTransportPacket(this: EngineTransport, packet: unknown): void {
  this[OWNER]!.onPacket(packet);
}
function onTransportDrain(this: EngineTransport): void {
  this[OWNER]!.onDrain();
}
function onTransportClose(this: EngineTransport, description?: unknown): void {
  this.removeListener('close', onTransportClose);
  this[OWNER]!.onClose('transport close', description);
}

function detach(transport: EngineTransport): void {
  transport.removeListener('error', onTransportError);
  transport.removeListener('ready', onTransportReady);
  transport.removeListener('packet', onTransportPacket);
  transport.removeListener('drain', onTransportDrain);
  transport.removeListener('close', onTransportClose);
}

/** Socket.prototype.setTransport, as engine.io's but with the shared listeners. */
function setTransport(this: EngineSocket, transport: EngineTransport): void {
  transport[OWNER] = this;
  this.transport = transport;
  transport.on('error', onTransportError);
  transport.on('ready', onTransportReady);
  transport.on('packet', onTransportPacket);
  transport.on('drain', onTransportDrain);
  transport.on('close', onTransportClose);
}

/** An explicitly assigned non-empty `cleanupFn` (engine.io assigns only `[]`): kept as it was. */
const ownCleanups = new WeakMap<object, Listener[]>();

/** What clearTransport() reads as `cleanupFn`: the current transport's cleanup, made when asked. */
function cleanupsOf(this: EngineSocket): Listener[] {
  const own = ownCleanups.get(this);
  if (own) return own;
  const transport = this.transport;
  // Detaching twice is harmless (removeListener of a listener that is not there does nothing).
  return transport !== undefined && transport[OWNER] === this ? [() => detach(transport)] : [];
}

// What Server.handshake() registers, shared: `this` is the socket, then its first transport.
function forgetClient(this: EngineSocket): void {
  this.removeListener('close', forgetClient);
  delete this.server.clients[this.id];
  this.server.clientsCount--;
}
function onTransportHeaders(this: EngineTransport, headers: Record<string, unknown>, req: { _query: { sid?: string } }): void {
  const server = this[OWNER]!.server;
  // (no cookie: the handshake's own listener is kept when `opts.cookie` is set)
  if (!req._query.sid) server.emit('initial_headers', headers, req);
  server.emit('headers', headers, req);
}

/** Sources of the two listeners Server.handshake() registers (what `swapHandshakeListeners` replaces). */
const FORGET_SOURCE = /^\(\) => \{\s*delete this\.clients\[id\];\s*this\.clientsCount--;\s*\}$/;
const HEADERS_SOURCE = /^\(headers, req\) => \{\s*const isInitialRequest = !req\._query\.sid;/;
const sourceOf = (fn: unknown): string => (typeof fn === 'function' ? Function.prototype.toString.call(fn) : '');

/** Replaces a new socket's handshake listeners (see the header); a no-op if they are not found as expected. */
function swapHandshakeListeners(conn: EngineSocket): void {
  // Made without Engine.IO's handshake: nothing of it to swap.
  if (isWebSocketSession(conn)) return;
  const closes = conn.rawListeners('close') as (Listener & { listener?: Listener })[];
  const once = closes.find((fn) => FORGET_SOURCE.test(sourceOf(fn.listener)));
  if (once !== undefined && conn.readyState !== 'closed') {
    conn.removeListener('close', once);
    conn.prependListener('close', forgetClient);
  }
  const transport = conn.transport;
  if (transport === undefined || conn.server.opts.cookie) return;
  const headers = transport.listeners('headers').find((fn) => HEADERS_SOURCE.test(sourceOf(fn)));
  if (headers === undefined) return;
  transport.removeListener('headers', headers as Listener);
  transport.on('headers', onTransportHeaders);
}

// ws's WebSocket's listeners: `this` is ws's WebSocket.
let transportOnData: (this: EngineTransport, data: unknown) => void;
function onWsMessage(this: WsLike, data: Buffer, isBinary: boolean): void {
  transportOnData.call(this[TRANSPORT]!, isBinary ? data : data.toString());
}
function onWsClose(this: WsLike): void {
  this.removeListener('close', onWsClose);
  this[TRANSPORT]!.onClose();
}
function onWsError(this: WsLike, err: Error): void {
  this[TRANSPORT]!.onError(err);
}

function loadEngine(): Engine {
  const build = (path: string): Record<string, any> => engineModule<Record<string, any>>(`./${path}`);
  return {
    Socket: build('socket.js').Socket,
    Transport: build('transport.js').Transport,
    WsTransport: build('transports/websocket.js').WebSocket,
    transports: build('transports/index.js').default,
  };
}

/** engine.io's WebSocket transport class as installed (undefined until installWiring has run). */
let leanWebSocket: (new (...args: any[]) => object) | undefined;

/** Installs the shared wiring (once per process) and swaps the handshake's listeners of `engine`'s sockets. */
export function installLeanEngine(engine: { prependListener(event: 'connection', fn: (conn: any) => void): unknown }): void {
  engine.prependListener('connection', swapHandshakeListeners);
  installWiring();
}

function installWiring(): void {
  if (leanWebSocket) return;
  const engine = loadEngine();
  const socketProto = engine.Socket.prototype;
  const transportProto = engine.Transport.prototype as unknown as { onData: (data: unknown) => void };
  // engine.io's WebSocket transport calls `super.onData`: Transport's, whatever an instance has.
  transportOnData = transportProto.onData;

  noteReplaced(setTransport, socketProto.setTransport);
  socketProto.setTransport = setTransport;
  Object.defineProperty(socketProto, 'cleanupFn', {
    configurable: true,
    get: cleanupsOf,
    // The constructor's `this.cleanupFn = []` is not kept; a list with entries (nobody assigns one) would be.
    set(this: object, fns: Listener[]) {
      if (fns.length > 0) ownCleanups.set(this, fns);
      else ownCleanups.delete(this);
    },
  });

  /** engine.io's WebSocket transport, built without its per-instance closures. */
  class LeanWebSocket extends engine.Transport {
    constructor(req: { websocket: WsLike }) {
      super(req);
      this[OWNER] = null;
      const ws = req.websocket;
      this.socket = ws;
      ws[TRANSPORT] = this;
      ws.on('message', onWsMessage);
      ws.on('close', onWsClose);
      ws.on('error', onWsError);
      this.writable = true;
      (this as unknown as { perMessageDeflate: unknown }).perMessageDeflate = null;
    }
  }
  // Instances are engine.io WebSocket transports (name, send, doClose, handlesUpgrades are its own).
  Object.setPrototypeOf(LeanWebSocket.prototype, engine.WsTransport.prototype);
  // engine.io's send() reads these four per call: made then, over `this`, instead of kept per instance.
  type Sending = EngineTransport & { _onSent: Listener; _onSentLast: Listener };
  Object.defineProperties(LeanWebSocket.prototype, {
    _doSend: {
      get(this: Sending) {
        return (data: unknown) => this.socket.send(data, this._onSent);
      },
    },
    _doSendLast: {
      get(this: Sending) {
        return (data: unknown) => this.socket.send(data, this._onSentLast);
      },
    },
    _onSent: {
      get(this: Sending) {
        return (err?: Error) => {
          if (err) this.onError('write error', err.stack);
        };
      },
    },
    _onSentLast: {
      get(this: Sending) {
        return (err?: Error) => {
          if (err) {
            this.onError('write error', err.stack);
          } else {
            this.emit('drain');
            this.writable = true;
            this.emit('ready');
          }
        };
      },
    },
  });
  noteReplaced(LeanWebSocket as object, engine.transports.websocket);
  engine.transports.websocket = LeanWebSocket;
  leanWebSocket = LeanWebSocket as unknown as new (...args: any[]) => object;
}

/** Whether an Engine.IO socket and its transport are wired the lean way (for the tests that fail when not). */
export function isLeanEngineSocket(conn: unknown): boolean {
  const c = conn as EngineSocket | undefined;
  const transport = c?.transport;
  if (!leanWebSocket || transport === undefined || transport[OWNER] !== c) return false;
  if (Object.prototype.hasOwnProperty.call(c, 'cleanupFn')) return false;
  if (!c!.rawListeners('close').includes(forgetClient)) return false;
  if (!transport.listeners('packet').includes(onTransportPacket)) return false;
  if (transport.listeners('close').length > 0 && !transport.rawListeners('close').includes(onTransportClose)) return false;
  if ((transport as { name?: string }).name !== 'websocket') return true;
  const ws = transport.socket;
  return (
    transport instanceof leanWebSocket &&
    !Object.prototype.hasOwnProperty.call(transport, '_onSent') &&
    ws[TRANSPORT] === transport &&
    ws.rawListeners('message').includes(onWsMessage) &&
    ws.rawListeners('message').length === 1
  );
}
