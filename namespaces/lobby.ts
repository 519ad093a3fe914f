/**
 * /lobby: WebRTC lobbies. A connection is in at most one lobby, given by `?lobbyId=` at connect
 * or by JOIN. The joiner gets PEERS (the other members' ids), the lobby gets JOINED / LEFT (LEFT
 * also when a member disconnects or its node dies), BROADCAST relays MESSAGE {from, message, meta}
 * to the lobby, RTCSIGNAL relays a signal to one peer of the same lobby, and HISTORY reads the
 * lobby's messages.
 */
import type { NamespaceModule, VerbContext } from '../lib/core/dispatch.js';
import { emitHere } from '../lib/transport/index.js';
import { ServiceError } from '../lib/core/errors.js';
import { serverPublisher } from '../lib/core/hub.js';
import { memberOf } from '../lib/core/socketio-members.js';
import type { ServerEvents } from '../lib/core/events.js';
import { parseLimit, parseOptions, parsePosition, parseStore } from '../lib/history/parse.js';
import { sendHistory } from '../lib/history/reply.js';
import { checkSize, parseJson, parseObject, requireField, roomName } from '../lib/core/validate.js';

async function joinLobby({ socket, nsp, core, member }: VerbContext, lobby: string) {
  const current = socket.data.lobby;
  if (current !== undefined && current !== lobby) {
    throw new ServiceError('ALREADY_IN_LOBBY', `already in lobby "${current}": LEAVE it first`);
  }
  if (current === undefined) {
    socket.data.lobby = lobby; // claimed before awaiting, so two racing JOINs cannot both win
    try {
      await core.join(member, lobby, socket.id);
    } catch (err) {
      socket.data.lobby = undefined;
      throw err;
    }
    // Gone while joining: its LEFT went out at the disconnect, and a JOINED now would leave a ghost peer.
    if (socket.connected) core.announce(member, lobby, 'JOINED', socket.id);
  }
  const peers = (await core.members(nsp.name, lobby)).map((m) => m.id).filter((id) => id !== socket.id);
  emitHere(socket, 'PEERS', peers);
  return { lobby, id: socket.id, peers };
}

function currentLobby({ socket }: VerbContext): string {
  const lobby = socket.data.lobby;
  if (lobby === undefined) throw new ServiceError('NOT_IN_LOBBY');
  return lobby;
}

export const lobby: NamespaceModule = {
  name: '/lobby',
  httpMessage: (_lobby, message) => ({ event: 'MESSAGE', args: [{ from: 'POST', message }] }),
  verbs: {
    JOIN(ctx, [id]) {
      return joinLobby(ctx, roomName(id, ctx.core.limits, 'lobby id'));
    },

    async LEAVE(ctx, [id]) {
      const lobby = currentLobby(ctx);
      if (id !== undefined && id !== null && roomName(id, ctx.core.limits, 'lobby id') !== lobby) {
        throw new ServiceError('NOT_IN_LOBBY', `not in lobby "${String(id)}"`);
      }
      ctx.socket.data.lobby = undefined;
      await ctx.core.leave(ctx.member, lobby);
      ctx.core.announce(ctx.member, lobby, 'LEFT', ctx.socket.id);
      return { lobby };
    },

    BROADCAST(ctx, [raw]) {
      const lobby = currentLobby(ctx);
      const payload = parseObject(raw, ctx.core.limits);
      const message = requireField(payload, 'message');
      checkSize(raw, message, ctx.core.limits, ctx.packetChars);
      const store = parseStore(payload.store);
      return ctx.core.receipt(ctx.core.publish(ctx.member, lobby, 'MESSAGE', { from: ctx.socket.id, message }), store, { lobby });
    },

    HISTORY(ctx, [raw], acked) {
      const lobby = currentLobby(ctx);
      const options = parseOptions(parseJson(raw, ctx.core.limits), 'payload');
      const entries = ctx.core.history(ctx.member, lobby, parseLimit(options.limit), parsePosition(options.before, 'before'));
      type Message = Parameters<ServerEvents['MESSAGE']>[0];
      return sendHistory(ctx.socket, lobby, entries, (entry) => entry.args[0] as Message, acked);
    },

    async RTCSIGNAL(ctx, [raw]) {
      const lobby = currentLobby(ctx);
      const signal = parseObject(raw, ctx.core.limits);
      const to = signal.to;
      if (typeof to !== 'string' || to.length === 0) {
        throw new ServiceError('INVALID_PAYLOAD', 'RTCSIGNAL needs a "to" peer id');
      }
      checkSize(raw, signal, ctx.core.limits, ctx.packetChars);
      await ctx.core.authorize(ctx.member, 'publish', lobby);
      if (to === ctx.socket.id || !(await ctx.core.isMember(ctx.nsp.name, lobby, to))) {
        throw new ServiceError('PEER_NOT_FOUND', `no peer "${to.slice(0, 64)}" in this lobby`);
      }
      // `from` is set by the server: a peer cannot pose as another.
      ctx.core.sendTo(ctx.nsp.name, to, 'RTCSIGNAL', { ...signal, from: ctx.socket.id });
      return { to };
    },
  },

  async onConnect(ctx) {
    // Restored by connection-state recovery: the lobby was told LEFT at the disconnect.
    if (ctx.socket.recovered && ctx.socket.data.lobby !== undefined) {
      ctx.core.announce(ctx.member, ctx.socket.data.lobby, 'JOINED', ctx.socket.id);
      return;
    }
    const { query, auth } = ctx.socket.handshake;
    // v4 clients put it in the query; 2.x clients' per-namespace query arrives as `auth`.
    const id = query.lobbyId ?? (auth as Record<string, unknown> | undefined)?.lobbyId;
    if (id === undefined || id === '') return;
    await joinLobby(ctx, roomName(Array.isArray(id) ? id[0] : id, ctx.core.limits, 'lobbyId'));
  },

  onDisconnect({ socket, core, member }) {
    const lobby = socket.data.lobby;
    if (lobby !== undefined) core.announce(member, lobby, 'LEFT', socket.id);
  },

  // A node died: its lobby members could not say goodbye, so the surviving node that swept them does.
  onMembersLost({ nsp, core }, lobby, ids) {
    for (const id of ids) core.announce(serverPublisher(nsp.name), lobby, 'LEFT', id);
  },

  // Its node was taken for dead (cut off longer than the presence TTL) but was not: announce it again.
  // A server notice like the JOINED of a JOIN: it needs no publish right (a subscribe-only member
  // must not lose its own notice, nor the others').
  onMembersBack({ nsp, core }, lobby, ids) {
    for (const id of ids) {
      const socket = nsp.sockets.get(id);
      if (socket) core.announce(memberOf(socket), lobby, 'JOINED', id); // from the socket: not to itself
    }
  },
};
