/**
 * /layout: the 2-IMMERSE layout protocol. JOIN a room under a display name, NOTIFY the other
 * members (EVENT {sender, room, message}), LEAVE, and list the members with CLIENTS.
 */
import type { NamespaceModule } from '../lib/dispatch.js';
import { whenDone } from '../lib/pubsub.js';
import { checkSize, displayName, parseObject, requireField, roomName } from '../lib/validate.js';

export const layout: NamespaceModule = {
  name: '/layout',
  verbs: {
    async JOIN({ socket, core }, [raw]) {
      const payload = parseObject(raw);
      const room = roomName(payload.room, core.limits);
      const name = displayName(payload.name, socket.id, core.limits);
      // With auth on, the name is the connection's identity, not the one asked for.
      return { room, name: await core.join(socket, room, name) };
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
      // Publishing to a room the socket has not joined is allowed: the layout service does that.
      return whenDone(core.publish(socket, room, 'EVENT', { sender: core.senderName(socket, room), room, message }), { room });
    },

    async CLIENTS({ socket, nsp, core }, [raw]) {
      const room = roomName(parseObject(raw).room, core.limits);
      await core.authorize(socket, 'subscribe', room); // who is in a room is the room's business
      const clients = (await core.members(nsp, room)).map((member) => member.name);
      // The original answered with a CLIENTS event; the ack carries the same for newer clients.
      socket.emit('CLIENTS', { room, clients });
      return { room, clients };
    },
  },
};
