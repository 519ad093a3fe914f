/**
 * Binds a namespace module's verbs to its socket.io namespace. Owns what is common to every
 * verb: splitting off the optional ack, turning results into `{ok: true, ...}` and any failure
 * into `{ok: false, error}` (or an ERROR event when there is no ack), refusing unknown events,
 * and logging refusals at debug level. A verb never throws out of here.
 */
import type { HistoryEntry } from '../history/types.js';
import type { Member } from '../presence/types.js';
import { acceptFastEvents, compactSocketListeners, emitHere, onAnyEvent, useDirectWrites, useFastEvents } from '../transport/index.js';
import { toErrorBody, ServiceError, type ErrorBody } from './errors.js';
import type { ArgumentStyle } from './large-packets.js';
import type { Logger } from '../log/logger.js';
import { REFUSED_EVENT, type Refusal } from '../abuse/packet-rates.js';
import type { AppNamespace, AppSocket } from './app-socket.js';
import type { ServerEvents } from './events.js';
import type { Envelope, PublishSource } from './types.js';
import type { Hub } from './hub.js';
import { SocketIoGroup, SocketMember } from './socketio-members.js';

export interface VerbContext {
  socket: AppSocket;
  nsp: AppNamespace;
  core: Hub;
  /** The socket as a hub member: what join, leave, publish and history take. */
  member: SocketMember;
  /** The length of the text packet the event came in, when known (bounds its payload: checkSize). */
  packetChars?: number;
}

/** What the hooks without a socket get. */
export type NamespaceContext = Pick<VerbContext, 'nsp' | 'core'>;

/** What a verb returns is merged into its success ack. */
export type VerbResult = Record<string, unknown> | void;
/** `acked`: the client passed an ack callback (a verb may then answer in the ack alone). */
export type Verb = (ctx: VerbContext, args: unknown[], acked: boolean) => VerbResult | Promise<VerbResult>;

/** A message event and its arguments, as `Hub.publish` takes them, for a message published over HTTP. */
export type HttpMessage = (room: string, message: unknown, store: boolean) => { event: keyof ServerEvents; args: unknown[] };

/** A delivery as a Server-Sent Events stream shows it: the `event:` name and the `data:` value. */
export type SseEvent = (envelope: Envelope) => { event: string; data: unknown };

/** What a protocol says about its rooms over HTTP: messages published to them, and SSE streams of them. */
export interface HttpProtocol {
  /** Its hub namespace, e.g. '/layout'. */
  name: string;
  /** How its members get a message published over HTTP (sender `POST`); absent: it takes none. */
  httpMessage?: HttpMessage;
  /** Always kept in the message store when there is one (as if every publication asked `store`). */
  alwaysStored?: boolean;
  /**
   * How an SSE stream of its rooms (GET /events/:namespace/:room) shows a delivery; absent: the
   * event name a socket.io member gets and its first argument (lib/http/sse-member.ts).
   */
  sseEvent?: SseEvent;
  /**
   * A message to be stored is stored before it is delivered, and not delivered when it cannot be
   * (Hub.publishStored); absent: delivered first, then stored (Hub.receipt).
   */
  storeFirst?: boolean;
  /** A message as HISTORY lists it (GET /rooms/:namespace/:room/history, /messages); absent: its first argument. */
  historyItem?: (entry: HistoryEntry) => unknown;
  /** The display name of a presence entry whose name the protocol encoded (/sock); absent: the name. */
  displayName?: (member: Member) => string;
}

/** One protocol module per namespace: `namespaces/*.ts`, registered in `namespaces/index.ts`. */
export interface NamespaceModule extends HttpProtocol {
  /** e.g. '/layout' */
  name: string;
  verbs: Record<string, Verb>;
  /**
   * How the verbs read their arguments, for packets too large to parse at once (lib/core/large-packets.ts):
   * 'payload' (default) when the first argument is a payload object or a JSON string of one,
   * 'opaque' when arguments are relayed as they are.
   */
  argumentStyle?: ArgumentStyle;
  /** Runs once a connection is set up (e.g. /lobby joins the lobby named in the query). */
  onConnect?: (ctx: VerbContext) => void | Promise<void>;
  /** Runs when a connection closes, before the core forgets its rooms. */
  onDisconnect?: (ctx: VerbContext) => void | Promise<void>;
  /** Cluster mode: members of a node that died without a goodbye (and the names they were in the room under), reported by one surviving node. */
  onMembersLost?: (ctx: NamespaceContext, room: string, ids: string[], names: string[]) => void;
  /** Cluster mode: members of this node, back after the other nodes had taken it for dead. */
  onMembersBack?: (ctx: NamespaceContext, room: string, ids: string[], names: string[]) => void;
  /**
   * Its rooms' members may JOIN with `presence: true` for JOINED / LEFT about the others
   * (lib/core/presence-notices.ts): the hub then tells a room's watchers about every member.
   */
  presenceNotices?: boolean;
  /** What its connections' publications count as in `notify_messages_published_total{source}` (default `socket`). */
  publishSource?: PublishSource;
}

type AckFn = (reply: unknown) => void;

export function attachNamespace(nsp: AppNamespace, module: NamespaceModule, core: Hub, logger: Logger): void {
  const group = new SocketIoGroup(nsp, core, logger);
  if (module.presenceNotices) core.notices.enable(nsp.name);
  if (module.publishSource) core.publishSource(nsp.name, module.publishSource);
  const verbs = new Map(Object.entries(module.verbs));

  const fail = (socket: AppSocket, event: string, ack: AckFn | undefined, err: unknown): void => {
    const error: ErrorBody = toErrorBody(err);
    core.counts.error(error.code);
    if (error.code === 'INTERNAL_ERROR') {
      logger.error('verb failed', { nsp: nsp.name, event, socket: socket.id, err });
    } else if (logger.isDebugEnabled()) {
      logger.debug('refused client event', { nsp: nsp.name, event, socket: socket.id, code: error.code, reason: error.message });
    }
    if (ack) ack({ ok: false, error });
    else if (socket.connected) emitHere(socket, 'ERROR', { ...error, event });
  };

  const succeed = (ack: AckFn | undefined, result: VerbResult): void => {
    if (ack) ack(result ? { ok: true, ...result } : { ok: true });
  };

  // Synchronous verbs (NOTIFY, BROADCAST) are answered without a promise round: the hot path.
  const run = (ctx: VerbContext, event: string, verb: Verb, args: unknown[], ack: AckFn | undefined): void => {
    let result: VerbResult | Promise<VerbResult>;
    try {
      result = verb(ctx, args, ack !== undefined);
    } catch (err) {
      fail(ctx.socket, event, ack, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => succeed(ack, value),
        (err: unknown) => fail(ctx.socket, event, ack, err),
      );
    } else {
      succeed(ack, result);
    }
  };

  /** A packet the decoder refused unparsed (rate limits, lib/abuse/packet-rates.ts): answered, maybe cut. */
  const refused = (socket: AppSocket, refusal: Refusal, ack: AckFn | undefined): void => {
    if (refusal.limit) core.counts.limited(refusal.limit);
    // Answered first: Engine.IO sends what is queued before it closes.
    fail(socket, refusal.event, ack, new ServiceError(refusal.code, refusal.message));
    if (refusal.cut && socket.connected) {
      logger.warn('packet refused: disconnected', { nsp: nsp.name, socket: socket.id, code: refusal.code, reason: refusal.message });
      socket.disconnect(true);
    }
  };

  // The listeners are shared by every connection of the namespace (socket.io and EventEmitter
  // call them with the socket as `this`): no closures per idle connection.
  /** An event name fit for logs and errors (only built on a refusal). */
  const shown = (event: unknown): string => String(event).slice(0, 64);

  function onEvent(this: AppSocket, event: unknown, ...args: unknown[]): void {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
    if (event === REFUSED_EVENT) {
      refused(this, args[0] as Refusal, ack);
      return;
    }
    handle(this, event, args, ack);
  }

  /** A client event and its arguments (the ack taken off), by either path. */
  const handle = (socket: AppSocket, event: unknown, args: unknown[], ack: AckFn | undefined, packetChars?: number): void => {
    const verb = typeof event === 'string' ? verbs.get(event) : undefined;
    if (!verb) {
      const name = shown(event);
      fail(socket, name, ack, new ServiceError('UNKNOWN_EVENT', `unknown event "${name}" in ${nsp.name}`));
      return;
    }
    run({ socket, nsp, core, member: new SocketMember(socket, group), packetChars }, event as string, verb, args, ack);
  };

  // A text event the transport decoded itself (lib/transport/event-fast-path.ts): `data` is
  // [event, ...args], fresh from JSON.parse, so the event name is taken off in place. Never a
  // refusal (those are stand-in packets, which take socket.io's path) and never a function argument.
  acceptFastEvents(nsp, onEvent, (socket, data, ack, packetChars) => {
    const event = data.shift();
    handle(socket as unknown as AppSocket, event, data, ack, packetChars);
  });

  function onDisconnect(this: AppSocket): void {
    const ctx: VerbContext = { socket: this, nsp, core, member: new SocketMember(this, group) };
    void (async () => {
      try {
        await module.onDisconnect?.(ctx);
        await core.detach(ctx.member);
      } catch (err) {
        logger.error('disconnect cleanup failed', { nsp: nsp.name, socket: ctx.socket.id, err });
      }
    })();
  }

  nsp.on('connection', (socket) => {
    const restored = group.attach(socket);
    useDirectWrites(socket.client);
    useFastEvents(socket.client);
    onAnyEvent(socket, onEvent);
    socket.on('disconnect', onDisconnect);
    // Its listeners are set: their tables in fast-mode objects (~0.7 KB less per idle connection).
    compactSocketListeners(socket);
    if (module.onConnect) {
      const ctx: VerbContext = { socket, nsp, core, member: new SocketMember(socket, group) };
      // A restored socket's module hook runs once its rooms are back (lobby: JOINED again).
      Promise.resolve(restored)
        .then(() => (socket.connected ? module.onConnect!(ctx) : undefined))
        .catch((err: unknown) => fail(socket, 'connect', undefined, err));
    }
  });
}
