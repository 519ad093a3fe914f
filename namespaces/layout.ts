/**
 * /layout: the 2-IMMERSE layout protocol. JOIN a room under a display name, NOTIFY the other
 * members (EVENT {sender, room, message, meta}), LEAVE, and list the members with CLIENTS.
 * JOIN `since` resumes after a message, HISTORY reads recent and stored ones.
 */
import type { AppSocket } from '../lib/core/app-socket.js';
import type { NamespaceModule } from '../lib/core/dispatch.js';
import { emitHere } from '../lib/transport/index.js';
import type { EventEnvelope } from '../lib/core/events.js';
import { parseLimit, parsePosition, parseStore } from '../lib/history/parse.js';
import { recoveryFields, sendHistory } from '../lib/history/reply.js';
import { checkSize, displayName, parseObject, requireField, roomName } from '../lib/core/validate.js';

/** EVENT.sender: the identity with auth on, else the name it joined `room` with, else its last JOIN name. */
function senderName(socket: AppSocket, room: string): string {
  const state = socket.data;
  return state.auth?.name ?? state.names.get(room) ?? state.lastName ?? 'unknown';
}

export const layout: NamespaceModule = {
  name: '/layout',
  httpMessage: (room, message) => ({ event: 'EVENT', args: [{ sender: 'POST', room, message }] }),
  verbs: {
    async JOIN({ socket, core, member }, [raw]) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const name = displayName(payload.name, socket.id, core.limits);
      const since = parsePosition(payload.since, 'since');
      // With auth on, the name is the connection's identity, not the one asked for.
      const joined = await core.join(member, room, name, since);
      socket.data.lastName = joined.name;
      return joined.recovery ? { room, name: joined.name, ...recoveryFields(joined.recovery) } : { room, name: joined.name };
    },

    async LEAVE({ core, member }, [raw]) {
      const room = roomName(parseObject(raw, core.limits).room, core.limits);
      const wasMember = await core.leave(member, room);
      return { room, wasMember };
    },

    NOTIFY({ socket, core, member }, [raw]) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const message = requireField(payload, 'message');
      checkSize(raw, message, core.limits);
      const store = parseStore(payload.store);
      // Publishing to a room the socket has not joined is allowed: the layout service does that.
      return core.receipt(core.publish(member, room, 'EVENT', { sender: senderName(socket, room), room, message }), store, { room });
    },

    async CLIENTS({ socket, nsp, core, member }, [raw]) {
      const room = roomName(parseObject(raw, core.limits).room, core.limits);
      await core.authorize(member, 'subscribe', room); // who is in a room is the room's business
      const clients = (await core.members(nsp.name, room)).map((member) => member.name);
      // The original answered with a CLIENTS event; the ack carries the same for newer clients.
      emitHere(socket, 'CLIENTS', { room, clients });
      return { room, clients };
    },

    HISTORY({ socket, core, member }, [raw], acked) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const limit = parseLimit(payload.limit);
      const before = parsePosition(payload.before, 'before');
      return sendHistory(socket, room, core.history(member, room, limit, before), (entry) => entry.args[0] as EventEnvelope, acked);
    },
  },
};
