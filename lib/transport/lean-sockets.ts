/**
 * What socket.io allocates for every Socket that an idle connection of this service never uses,
 * made on demand instead (heap snapshots of 2000 idle joined connections, docs/PERFORMANCE.md):
 *
 * - `socket.acks`: a Map per socket (~180 B with its hash table) for the acks of server-side emits
 *   with a callback. The service never emits with a callback; the Map is made on first use.
 * - `socket.handshake.time`: a Date string (~80 B) that nothing reads; it is now computed from
 *   `issued` (the same instant, taken by socket.io a microsecond later) when read, and is still in
 *   the handshake's JSON.
 * - `socket.handshake.auth`: a client that sends no CONNECT payload (most do not) gets one shared,
 *   frozen empty object instead of a new `{}` (~56 B).
 * - the Client's `sockets` and `nsps` Maps (one entry each: the connection's one namespace) are
 *   SmallMaps, the entry inline (~290 B less; lib/transport/small-map.ts), kept under symbols and
 *   read through accessors on the Client's prototype.
 *
 * socket.io assigns `this.acks = new Map()` in its constructor: an accessor on the prototype turns
 * that assignment into a call, so the empty Map is dropped at once. Installed once per process
 * (every server in it shares socket.io's Socket class); checked at start-up (internals.ts).
 */
import { ioModule } from './library-modules.js';
import { compactListeners } from './compact-listeners.js';
import { noteReplaced } from './replaced-methods.js';
import { SmallMap } from './small-map.js';

type AnyAck = (...args: unknown[]) => void;

interface HandshakeFields {
  headers: Record<string, string | string[] | undefined>;
  time?: string;
  address: string;
  xdomain: boolean;
  secure: boolean;
  issued: number;
  url: string;
  query: Record<string, unknown>;
  auth: Record<string, unknown>;
}

/** socket.io's `handshake` object, without the `time` string kept per socket. */
class LeanHandshake {
  headers: HandshakeFields['headers'];
  address: string;
  xdomain: boolean;
  secure: boolean;
  issued: number;
  url: string;
  query: HandshakeFields['query'];
  auth: HandshakeFields['auth'];

  constructor(h: HandshakeFields) {
    this.headers = h.headers;
    this.address = h.address;
    this.xdomain = h.xdomain;
    this.secure = h.secure;
    this.issued = h.issued;
    this.url = h.url;
    this.query = h.query;
    this.auth = Object.keys(h.auth).length === 0 && Object.getPrototypeOf(h.auth) === Object.prototype ? NO_AUTH : h.auth;
  }

  /** What socket.io stored as `new Date() + ""` when the socket was made. */
  get time(): string {
    return new Date(this.issued).toString();
  }

  toJSON(): HandshakeFields {
    return { headers: this.headers, time: this.time, address: this.address, xdomain: this.xdomain, secure: this.secure, issued: this.issued, url: this.url, query: this.query, auth: this.auth };
  }
}

/** The `auth` of every socket whose client sent none. */
export const NO_AUTH: Record<string, unknown> = Object.freeze({});

interface IoSocketPrototype {
  buildHandshake(this: unknown, auth: Record<string, unknown>): HandshakeFields;
}

/** Where a Client's `sockets` and `nsps` are kept (behind accessors on its prototype). */
const CLIENT_SOCKETS: unique symbol = Symbol('client-sockets');
const CLIENT_NSPS: unique symbol = Symbol('client-nsps');

/** Each socket's acks Map, once it has one. */
const acksOf = new WeakMap<object, Map<number, AnyAck>>();
let installed = false;

export function installLeanSockets(): void {
  if (installed) return;
  installed = true;
  const proto = ioModule<{ Socket: { prototype: IoSocketPrototype } }>('./socket.js').Socket.prototype;

  Object.defineProperty(proto, 'acks', {
    configurable: true,
    get(this: object): Map<number, AnyAck> {
      let acks = acksOf.get(this);
      if (!acks) {
        acks = new Map();
        acksOf.set(this, acks);
      }
      return acks;
    },
    // The constructor's empty Map is not kept; a Map with entries (nobody assigns one) would be.
    set(this: object, acks: Map<number, AnyAck>) {
      if (acks.size > 0) acksOf.set(this, acks);
    },
  });

  // socket.io's Client assigns `this.sockets = new Map()` and `this.nsps = new Map()`: the accessors
  // keep a SmallMap of the same entries instead (both empty then), in a symbol-keyed own property.
  // A plain store, not Object.defineProperty on each Client (~1.2 µs each at every connect).
  const clientProto = ioModule<{ Client: { prototype: object } }>('./client.js').Client.prototype;
  for (const [name, slot] of [['sockets', CLIENT_SOCKETS], ['nsps', CLIENT_NSPS]] as const) {
    Object.defineProperty(clientProto, name, {
      configurable: true,
      get(this: Record<symbol, SmallMap<unknown, unknown>>) {
        return this[slot];
      },
      set(this: Record<symbol, SmallMap<unknown, unknown>>, map: Map<unknown, unknown>) {
        const small = new SmallMap<unknown, unknown>();
        for (const [key, value] of map) small.set(key, value);
        this[slot] = small;
      },
    });
  }

  const buildHandshake = proto.buildHandshake;
  const lean = function (this: unknown, auth: Record<string, unknown>) {
    return new LeanHandshake(buildHandshake.call(this, auth)) as unknown as HandshakeFields;
  };
  noteReplaced(lean, buildHandshake);
  proto.buildHandshake = lean;
}

/** Whether a socket is lean (for the tests that fail when it is not). */
export function isLeanSocket(socket: object): boolean {
  const s = socket as { handshake?: unknown; client?: { sockets?: unknown; nsps?: unknown } };
  return !Object.prototype.hasOwnProperty.call(socket, 'acks') && s.handshake instanceof LeanHandshake && s.client?.sockets instanceof SmallMap && s.client.nsps instanceof SmallMap;
}

/**
 * `socket.onAny(listener)` for a socket with no catch-all listener yet, in a 1-slot array:
 * socket.io's `push` into its empty array reserves 17 slots (~130 B per connection).
 */
export function onAnyEvent<S extends { onAny(fn: (...args: any[]) => void): unknown }>(socket: S, listener: (...args: any[]) => void): void {
  const s = socket as unknown as { _anyListeners?: unknown[] };
  if (s._anyListeners === undefined) s._anyListeners = [listener];
  else socket.onAny(listener);
}

/**
 * Compacts the listener tables of a connected socket and of the connection under it
 * (lib/transport/compact-listeners.ts): the socket.io Socket, the Engine.IO socket and transport,
 * and over WebSocket ws's WebSocket, its Receiver and the TCP socket. Call once its listeners are set.
 */
export function compactSocketListeners(socket: { conn: unknown }): void {
  compactListeners(socket);
  const conn = socket.conn as { transport?: { socket?: { _receiver?: unknown; _socket?: unknown } } } | undefined;
  compactListeners(conn);
  const transport = conn?.transport;
  compactListeners(transport);
  const ws = transport?.socket;
  if (ws === undefined) return;
  compactListeners(ws);
  compactListeners(ws._receiver);
  compactListeners(ws._socket);
}
