/** Shared replies of the history verbs: JOIN `since` ack fields and HISTORY answers. */
import { emitHere } from '../transport/index.js';
import type { JoinRecovery } from '../core/events.js';
import type { AppSocket } from '../core/app-socket.js';
import type { HistoryEntry, MaybePromise, Recovery } from './types.js';

/** The ack fields of a JOIN with `since`. */
export function recoveryFields(recovery: Recovery): JoinRecovery {
  const { epoch, offset } = recovery.head;
  return recovery.recovered
    ? { recovered: true, replayed: recovery.entries.length, epoch, offset }
    : { recovered: false, reason: recovery.reason, epoch, offset };
}

/**
 * HISTORY's answer: `{room, messages}` in the ack, or as a HISTORY event to the requester when the
 * client passed no ack. `format` turns an entry into what the namespace's clients got live.
 */
export function sendHistory<M>(
  socket: AppSocket,
  room: string,
  entries: MaybePromise<HistoryEntry[]>,
  format: (entry: HistoryEntry) => M,
  acked: boolean,
): MaybePromise<{ room: string; messages: M[] }> {
  const answer = (list: HistoryEntry[]): { room: string; messages: M[] } => {
    const reply = { room, messages: list.map(format) };
    if (!acked) emitHere(socket, 'HISTORY', reply);
    return reply;
  };
  return entries instanceof Promise ? entries.then(answer) : answer(entries);
}
