/**
 * An HTTP body that is a message (POST /bus-message/:room): a small one is parsed as any payload
 * is; a large one is validated in slices and kept whole as its text (RawJson), so that a 4 MB POST
 * costs the event loop no more than a 4 MB socket.io message does (lib/core/large-packets.ts).
 */
import { ServiceError } from '../core/errors.js';
import { LARGE_PACKET_CHARS } from '../core/large-packets.js';
import { parseJson } from '../core/validate.js';
import { parseLargeJson, type LargeJsonResult } from './large-json.js';

export function parseMessageBody(text: string, maxDepth: number): unknown {
  if (text.length <= LARGE_PACKET_CHARS) return parseJson(text, { maxDepth });
  const keepWhole = { maxDepth, keep: () => true, keepDepth: 0, keepFrom: 0, skeletonMax: LARGE_PACKET_CHARS };
  const read = parseLargeJson(text, 0, keepWhole);
  return read instanceof Promise ? read.then((r) => valueOf(r, maxDepth)) : valueOf(read, maxDepth);
}

function valueOf(read: LargeJsonResult, maxDepth: number): unknown {
  if (read.ok) return read.value;
  if (read.failure === 'depth') throw new ServiceError('INVALID_PAYLOAD', `payload is nested deeper than ${maxDepth} levels`);
  throw new ServiceError('INVALID_JSON');
}
