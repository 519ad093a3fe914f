/**
 * The short path from the wire to a namespace's verbs for the common incoming packet: a text EVENT
 * (`2/layout,12["NOTIFY",{…}]`) on a WebSocket connection.
 *
 * socket.io's own path for it: socket.io-parser's decoder walks the header a character at a time
 * into a packet object and emits it; the Client looks the socket up and defers it with a closure
 * on `process.nextTick`; the Socket appends an ack closure to the argument list, copies its list of
 * catch-all listeners and calls ours, then runs the per-packet middlewares with another closure and
 * emits the event to its ordinary listeners on yet another tick (there are none: every verb is
 * handled by the catch-all listener of lib/core/dispatch.ts). About a fifth of what the process
 * spends on a NOTIFY outside the kernel, in a room of five.
 *
 * Here the decoder (lib/transport/guarded-parser.ts, after the rate limits and the depth scan, in
 * the same place in the connection's packet order) reads the header with a few index operations
 * and parses the JSON once, as socket.io-parser would, and the packet is handed to the namespace's
 * handler on `process.nextTick`, the queue socket.io defers every packet to: packets of a connection
 * keep their order whichever path each takes. Exactly socket.io's semantics otherwise:
 *
 * - only a packet socket.io-parser would decode to the same thing takes it: type 2 (not binary),
 *   a plain namespace (`/` and letters, digits, `_`, `-`: what Engine.IO v3's URL reading of it
 *   leaves unchanged), digits for the ack id, a JSON array whose first element is a string event
 *   name that is not reserved; anything else (and any JSON error) goes to socket.io-parser, which
 *   decodes it or throws as before;
 * - only on WebSocket (long-polling keeps socket.io's path), only to a socket that exists at decode
 *   time (else socket.io closes the connection, as before), and only for namespaces whose module
 *   asked for it (`acceptFastEvents`);
 * - when the packet's turn comes, the socket must have nothing socket.io would run besides our
 *   handler (no `socket.use` middleware, no other catch-all listener, no ordinary listener for the
 *   event): otherwise the packet object socket.io-parser would have made goes to socket.io's
 *   `_onpacket`, unchanged;
 * - the ack is socket.io's: `socket.packet({id, type: ACK, data: [reply]})`, at most once.
 *
 * Relies on socket.io's Client `nsps`, `conn` and `decoder`, and the Socket's `_anyListeners`, `fns`,
 * `_onpacket` and `packet`: checked at start-up (internals.ts). test/fast-paths.test.ts fails when
 * NOTIFYs stop taking this path.
 */

const EVENT = 0x32; // '2'
const SLASH = 0x2f;
const OPEN_BRACKET = 0x5b;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const ACK_PACKET = 3;
/** socket.io-parser's reserved event names (a packet naming one is invalid). */
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);
/** Namespaces read the same by socket.io-parser and by Engine.IO v3's URL parsing. */
const PLAIN_NSP = /^\/[A-Za-z0-9_-]*$/;
/** Longer ack ids go to socket.io-parser (Number() of them may round; it decides what they mean). */
const MAX_ID_DIGITS = 15;

export type Ack = (reply: unknown) => void;
/**
 * What the namespace does with an event: `data` is `[event, ...args]`; `ack` when the client asked
 * for one; `packetChars`, the length of the packet's text.
 */
export type FastEventHandler = (socket: FastSocket, data: unknown[], ack: Ack | undefined, packetChars: number) => void;

export interface FastSocket {
  nsp: object;
  _anyListeners?: unknown[];
  fns: unknown[];
  listenerCount(event: string): number;
  _onpacket(packet: object): void;
  packet(packet: { id: number; type: number; data: unknown[] }): void;
}

interface Registration {
  handler: FastEventHandler;
  /** The catch-all listener the namespace registered on its sockets: the only one allowed. */
  listener: unknown;
}

export interface FastClient {
  conn: { transport: { name: string } };
  nsps: Map<string, FastSocket>;
  decoder: object;
}

const REGISTRATION = Symbol('fastEvents');
/** The slot of a decoder that holds its Client (declared by the decoder class: no new property per connection). */
export const DECODER_CLIENT = Symbol('fastEventsClient');

/** Packets that took the fast path (read by test/fast-paths.test.ts). */
let fastEvents = 0;
export function fastEventCount(): number {
  return fastEvents;
}

/**
 * Text EVENT packets to namespace `nsp` may go straight to `handler` (see the header); `listener`
 * is the catch-all listener the namespace puts on each of its sockets with `onAny`.
 */
export function acceptFastEvents(nsp: object, listener: unknown, handler: FastEventHandler): void {
  (nsp as { [REGISTRATION]?: Registration })[REGISTRATION] = { handler, listener };
}

/**
 * Lets this connection's decoder use the fast path (called once its first namespace socket exists);
 * idempotent. Only a decoder with the slot (guarded-parser's) is told.
 */
export function useFastEvents(client: object): void {
  const c = client as FastClient;
  const decoder = c.decoder as { [DECODER_CLIENT]?: FastClient };
  if (DECODER_CLIENT in decoder) decoder[DECODER_CLIENT] = c;
}

/**
 * Takes `text` (one socket.io packet, already past the limits) by the fast path if it qualifies;
 * false: hand it to socket.io-parser as usual.
 */
export function takeFastEvent(client: FastClient, text: string): boolean {
  if (text.charCodeAt(0) !== EVENT || client.conn.transport.name !== 'websocket') return false;
  let i = 1;
  let nsp = '/';
  if (text.charCodeAt(1) === SLASH) {
    const comma = text.indexOf(',', 1);
    if (comma < 0) return false;
    nsp = text.slice(1, comma);
    if (!PLAIN_NSP.test(nsp)) return false;
    i = comma + 1;
  }
  const idStart = i;
  while (i < text.length && text.charCodeAt(i) >= DIGIT_0 && text.charCodeAt(i) <= DIGIT_9) i++;
  if (i - idStart > MAX_ID_DIGITS || text.charCodeAt(i) !== OPEN_BRACKET) return false;
  const socket = client.nsps.get(nsp);
  if (socket === undefined) return false;
  const registration = (socket.nsp as { [REGISTRATION]?: Registration })[REGISTRATION];
  if (registration === undefined) return false;
  let data: unknown;
  try {
    data = JSON.parse(text.slice(i));
  } catch {
    return false; // socket.io-parser refuses it (and closes the connection)
  }
  if (!Array.isArray(data) || typeof data[0] !== 'string' || RESERVED.has(data[0])) return false;
  const id = i > idStart ? Number(text.slice(idStart, i)) : undefined;
  fastEvents++;
  process.nextTick(dispatchFast, socket, registration, nsp, data, id, text.length);
  return true;
}

/** The packet's turn (see the header): our handler alone, or socket.io's own handling. */
function dispatchFast(socket: FastSocket, registration: Registration, nsp: string, data: unknown[], id: number | undefined, chars: number): void {
  const any = socket._anyListeners;
  if (any?.length === 1 && any[0] === registration.listener && socket.fns.length === 0 && socket.listenerCount(data[0] as string) === 0) {
    registration.handler(socket, data, id === undefined ? undefined : ackFor(socket, id), chars);
    return;
  }
  socket._onpacket(id === undefined ? { type: 2, nsp, data } : { type: 2, nsp, id, data });
}

/** socket.io's ack callback: one ACK packet with the reply, at most once. */
function ackFor(socket: FastSocket, id: number): Ack {
  let sent = false;
  return (reply) => {
    if (sent) return;
    socket.packet({ id, type: ACK_PACKET, data: [reply] });
    sent = true;
  };
}
