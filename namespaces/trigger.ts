/**
 * /trigger: rooms by id; BROADCAST_EVENTS / _UPDATES / _STATUS `(id, data, options?)` send EVENTS /
 * UPDATES / STATUS `data meta` to the other members of room `id` (meta as a trailing argument:
 * `data` may be any value). JOIN `(id, {since}?)` resumes after a message, HISTORY `(id, options?)`
 * reads recent and stored ones.
 */
import type { NamespaceModule, Verb, VerbResult } from '../lib/core/dispatch.js';
import type { Joined } from '../lib/core/hub.js';
import { andThen } from '../lib/core/maybe-promise.js';
import type { ServerEvents, TriggerHistoryItem } from '../lib/core/events.js';
import { parseLimit, parsePosition, parseStore } from '../lib/history/parse.js';
import { recoveryFields, sendHistory } from '../lib/history/reply.js';
import type { HistoryEntry, MessageMeta } from '../lib/history/types.js';
import { checkSize, roomName } from '../lib/core/validate.js';

/**
 * The optional options argument. Older clients may send anything after the data (it used to be
 * ignored): only a plain object is read as options.
 */
const optionsOf = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

const broadcast =
  (event: keyof Pick<ServerEvents, 'EVENTS' | 'UPDATES' | 'STATUS'>): Verb =>
  ({ core, member, packetChars }, [id, data, options]) => {
    const room = roomName(id, core.limits, 'id');
    checkSize(undefined, data ?? null, core.limits, packetChars);
    const store = parseStore(optionsOf(options).store);
    return core.receipt(core.publish(member, room, event, data ?? null), store, { room });
  };

/** A message as HISTORY lists it: its event with its data and meta. */
const historyItem = (entry: HistoryEntry): TriggerHistoryItem => ({ event: entry.event as TriggerHistoryItem['event'], data: entry.args[0], meta: entry.args[1] as MessageMeta });

export const trigger: NamespaceModule = {
  name: '/trigger',
  historyItem,
  argumentStyle: 'opaque',
  verbs: {
    // Answered at once when the hub had nothing to wait for (Hub.join, Hub.leave).
    JOIN({ socket, core, member }, [id, options]) {
      const room = roomName(id, core.limits, 'id');
      const answer = ({ recovery }: Joined): VerbResult => (recovery ? { room, ...recoveryFields(recovery) } : { room });
      return andThen(core.join(member, room, socket.id, parsePosition(optionsOf(options).since, 'since')), answer);
    },
    LEAVE({ core, member }, [id]) {
      const room = roomName(id, core.limits, 'id');
      return andThen(core.leave(member, room), (wasMember) => ({ room, wasMember }));
    },
    BROADCAST_EVENTS: broadcast('EVENTS'),
    BROADCAST_UPDATES: broadcast('UPDATES'),
    BROADCAST_STATUS: broadcast('STATUS'),
    HISTORY({ socket, core, member }, [id, options], acked) {
      const room = roomName(id, core.limits, 'id');
      const o = optionsOf(options);
      const entries = core.history(member, room, parseLimit(o.limit), parsePosition(o.before, 'before'));
      return sendHistory(socket, room, entries, historyItem, acked);
    },
  },
};
