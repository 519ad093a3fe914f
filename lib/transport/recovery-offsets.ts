/**
 * Which connections get socket.io's recovery offset, and a packet without it for the others.
 *
 * With connection-state recovery on, socket.io appends an offset (the packet's id) as an extra last
 * argument to every broadcast event. socket.io-client 4 reads it (and strips it) to resume a dropped
 * session; every other client hands it to the application: JavaScript 1.x/2.x handlers ignore it,
 * but python-socketio calls a one-argument handler with two and loses the event (TypeError).
 *
 * The choice is made once per Engine.IO connection, at its handshake (`offsetsWanted`): an
 * allow-list of what is known to read offsets, socket.io's JavaScript client of Engine.IO v4, which
 * builds its URL as `[user query&]EIO=4&transport=<name>[&t=<base36 or yeast>]`. python-engineio
 * writes `transport=<name>&EIO=4&t=<float seconds>`; anything else (Engine.IO v3 clients, which never
 * resume, unknown clients) gets no offsets. A client can say what it wants with
 * `?recoveryOffsets=1` or `=0`.
 *
 * Broadcasts are encoded once with the offset, as socket.io does; a second encoding without it is
 * made at most once per broadcast, when the first member without offsets is written to. The hooks
 * are on socket.io-adapter's in-memory `Adapter.prototype.broadcast`, which the fan-out adapter and
 * the Redis streams adapter (through `super`) both end in: it calls `this._encode(packet, opts)` and
 * then `this.apply(opts, write)` synchronously, so `_encode` notes the packet and `apply` picks the
 * encoding per member. Packets carrying an offset are marked where it is appended: `markOffset`
 * (lib/history/recovery.ts) and the cluster adapter's `addOffsetIfNecessary`. The internals are checked
 * when an adapter is set up: a socket.io-adapter without them stops the service at start.
 */
import { Adapter } from 'socket.io-adapter';

/** The query parameter a client overrides the choice with: `1` (offsets) or `0` (none). */
export const OFFSETS_QUERY = 'recoveryOffsets';

const GETS_OFFSETS = Symbol('getsRecoveryOffsets');
const TAKE_PLAIN = Symbol('takePlainEncoding');
const EVENT_PACKET = 2;

/** socket.io-client's `t`: yeast (6.0-6.4) or base36 (6.5+); python-engineio's is a float. */
const JS_TIMESTAMP = /^[0-9A-Za-z_-]{1,16}$/;
/** engine.io-client puts EIO right before transport (user query first, sid/t/b64 after). */
const JS_ORDER = /(?:^|&)EIO=4&transport=(?:polling|websocket|webtransport)(?:&|$)/;

/** Whether a connection opened by this handshake URL gets recovery offsets (see the header). */
export function offsetsWanted(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return false;
  const query = url!.slice(q + 1);
  const params = new URLSearchParams(query);
  const override = params.get(OFFSETS_QUERY);
  if (override === '1' || override === 'true') return true;
  if (override === '0' || override === 'false') return false;
  const t = params.get('t');
  return JS_ORDER.test(query) && (t === null || JS_TIMESTAMP.test(t));
}

interface Conn {
  request?: { url?: string };
  [GETS_OFFSETS]?: boolean;
}

/** Whether this Engine.IO connection (`socket.conn`, `socket.client.conn`) gets recovery offsets. */
export function getsOffsets(conn: object): boolean {
  return (conn as Conn)[GETS_OFFSETS] === true;
}

/** Makes the choice for every Engine.IO connection of `engine`, at its handshake. */
export function chooseOffsetsAtHandshake(engine: { prependListener(event: 'connection', fn: (conn: Conn) => void): unknown }): void {
  // Before socket.io's own listener builds the Client: the choice exists before any packet flows.
  engine.prependListener('connection', (conn) => {
    conn[GETS_OFFSETS] = offsetsWanted(conn.request?.url);
  });
}

/**
 * Marks packets whose last argument is a recovery offset. A symbol-keyed property on the packet
 * rather than a WeakSet: a WeakSet entry per broadcast cost ~1.3 µs and ephemeron work in every GC.
 * socket.io's encoder reads only the packet's named fields.
 */
const WITH_OFFSET = Symbol('withRecoveryOffset');

/** Notes that `packet.data`'s last element is the recovery offset just appended. */
export function markOffset(packet: object): void {
  (packet as { [WITH_OFFSET]?: boolean })[WITH_OFFSET] = true;
}

function hasOffset(packet: object): boolean {
  return (packet as { [WITH_OFFSET]?: boolean })[WITH_OFFSET] === true;
}

interface SocketPacket {
  type: number;
  nsp?: string;
  id?: number;
  data: unknown[];
}
export interface PacketOpts {
  preEncoded?: boolean;
  volatile?: boolean;
  compress?: boolean;
  wsPreEncodedFrame?: unknown;
}
interface Member {
  client: { conn: object; writeToEngine(encoded: unknown[], opts: PacketOpts): void };
  notifyOutgoingListeners?: (packet: unknown) => void;
}
/** A broadcast encoded without its offset: the packet, its encoding and the write options. */
export interface PlainEncoding {
  packet: SocketPacket;
  encoded: unknown[];
  opts: PacketOpts;
}
type Encode = (this: unknown, packet: SocketPacket, opts: PacketOpts) => unknown[];
type Apply = (this: unknown, opts: unknown, write: (socket: Member) => void) => void;
interface HookableAdapter {
  _encode: Encode;
  apply: Apply;
  addOffsetIfNecessary?: (this: unknown, packet: SocketPacket, opts: unknown, offset: string) => void;
  [TAKE_PLAIN]?: () => (() => PlainEncoding) | undefined;
}

/** Throws when socket.io-adapter no longer has what the hooks rely on. */
function checkInternals(adapter: HookableAdapter): void {
  const base = Adapter.prototype as unknown as HookableAdapter & { broadcast: unknown };
  const source = typeof base.broadcast === 'function' ? Function.prototype.toString.call(base.broadcast) : '';
  const ok =
    (adapter as object) instanceof Adapter &&
    typeof adapter._encode === 'function' &&
    typeof adapter.apply === 'function' &&
    source.includes('this._encode(') &&
    source.includes('this.apply(') &&
    source.includes('writeToEngine(');
  if (!ok) {
    throw new Error(
      'socket.io-adapter internals changed (Adapter.prototype.broadcast no longer calls this._encode and this.apply): ' +
        'recovery offsets cannot be left out for clients that do not read them; run with --recovery-window 0 or pin socket.io-adapter 2.5',
    );
  }
}

/**
 * Makes `adapter` write broadcasts that carry a recovery offset without it to the members whose
 * connection gets none. For the fan-out adapter and the cluster adapter alike; throws when the
 * internals are missing (see the header).
 */
export function chooseOffsetPerConnection(adapter: object): void {
  const a = adapter as HookableAdapter;
  checkInternals(a);
  const encode = a._encode;
  const apply = a.apply;
  // Set by _encode, taken by the apply (or the fan-out fast path) that follows it synchronously.
  let pending: (() => PlainEncoding) | undefined;
  const take = (): (() => PlainEncoding) | undefined => {
    const plain = pending;
    pending = undefined;
    return plain;
  };

  a._encode = function (packet, opts) {
    const encoded = encode.call(this, packet, opts);
    pending = packet.type === EVENT_PACKET && hasOffset(packet) ? lazyPlain(this, encode, packet, opts) : undefined;
    return encoded;
  };
  a.apply = function (opts, write) {
    const plain = take();
    if (!plain) return apply.call(this, opts, write);
    return apply.call(this, opts, (socket) => (getsOffsets(socket.client.conn) ? write(socket) : writePlain(socket, plain())));
  };
  a[TAKE_PLAIN] = take;

  // The cluster adapter appends the stream entry's id (live broadcasts and those read from the stream).
  const addOffset = a.addOffsetIfNecessary;
  if (addOffset !== undefined) {
    if (typeof addOffset !== 'function') throw new Error('socket.io-adapter internals changed: addOffsetIfNecessary is not a function');
    a.addOffsetIfNecessary = function (packet, opts, offset) {
      const before = packet.data.length;
      addOffset.call(this, packet, opts, offset);
      if (packet.data.length > before) markOffset(packet);
    };
  }
}

/**
 * For the fan-out adapter's own single-room path, right after its `_encode`: the encoding without
 * the offset (made on first call), or undefined when the packet carries none.
 */
export function takePlain(adapter: object): (() => PlainEncoding) | undefined {
  return (adapter as HookableAdapter)[TAKE_PLAIN]?.();
}

/** socket.io's per-member write of a broadcast (Adapter.prototype.broadcast), with the plain encoding. */
export function writePlain(socket: Member, plain: PlainEncoding): void {
  socket.notifyOutgoingListeners?.(plain.packet);
  socket.client.writeToEngine(plain.encoded, plain.opts);
}

function lazyPlain(adapter: unknown, encode: Encode, packet: SocketPacket, opts: PacketOpts): () => PlainEncoding {
  let plain: PlainEncoding | undefined;
  return () => {
    if (plain) return plain;
    const stripped: SocketPacket & { [WITH_OFFSET]?: boolean } = { ...packet, data: packet.data.slice(0, -1) };
    // The spread copied the mark; this one carries no offset (false, not delete: that would turn the
    // object into a dictionary on every publication that has a plain encoding).
    stripped[WITH_OFFSET] = false;
    const plainOpts: PacketOpts = { preEncoded: true, volatile: opts.volatile, compress: opts.compress };
    plain = { packet: stripped, encoded: encode.call(adapter, stripped, plainOpts), opts: plainOpts };
    return plain;
  };
}

/** The arguments of a replayed packet (event name first, offset last) as this socket must get them. */
export function argsFor(conn: object, withOffsetLast: unknown[]): unknown[] {
  return getsOffsets(conn) ? withOffsetLast : withOffsetLast.slice(0, -1);
}
