/**
 * /trigger: rooms by id; BROADCAST_EVENTS / _UPDATES / _STATUS `(id, data)` send EVENTS /
 * UPDATES / STATUS `data` to the other members of room `id`.
 */
import type { NamespaceModule, Verb } from '../lib/dispatch.js';
import type { ServerEvents } from '../lib/events.js';
import { whenDone } from '../lib/pubsub.js';
import { checkSize, roomName } from '../lib/validate.js';

const broadcast =
  (event: keyof Pick<ServerEvents, 'EVENTS' | 'UPDATES' | 'STATUS'>): Verb =>
  ({ socket, core }, [id, data]) => {
    const room = roomName(id, core.limits, 'id');
    checkSize(undefined, data ?? null, core.limits);
    return whenDone(core.publish(socket, room, event, data), { room });
  };

export const trigger: NamespaceModule = {
  name: '/trigger',
  verbs: {
    async JOIN({ socket, core }, [id]) {
      const room = roomName(id, core.limits, 'id');
      await core.join(socket, room, socket.id);
      return { room };
    },
    async LEAVE({ socket, core }, [id]) {
      const room = roomName(id, core.limits, 'id');
      const wasMember = await core.leave(socket, room);
      return { room, wasMember };
    },
    BROADCAST_EVENTS: broadcast('EVENTS'),
    BROADCAST_UPDATES: broadcast('UPDATES'),
    BROADCAST_STATUS: broadcast('STATUS'),
  },
};
