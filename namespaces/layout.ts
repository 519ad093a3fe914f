/**
 * /layout: the 2-IMMERSE layout protocol. JOIN a room under a display name, NOTIFY the other
 * members (EVENT {sender, room, message, meta}), LEAVE, and list the members with CLIENTS.
 * JOIN `since` resumes after a message, HISTORY reads recent and stored ones.
 */
import type { NamespaceModule } from '../lib/core/dispatch.js';
import { emitHere } from '../lib/transport/index.js';
import type { EventEnvelope } from '../lib/core/events.js';
import { parseLimit, parsePosition, parseStore } from '../lib/history/parse.js';
import { recoveryFields, sendHistory } from '../lib/history/reply.js';
import { checkSize, displayName, parseObject, requireField, roomName } from '../lib/core/validate.js';

export const layout: NamespaceModule = {
  name: '/layout',
  verbs: {
    async JOIN({ socket, core }, [raw]) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const name = displayName(payload.name, socket.id, core.limits);
      const since = parsePosition(payload.since, 'since');
      // With auth on, the name is the connection's identity, not the one asked for.
      const joined = await core.join(socket, room, name, since);
      return joined.recovery ? { room, name: joined.name, ...recoveryFields(joined.recovery) } : { room, name: joined.name };
    },

    async LEAVE({ socket, core }, [raw]) {
      const room = roomName(parseObject(raw, core.limits).room, core.limits);
      const wasMember = await core.leave(socket, room);
      return { room, wasMember };
    },

    NOTIFY({ socket, core }, [raw]) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const message = requireField(payload, 'message');
      checkSize(raw, message, core.limits);
      const store = parseStore(payload.store);
      // Publishing to a room the socket has not joined is allowed: the layout service does that.
      return core.receipt(core.publish(socket, room, 'EVENT', { sender: core.senderName(socket, room), room, message }), store, { room });
    },

    async CLIENTS({ socket, nsp, core }, [raw]) {
      const room = roomName(parseObject(raw, core.limits).room, core.limits);
      await core.authorize(socket, 'subscribe', room); // who is in a room is the room's business
      const clients = (await core.members(nsp, room)).map((member) => member.name);
      // The original answered with a CLIENTS event; the ack carries the same for newer clients.
      emitHere(socket, 'CLIENTS', { room, clients });
      return { room, clients };
    },

    HISTORY({ socket, core }, [raw], acked) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const limit = parseLimit(payload.limit);
      const before = parsePosition(payload.before, 'before');
      return sendHistory(socket, room, core.history(socket, room, limit, before), (entry) => entry.args[0] as EventEnvelope, acked);
    },
  },
};
