/**
 * /layout: the 2-IMMERSE layout protocol. JOIN a room under a display name, NOTIFY the other
 * members (EVENT {sender, room, message, meta}), LEAVE, and list the members with CLIENTS.
 * JOIN `since` resumes after a message, HISTORY reads recent and stored ones.
 */
import type { NamespaceModule } from '../lib/dispatch.js';
import type { EventEnvelope } from '../lib/events.js';
import { parseLimit, parsePosition, parseStore } from '../lib/history/parse.js';
import { recoveryFields, sendHistory } from '../lib/history/reply.js';
import { checkSize, displayName, parseObject, requireField, roomName } from '../lib/validate.js';

export const layout: NamespaceModule = {
  name: '/layout',
  verbs: {
    async JOIN({ socket, core }, [raw]) {
      const payload = parseObject(raw);
      const room = roomName(payload.room, core.limits);
      const name = displayName(payload.name, socket.id, core.limits);
      const since = parsePosition(payload.since, 'since');
      const recovery = await core.join(socket, room, name, since);
      return recovery ? { room, name, ...recoveryFields(recovery) } : { room, name };
    },

    async LEAVE({ socket, core }, [raw]) {
      const room = roomName(parseObject(raw).room, core.limits);
      const wasMember = await core.leave(socket, room);
      return { room, wasMember };
    },

    NOTIFY({ socket, core }, [raw]) {
      const payload = parseObject(raw);
      const room = roomName(payload.room, core.limits);
      const message = requireField(payload, 'message');
      checkSize(raw, message, core.limits);
      const store = parseStore(payload.store);
      // Publishing to a room the socket has not joined is allowed: the layout service does that.
      const published = core.publish(socket, room, 'EVENT', { sender: core.senderName(socket, room), room, message });
      return core.receipt(published, store, { room });
    },

    async CLIENTS({ socket, nsp, core }, [raw]) {
      const room = roomName(parseObject(raw).room, core.limits);
      const clients = (await core.members(nsp, room)).map((member) => member.name);
      // The original answered with a CLIENTS event; the ack carries the same for newer clients.
      socket.emit('CLIENTS', { room, clients });
      return { room, clients };
    },

    HISTORY({ socket, nsp, core }, [raw], acked) {
      const payload = parseObject(raw);
      const room = roomName(payload.room, core.limits);
      const limit = parseLimit(payload.limit);
      const before = parsePosition(payload.before, 'before');
      return sendHistory(socket, room, core.history(nsp, room, limit, before), (entry) => entry.args[0] as EventEnvelope, acked);
    },
  },
};
