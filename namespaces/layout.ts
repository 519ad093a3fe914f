/**
 * /layout: the 2-IMMERSE layout protocol. JOIN a room under a display name, NOTIFY the other
 * members (EVENT {sender, room, message, meta}), LEAVE, and list the members with CLIENTS.
 * JOIN `since` resumes after a message, HISTORY reads recent and stored ones. JOIN `presence: true`
 * asks for JOINED / LEFT about the room's other members (lib/core/presence-notices.ts).
 */
import type { AppSocket } from '../lib/core/app-socket.js';
import type { NamespaceModule } from '../lib/core/dispatch.js';
import { emitHere } from '../lib/transport/index.js';
import type { EventEnvelope } from '../lib/core/events.js';
import type { Joined } from '../lib/core/hub.js';
import { andThen } from '../lib/core/maybe-promise.js';
import { parseLimit, parsePosition, parseStore } from '../lib/history/parse.js';
import { ServiceError } from '../lib/core/errors.js';
import { recoveryFields, sendHistory } from '../lib/history/reply.js';
import { checkSize, displayName, parseObject, requireField, roomName } from '../lib/core/validate.js';

/** EVENT.sender: the identity with auth on, else the name it joined `room` with, else its last JOIN name. */
function senderName(socket: AppSocket, room: string): string {
  const state = socket.data;
  return state.auth?.name ?? state.names.get(room) ?? state.lastName ?? 'unknown';
}

/** JOIN `presence`: absent (or false) for the members that never asked. */
function parsePresence(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return true;
  throw new ServiceError('INVALID_PAYLOAD', 'presence must be true or false');
}

export const layout: NamespaceModule = {
  name: '/layout',
  presenceNotices: true,
  httpMessage: (room, message) => ({ event: 'EVENT', args: [{ sender: 'POST', room, message }] }),
  verbs: {
    JOIN({ socket, core, member }, [raw]) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const name = displayName(payload.name, socket.id, core.limits);
      const since = parsePosition(payload.since, 'since');
      const presence = parsePresence(payload.presence);
      // With auth on, the name is the connection's identity, not the one asked for.
      // Each JOIN says whether this membership watches the room: a JOIN without `presence` stops it.
      // Answered at once when the join needed no store or resume to wait for (Hub.join).
      const answer = (joined: Joined): Record<string, unknown> => {
        socket.data.lastName = joined.name;
        const reply: Record<string, unknown> = { room, name: joined.name };
        if (presence) reply.presence = true;
        return joined.recovery ? { ...reply, ...recoveryFields(joined.recovery) } : reply;
      };
      return andThen(core.join(member, room, name, since, presence), answer);
    },

    LEAVE({ core, member }, [raw]) {
      const room = roomName(parseObject(raw, core.limits).room, core.limits);
      return andThen(core.leave(member, room), (wasMember) => ({ room, wasMember }));
    },

    NOTIFY({ socket, core, member, packetChars }, [raw]) {
      const payload = parseObject(raw, core.limits);
      const room = roomName(payload.room, core.limits);
      const message = requireField(payload, 'message');
      checkSize(raw, message, core.limits, packetChars);
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

  // Restored by connection-state recovery: its rooms' watchers were told LEFT at the disconnect.
  // (Its own watching is not restored: it JOINs again with `presence` for that.)
  onConnect({ socket, nsp, core }) {
    if (!socket.recovered) return;
    for (const room of socket.data.names.keys()) core.membersChanged(nsp.name, room, 'JOINED', [socket.id], [socket.data.names.get(room)!]);
  },

  // A node died: its members could not say goodbye, so the surviving node that swept them does.
  onMembersLost({ nsp, core }, room, ids, names) {
    core.membersChanged(nsp.name, room, 'LEFT', ids, names);
  },

  // Its node was taken for dead (cut off longer than the presence TTL) but was not: joined again.
  onMembersBack({ nsp, core }, room, ids, names) {
    core.membersChanged(nsp.name, room, 'JOINED', ids, names);
  },
};
