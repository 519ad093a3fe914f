/**
 * /sock: Awayto-style topics on a plain WebSocket (docs/PROTOCOL.md, "/sock"). Each connection is a
 * hub subscriber of namespace '/sock' (its rooms are the topics, apart from every socket.io
 * namespace's rooms); the frames it sends map to hub calls:
 *
 *   subscribe → join + participants      unsubscribe → leave + unsubscribe-topic notice
 *   load-subscribers → presence          load-messages → the message store
 *   any other action → publish (SOCK_MESSAGE, with meta, history, store and every node)
 *
 * The transport (lib/transport/ws-endpoint.ts) has admitted the connection and enforces the frame
 * size, rate and send-buffer limits before anything here runs.
 */
import { ServiceError, toErrorBody } from '../lib/core/errors.js';
import type { SockFrame } from '../lib/core/events.js';
import { serverPublisher, type Hub } from '../lib/core/hub.js';
import type { WsModule, WsOpening } from '../lib/core/ws-modules.js';
import { exceedsDepth } from '../lib/abuse/json-depth.js';
import type { Logger } from '../lib/log/logger.js';
import type { Member } from '../lib/presence/types.js';
import { WS_CLOSE, type WsSession } from '../lib/transport/index.js';
import { frame, identityOf, NS, participants, registryOf, SockMember, type Identity } from './sock-members.js';

/** Sent by the server only: a client frame with one of these actions is refused (BAD_REQUEST). */
const RESERVED = new Set(['connected', 'error', 'subscribe-topic', 'unsubscribe-topic', 'subscribers-existing', 'existing-subscribers', 'has-more-messages']);

const MAX_ACTION_LENGTH = 128;
const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;
/** load-messages reads at most this many of a topic's newest stored messages (page × pageSize). */
const MAX_LOADED = 1000;
/**
 * Frames waiting behind one still being handled (a slow --authorize-url, a store): beyond this a
 * frame is refused at once with RATE_LIMITED, so a client cannot pile up work and memory.
 */
const MAX_PENDING = 256;

const badRequest = (message: string): ServiceError => new ServiceError('BAD_REQUEST', message);

/** The subscribe-topic notice of `member` in `topic`, its participant read from presence (every node). */
async function subscribeNotice(core: Hub, member: SockMember, topic: string, members?: Member[]): Promise<SockFrame> {
  members ??= await core.members(NS, topic);
  const own = participants(members).find((p) => p.scid === member.identity.scid) ?? { ...member.identity, cids: [member.id], online: true as const };
  return frame('subscribe-topic', { topic, sender: member.id, payload: [own] });
}

/** Parses and checks a client frame; throws BAD_REQUEST. */
function parseFrame(text: string, core: Hub): { action: string; topic: string; body: Record<string, unknown> } {
  if (exceedsDepth(text, core.limits.maxDepth)) throw badRequest(`the frame is nested deeper than ${core.limits.maxDepth} levels`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('the frame is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('a frame must be a JSON object');
  const { action, topic } = body as Record<string, unknown>;
  if (typeof action !== 'string' || action.length === 0 || action.length > MAX_ACTION_LENGTH) {
    throw badRequest(`"action" must be a non-empty string of at most ${MAX_ACTION_LENGTH} characters`);
  }
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > core.limits.maxRoomLength) {
    throw badRequest(`"topic" must be a non-empty string of at most ${core.limits.maxRoomLength} characters`);
  }
  return { action, topic, body: body as Record<string, unknown> };
}

function positiveInteger(value: unknown, field: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw badRequest(`"${field}" must be an integer from 1 to ${max}`);
  }
  return value;
}

class SockSession implements WsSession {
  /** Frames are handled one after another, so a publish right after a subscribe finds the topic joined. */
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly member: SockMember,
    private readonly core: Hub,
    private readonly logger: Logger,
  ) {
    member.sendFrame(frame('connected', { payload: { connectionId: member.id } }));
    registryOf(core).set(member.id, member);
    const exp = member.auth?.exp;
    if (exp !== undefined) {
      // A plain WebSocket cannot be handed a fresh token: the connection ends with its token.
      const delay = Math.min(2 ** 31 - 1, Math.max(0, exp * 1000 - Date.now()));
      this.expiry = setTimeout(() => {
        this.error(undefined, new ServiceError('TOKEN_EXPIRED', 'the token has expired: connect again with a fresh one'));
        member.conn.close(WS_CLOSE.TOKEN_EXPIRED, 'token expired');
      }, delay);
      this.expiry.unref();
    }
  }

  text(text: string): void {
    this.enqueue(() => this.handle(text));
  }

  binary(): void {
    this.enqueue(async () => this.error(undefined, badRequest('binary frames are not accepted: send JSON text')));
  }

  /** After the frames before it (`work` never throws). */
  private enqueue(work: () => Promise<void>): void {
    if (this.pending >= MAX_PENDING) {
      this.error(undefined, new ServiceError('RATE_LIMITED', `more than ${MAX_PENDING} frames waiting on this connection: slow down`));
      return;
    }
    this.pending++;
    this.queue = this.queue.then(async () => {
      await work();
      this.pending--;
    });
  }

  refused(error: { code: string; message: string }): void {
    this.core.counts.error(error.code);
    this.member.sendFrame(frame('error', { payload: error }));
  }

  closed(): void {
    const { member, core } = this;
    member.closed = true;
    clearTimeout(this.expiry);
    registryOf(core).delete(member.id);
    // After the frames in hand, so a subscribe still running is announced before its departure.
    this.queue = this.queue.then(async () => {
      try {
        for (const topic of member.rooms.keys()) core.announce(member, topic, 'SOCK_NOTICE', frame('unsubscribe-topic', { topic, sender: member.id, payload: member.id }));
        await core.detach(member);
      } catch (err) {
        this.logger.error('disconnect cleanup failed', { nsp: NS, member: member.id, err });
      }
    });
  }

  private async handle(text: string): Promise<void> {
    let topic: string | undefined;
    try {
      const request = parseFrame(text, this.core);
      topic = request.topic;
      if (!this.member.connected) return;
      switch (request.action) {
        case 'subscribe':
          return await this.subscribe(topic);
        case 'unsubscribe':
          return await this.unsubscribe(topic);
        case 'load-subscribers':
          return await this.loadSubscribers(topic);
        case 'load-messages':
          return await this.loadMessages(topic, request.body.payload);
        default:
          return await this.publish(request.action, topic, request.body);
      }
    } catch (err) {
      this.error(topic, err);
    }
  }

  private error(topic: string | undefined, err: unknown): void {
    const payload = toErrorBody(err);
    this.core.counts.error(payload.code);
    if (payload.code === 'INTERNAL_ERROR') this.logger.error('/sock frame failed', { nsp: NS, member: this.member.id, err });
    else if (this.logger.isDebugEnabled()) this.logger.debug('refused /sock frame', { nsp: NS, member: this.member.id, code: payload.code, reason: payload.message });
    this.member.sendFrame(frame('error', topic === undefined ? { payload } : { topic, payload }));
  }

  private requireSubscribed(topic: string): void {
    if (!this.member.rooms.has(topic)) throw new ServiceError('NOT_SUBSCRIBED', `not subscribed to topic "${topic.slice(0, 64)}"`);
  }

  private async subscribe(topic: string): Promise<void> {
    const { member, core } = this;
    const again = member.rooms.has(topic);
    await core.join(member, topic, member.identity.name);
    if (!member.connected) return;
    const members = await core.members(NS, topic);
    const others = members.filter((m) => m.id !== member.id);
    if (others.length > 0) {
      member.sendFrame(frame('subscribers-existing', { topic }));
      member.sendFrame(frame('existing-subscribers', { topic, sender: member.id, payload: participants(others) }));
    }
    const notice = await subscribeNotice(core, member, topic, members);
    // Once per membership: subscribing again only answers the subscriber.
    if (again) member.sendFrame(notice);
    else core.announce(serverPublisher(NS), topic, 'SOCK_NOTICE', notice); // no id: to the newcomer too
  }

  private async unsubscribe(topic: string): Promise<void> {
    const { member, core } = this;
    this.requireSubscribed(topic);
    await core.leave(member, topic);
    core.announce(member, topic, 'SOCK_NOTICE', frame('unsubscribe-topic', { topic, sender: member.id, payload: member.id }));
  }

  private async loadSubscribers(topic: string): Promise<void> {
    this.requireSubscribed(topic);
    const members = await this.core.members(NS, topic);
    this.member.sendFrame(frame('existing-subscribers', { topic, payload: participants(members) }));
  }

  private async loadMessages(topic: string, payload: unknown): Promise<void> {
    const { member, core } = this;
    this.requireSubscribed(topic);
    if (payload !== undefined && payload !== null && (typeof payload !== 'object' || Array.isArray(payload))) {
      throw badRequest('"payload" must be an object {page?, pageSize?}');
    }
    const options = (payload ?? {}) as Record<string, unknown>;
    const pageSize = positiveInteger(options.pageSize, 'pageSize', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const page = positiveInteger(options.page, 'page', 1, Math.floor(MAX_LOADED / pageSize));
    const newest = page * pageSize;
    // One more than the pages up to this one: whether an older message exists.
    const entries = await core.stored(member, topic, newest + 1);
    const n = entries.length;
    for (const entry of entries.slice(Math.max(0, n - newest), Math.max(0, n - (page - 1) * pageSize))) {
      member.sendFrame({ ...(entry.args[0] as SockFrame), historical: true });
    }
    member.sendFrame(frame('has-more-messages', { topic, payload: n > newest }));
  }

  private async publish(action: string, topic: string, body: Record<string, unknown>): Promise<void> {
    const { member, core } = this;
    if (RESERVED.has(action)) throw badRequest(`"${action}" is an action of the server`);
    this.requireSubscribed(topic);
    const store = body.store ?? false;
    if (typeof store !== 'boolean') throw badRequest('"store" must be a boolean');
    const out: SockFrame = { sender: member.id, action, topic, payload: body.payload ?? null, store, timestamp: new Date().toISOString() };
    // Stored first: a message that cannot be stored is not delivered (the hub's store-first path).
    if (store) await core.publishStored(member.publisher, topic, {}, 'SOCK_MESSAGE', out);
    else await core.receipt(core.publish(member.publisher, topic, 'SOCK_MESSAGE', out), false, {});
  }
}

export const sock: WsModule = {
  path: '/sock',
  ns: NS,
  // Stored messages are stored before they go out, from HTTP too.
  storeFirst: true,
  // A message published over HTTP: an ordinary `message` frame from the service.
  httpMessage: (topic, payload, store) => ({
    event: 'SOCK_MESSAGE',
    args: [{ sender: 'POST', action: 'message', topic, payload, store, timestamp: new Date().toISOString() } satisfies SockFrame],
  }),
  // An SSE stream of a topic: each frame under its action.
  sseEvent: (envelope) => {
    const frame = envelope.args[0] as SockFrame;
    return { event: frame.action, data: frame };
  },

  open({ conn, principal, query, core, logger }: WsOpening): WsSession {
    let identity: Identity;
    if (principal) {
      identity = { scid: principal.user, name: principal.name, role: principal.role ?? '' };
    } else {
      const name = query.get('name')?.slice(0, core.limits.maxNameLength) || undefined;
      identity = { scid: name ?? conn.id, name: name ?? conn.id, role: '' };
    }
    return new SockSession(new SockMember(conn, principal, identity), core, logger);
  },

  // POST /users/:user/disconnect: an error frame, then the close.
  disconnectUser(core, user, error) {
    const members = [...registryOf(core).values()].filter((m) => m.connected && m.auth?.user === user);
    for (const member of members) {
      member.sendFrame(frame('error', { payload: error }));
      member.conn.close(WS_CLOSE.DISCONNECTED_BY_SERVER, 'disconnected by the server');
    }
    return members.length;
  },

  displayName: (member) => identityOf(member).name,

  // A node died: its participants could not say goodbye, so the surviving node that swept them does.
  onMembersLost({ core }, topic, ids) {
    for (const id of ids) core.announce(serverPublisher(NS), topic, 'SOCK_NOTICE', frame('unsubscribe-topic', { topic, sender: id, payload: id }));
  },

  // This node was taken for dead (cut off longer than the presence TTL) but was not: its
  // participants are announced again to the others (from the member: not to itself).
  onMembersBack({ core }, topic, ids) {
    for (const id of ids) {
      const member = registryOf(core).get(id);
      if (!member?.connected || !member.rooms.has(topic)) continue;
      subscribeNotice(core, member, topic).then(
        (notice) => core.announce(member, topic, 'SOCK_NOTICE', notice),
        () => undefined, // presence unreadable: the next subscribe or load-subscribers tells
      );
    }
  },
};
