/** `<namespace>/<room>` arguments: the namespace up to the first slash, the room all the rest. */
import { UsageError } from './exit-codes.js';

export interface Target {
  namespace: string;
  room: string;
}

export function parseTarget(text: string): Target {
  const slash = text.indexOf('/');
  const namespace = text.slice(0, slash).replace(/^\//, '');
  const room = text.slice(slash + 1);
  if (slash <= 0 || namespace === '' || room === '') throw new UsageError(`"${text}" is not <namespace>/<room> (e.g. layout/ctx-42)`);
  return { namespace, room };
}
