/**
 * /chat: Avaya Spaces-style channels. SUBSCRIBE_CHANNEL / UNSUBSCRIBE_CHANNEL a channel (a room
 * named by its `_id`), SEND_MESSAGE to it (MESSAGE_SENT to every subscriber, the sender's own
 * connection included, always stored when a message store is configured), GET_HISTORY of it, and
 * presence: PRESENCE_EVENT_RESPONSE online / offline once per user (not per connection, across
 * nodes), and SEND_PRESENCE_EVENT relayed to the others. Every verb answers with an event, a
 * refusal with `<VERB>_FAILED {channel | topicId, error: {code, message}}`; an ack, when the client
 * passes one, carries the same. Payload checks: namespaces/chat-payloads.ts; users across nodes:
 * lib/presence/users.ts.
 */
import { randomUUID } from 'node:crypto';
import type { NamespaceContext, NamespaceModule, VerbContext } from '../lib/core/dispatch.js';
import { ServiceError, toErrorBody, type ErrorBody } from '../lib/core/errors.js';
import type { ChatChannel, ChatMessage, ChatSender, ChatSubscribed, PublishReceipt } from '../lib/core/events.js';
import { serverPublisher } from '../lib/core/hub.js';
import type { Envelope, MaybePromise, Publisher } from '../lib/core/types.js';
import { parseLimit, parsePosition } from '../lib/history/parse.js';
import { recoveryFields } from '../lib/history/reply.js';
import type { Position } from '../lib/history/types.js';
import { UserPresence } from '../lib/presence/users.js';
import { emitHere } from '../lib/transport/index.js';
import { checkSize } from '../lib/core/validate.js';
import {
  checkQueryName,
  echoChannel,
  echoTopic,
  field,
  parseChannel,
  parseMessage,
  parsePresenceCategory,
  payloadOf,
  senderOf,
} from './chat-payloads.js';

const ONLINE = 'app.event.presence.party.online';
const OFFLINE = 'app.event.presence.party.offline';
/** SEND_MESSAGE_FAILED's top-level `type` when the sender has not subscribed to the channel. */
const SUBSCRIPTION_REQUIRED = 'app.event.channel.subscription.required';

/** The users of each /chat namespace (one per service: tests run several in one process). */
const usersByNamespace = new WeakMap<object, UserPresence>();

function usersOf({ nsp, core }: NamespaceContext): UserPresence {
  let users = usersByNamespace.get(nsp);
  if (!users) usersByNamespace.set(nsp, (users = new UserPresence(nsp.name, core)));
  return users;
}

const channelOf = (_id: string): ChatChannel => ({ _id, type: 'topic' });
const notSubscribed = (channel: string): ServiceError =>
  new ServiceError('NOT_SUBSCRIBED', `not subscribed to channel "${channel.slice(0, 64)}": SUBSCRIBE_CHANNEL first`);

/**
 * Runs a verb; a refusal goes to the sender as `event` (`fields` says what it repeats of the
 * request) and, when the client passed an ack, in the ack as well. An unexpected failure also goes
 * on to the dispatcher, which logs it.
 */
async function answer<T>(ctx: VerbContext, acked: boolean, event: string, fields: (error: ErrorBody) => object, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    const error = toErrorBody(err);
    if (ctx.socket.connected) emitHere(ctx.socket, event, { ...fields(error), error });
    // The dispatcher answers (and counts) it too.
    if (acked || error.code === 'INTERNAL_ERROR') throw err;
    ctx.core.counts.error(error.code);
    return undefined;
  }
}

function presenceNotice(core: VerbContext['core'], from: Publisher, channel: string, category: string, sender: ChatSender): void {
  core.announce(from, channel, 'PRESENCE_EVENT_RESPONSE', { channel: channelOf(channel), category, sender });
}

/** The connection is in `channel` now: online to the others when its user was nowhere in it. */
async function entered(ctx: VerbContext, channel: string, sender: ChatSender): Promise<void> {
  if (await usersOf(ctx).enter(channel, { id: sender._id, name: sender.displayname }, ctx.socket.id)) {
    presenceNotice(ctx.core, ctx.member, channel, ONLINE, sender);
  }
}

/** The connection left `channel` (or closed): offline to the others when it was its user's last. */
async function left(ctx: VerbContext, channel: string, sender: ChatSender): Promise<void> {
  if (await usersOf(ctx).leave(channel, sender._id, ctx.socket.id)) {
    presenceNotice(ctx.core, ctx.member, channel, OFFLINE, sender);
  }
}

async function subscribe(ctx: VerbContext, channel: ChatChannel, since: Position | undefined): Promise<ChatSubscribed> {
  const { socket, core, member } = ctx;
  const sender = senderOf(socket);
  const wasIn = member.rooms.has(channel._id);
  const { recovery } = await core.join(member, channel._id, sender.displayname, since);
  // Closed meanwhile: its disconnect has taken it out of its channels already.
  if (!wasIn && socket.connected) await entered(ctx, channel._id, sender);
  const reply: ChatSubscribed = recovery ? { channel, sessionId: socket.id, ...recoveryFields(recovery) } : { channel, sessionId: socket.id };
  emitHere(socket, 'CHANNEL_SUBSCRIBED', reply);
  return reply;
}

/** SEND_MESSAGE once checked: to every subscriber; the sender's copy carries its loopbackMetadata. */
/** SEND_MESSAGE's ack fields. */
type ChatReceipt = { topicId: string; _id: string } & PublishReceipt;

/**
 * SEND_MESSAGE once checked: to every subscriber through the one publish path (rights, offset,
 * history, cluster), the sender's own copy, with its loopbackMetadata, written as this node
 * delivers the message: in order with the channel's others. With a message store it is stored
 * first: a message that cannot be stored is not sent (SEND_MESSAGE_FAILED STORE_FAILED).
 */
function send(ctx: VerbContext, message: ChatMessage, loopback: unknown): MaybePromise<ChatReceipt> {
  const { socket, core, member } = ctx;
  if (!member.rooms.has(message.topicId)) throw notSubscribed(message.topicId);
  const own = (envelope: Envelope) => {
    if (!socket.connected) return;
    const sent: ChatMessage = { ...message, meta: envelope.meta! };
    emitHere(socket, 'MESSAGE_SENT', loopback === undefined ? sent : { ...sent, loopbackMetadata: loopback });
  };
  const fields = { topicId: message.topicId, _id: message._id };
  if (core.storing) return core.publishStoredWithOwnCopy(member, message.topicId, fields, own, 'MESSAGE_SENT', message);
  return core.receipt(core.publishWithOwnCopy(member, message.topicId, own, 'MESSAGE_SENT', message), false, fields);
}

/** A STORE_FAILED that carries the message's offset: it was delivered, only not stored. */
const deliveredUnstored = (err: unknown): boolean => err instanceof ServiceError && err.code === 'STORE_FAILED' && err.details?.offset !== undefined;

/** A message published over HTTP: the body is the content, the sender the service. */
function httpMessage(channel: string, body: unknown): { event: 'MESSAGE_SENT'; args: [ChatMessage] } {
  const sender: ChatSender = { _id: 'POST', displayname: 'POST', type: 'service' };
  return { event: 'MESSAGE_SENT', args: [{ _id: randomUUID(), category: 'chat', content: body, topicId: channel, created: new Date().toISOString(), sender }] };
}

export const chat: NamespaceModule = {
  name: '/chat',
  publishSource: 'chat',
  httpMessage,
  alwaysStored: true,
  // As SEND_MESSAGE: a message published over HTTP that cannot be stored is not sent.
  storeFirst: true,
  verbs: {
    SUBSCRIBE_CHANNEL(ctx, [raw], acked) {
      let payload: Record<string, unknown> | undefined;
      return answer(ctx, acked, 'SUBSCRIBE_CHANNEL_FAILED', () => ({ channel: echoChannel(payload?.channel, ctx.core.limits) }), () => {
        payload = payloadOf(raw, ctx.core.limits);
        const channel = parseChannel(field(payload, 'channel'), ctx.core.limits);
        return subscribe(ctx, channel, parsePosition(field(payload, 'since'), 'since'));
      });
    },

    UNSUBSCRIBE_CHANNEL(ctx, [raw], acked) {
      let payload: Record<string, unknown> | undefined;
      return answer(ctx, acked, 'UNSUBSCRIBE_CHANNEL_FAILED', () => ({ channel: echoChannel(payload?.channel, ctx.core.limits) }), async () => {
        payload = payloadOf(raw, ctx.core.limits);
        const channel = parseChannel(field(payload, 'channel'), ctx.core.limits);
        if (!(await ctx.core.leave(ctx.member, channel._id))) throw notSubscribed(channel._id);
        await left(ctx, channel._id, senderOf(ctx.socket));
        const reply = { channel };
        emitHere(ctx.socket, 'CHANNEL_UNSUBSCRIBED', reply);
        return reply;
      });
    },

    async SEND_MESSAGE(ctx, [raw], acked) {
      const { socket, core } = ctx;
      let payload: Record<string, unknown> | undefined;
      const fields = (error: ErrorBody) => ({
        topicId: echoTopic(payload?.topicId, core.limits),
        ...(payload?.loopbackMetadata === undefined ? {} : { loopbackMetadata: payload.loopbackMetadata }),
        ...(error.code === 'NOT_SUBSCRIBED' ? { type: SUBSCRIPTION_REQUIRED } : {}),
      });
      let delivered: unknown;
      const receipt = await answer(ctx, acked, 'SEND_MESSAGE_FAILED', fields, async () => {
        payload = payloadOf(raw, core.limits);
        try {
          return await send(ctx, parseMessage(raw, payload, senderOf(socket), core.limits), payload.loopbackMetadata);
        } catch (err) {
          if (!deliveredUnstored(err)) throw err;
          delivered = err;
          return undefined;
        }
      });
      // Delivered but its stored row could not be completed: STORE_FAILED with {offset, recipients}
      // in the ack (or an ERROR event); it went out, so it is no SEND_MESSAGE_FAILED.
      if (delivered !== undefined) throw delivered;
      return receipt;
    },

    GET_HISTORY(ctx, [raw], acked) {
      let payload: Record<string, unknown> | undefined;
      return answer(ctx, acked, 'GET_HISTORY_FAILED', () => ({ channel: echoChannel(payload?.channel, ctx.core.limits) }), async () => {
        payload = payloadOf(raw, ctx.core.limits);
        const channel = parseChannel(field(payload, 'channel'), ctx.core.limits);
        const limit = parseLimit(field(payload, 'limit'));
        const before = parsePosition(field(payload, 'before'), 'before');
        if (!ctx.member.rooms.has(channel._id)) throw notSubscribed(channel._id);
        const entries = await ctx.core.history(ctx.member, channel._id, limit, before);
        const reply = { channel, messages: entries.map((entry) => entry.args[0] as ChatMessage) };
        emitHere(ctx.socket, 'HISTORY', reply);
        return reply;
      });
    },

    SEND_PRESENCE_EVENT(ctx, [raw], acked) {
      let payload: Record<string, unknown> | undefined;
      return answer(ctx, acked, 'SEND_PRESENCE_EVENT_FAILED', () => ({ channel: echoChannel(payload?.channel, ctx.core.limits) }), async () => {
        payload = payloadOf(raw, ctx.core.limits);
        const channel = parseChannel(field(payload, 'channel'), ctx.core.limits);
        const category = parsePresenceCategory(field(payload, 'category'));
        const content = field(payload, 'content');
        checkSize(raw, content ?? null, ctx.core.limits, ctx.packetChars);
        if (!ctx.member.rooms.has(channel._id)) throw notSubscribed(channel._id);
        const sender = senderOf(ctx.socket);
        ctx.core.announce(ctx.member, channel._id, 'PRESENCE_EVENT_RESPONSE', content === undefined ? { channel, category, sender } : { channel, category, content, sender });
        return { channel };
      });
    },
  },

  onConnect(ctx) {
    try {
      checkQueryName(ctx.socket, ctx.core.limits);
    } catch (err) {
      // The name is the user's identity: a connection cannot go on without a usable one.
      const error = toErrorBody(err);
      ctx.core.counts.error(error.code);
      emitHere(ctx.socket, 'ERROR', { ...error, event: 'connect' });
      ctx.socket.disconnect(true);
      return;
    }
    // Restored by connection-state recovery: its channels were told offline at the disconnect.
    if (ctx.socket.recovered) {
      const sender = senderOf(ctx.socket);
      return Promise.all(ctx.member.rooms.keys().map((channel) => entered(ctx, channel, sender))).then(() => undefined);
    }
    return undefined;
  },

  async onDisconnect(ctx) {
    const sender = senderOf(ctx.socket);
    await Promise.all(ctx.member.rooms.keys().map((channel) => left(ctx, channel, sender)));
  },

  // A node died: the node that swept its presence tells the channels of the users that were only there.
  onMembersLost(ctx, room, ids) {
    void usersOf(ctx)
      .lost(room, ids)
      .then((gone) => {
        for (const { room: channel, user } of gone) {
          presenceNotice(ctx.core, serverPublisher(ctx.nsp.name), channel, OFFLINE, { _id: user.id, displayname: user.name, type: 'user' });
        }
      })
      // Presence reads do not fail (they answer from this node's own copy when Redis is away): belt and braces.
      .catch(() => undefined);
  },

  // This node had been taken for dead but was not: its users are online again.
  onMembersBack(ctx, room, ids) {
    for (const { room: channel, user } of usersOf(ctx).back(room, ids)) {
      presenceNotice(ctx.core, serverPublisher(ctx.nsp.name), channel, ONLINE, { _id: user.id, displayname: user.name, type: 'user' });
    }
  },
};
