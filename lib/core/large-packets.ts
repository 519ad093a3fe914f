/**
 * How the decoder reads a socket.io EVENT packet too large to parse in one go (lib/transport/guarded-parser.ts
 * sends every packet over LARGE_PACKET_CHARS here): it is validated in slices (lib/json/large-json.ts)
 * and its large values are kept as text (RawJson), so that the event loop never spends more than
 * about a millisecond on any one client's frame, and a maximal message costs a scan, not a parse.
 *
 * Which values may stay text depends on how the namespace reads its arguments:
 * - 'payload' (/layout, /bus, /lobby): the first argument is a payload object whose fields the
 *   verbs read; each large field (the message) stays text. A payload sent as a JSON string is
 *   unescaped and read the same way, so a verb never parses a large string itself.
 * - 'opaque' (/trigger): every argument after the event name is data relayed as it is; a large one
 *   stays text whole.
 */
import { ServiceError } from './errors.js';
import { parseLargeJson, type LargeJsonFailure, type LargeJsonOptions } from '../json/large-json.js';
import { RawJson } from '../json/raw-json.js';

export type ArgumentStyle = 'payload' | 'opaque';

/** Packets longer than this are read in slices; shorter ones are parsed as socket.io does. */
export const LARGE_PACKET_CHARS = 64 * 1024;
/** Values at least this long stay text: a room name or a flag is never this long. */
const KEEP_FROM = 1024;
/** What is parsed of a large packet (all but the kept values): at most one small packet's worth. */
const SKELETON_MAX = LARGE_PACKET_CHARS;

const QUOTE = 0x22;
const OPEN_OBJECT = 0x7b;

/**
 * A payload the decoder found unusable (a JSON string that is not valid JSON, too deep, not an
 * object): the verb throws its error when it reads the payload (lib/core/validate.ts parseJson).
 */
export class RefusedPayload {
  constructor(readonly error: ServiceError) {}
}

export type LargeEvent = { ok: true; data: unknown[] } | { ok: false; error: ServiceError } | { ok: false; cancelled: true };

/** The event's arguments (`[name, ...args]`) with large values as RawJson, or why they cannot be read. */
export function readLargeEvent(text: string, start: number, style: ArgumentStyle, maxDepth: number, cancelled: () => boolean): LargeEvent | Promise<LargeEvent> {
  const opts: LargeJsonOptions = {
    maxDepth: maxDepth + 1, // the argument list
    keep: style === 'payload' ? keepPayloadFields : keepArguments,
    keepDepth: 2,
    keepFrom: KEEP_FROM,
    skeletonMax: SKELETON_MAX,
    cancelled,
  };
  const read = parseLargeJson(text, start, opts);
  return read instanceof Promise ? read.then((r) => finish(r, style, maxDepth, cancelled)) : finish(read, style, maxDepth, cancelled);
}

/** Argument 1 (the payload): its fields when an object, else itself; any further argument whole. */
function keepPayloadFields(depth: number, index: number, first: number, parentIndex: number): boolean {
  if (depth === 1) return index > 1 || (index === 1 && first !== OPEN_OBJECT);
  return depth === 2 && parentIndex === 1;
}

function keepArguments(depth: number, index: number): boolean {
  return depth === 1 && index >= 1;
}

function finish(read: Awaited<ReturnType<typeof parseLargeJson>>, style: ArgumentStyle, maxDepth: number, cancelled: () => boolean): LargeEvent | Promise<LargeEvent> {
  if (!read.ok) return read.failure === 'cancelled' ? { ok: false, cancelled: true } : failure(read.failure, maxDepth);
  const data = read.value;
  if (!Array.isArray(data) || data.length === 0 || typeof data[0] !== 'string') {
    return { ok: false, error: new ServiceError('INVALID_PAYLOAD', 'a socket.io event is a list that starts with the event name') };
  }
  const payload: unknown = data[1];
  if (style !== 'payload' || !(payload instanceof RawJson) || payload.text.charCodeAt(0) !== QUOTE) return { ok: true, data };
  // A payload sent as a JSON string: one native unescape, then read like an object payload.
  const inner = JSON.parse(payload.text) as string;
  const opts: LargeJsonOptions = {
    maxDepth,
    keep: (depth, _index, first) => depth === 1 || (depth === 0 && first !== OPEN_OBJECT),
    keepDepth: 1,
    keepFrom: KEEP_FROM,
    skeletonMax: SKELETON_MAX,
    cancelled,
  };
  const place = (r: Awaited<ReturnType<typeof parseLargeJson>>): LargeEvent => {
    if (!r.ok && r.failure === 'cancelled') return { ok: false, cancelled: true };
    data[1] = r.ok ? objectOrRefusal(r.value) : new RefusedPayload(failure(r.failure, maxDepth).error);
    return { ok: true, data };
  };
  const innerRead = parseLargeJson(inner, 0, opts);
  return innerRead instanceof Promise ? innerRead.then(place) : place(innerRead);
}

function objectOrRefusal(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson)) return value;
  return new RefusedPayload(new ServiceError('INVALID_PAYLOAD', 'payload must be a JSON object'));
}

function failure(kind: LargeJsonFailure, maxDepth: number): { ok: false; error: ServiceError } {
  switch (kind) {
    case 'syntax':
      return { ok: false, error: new ServiceError('INVALID_JSON') };
    case 'depth':
      return { ok: false, error: new ServiceError('INVALID_PAYLOAD', `payload is nested deeper than ${maxDepth} levels`) };
    case 'too-large':
      return { ok: false, error: new ServiceError('INVALID_PAYLOAD', `the fields beside the message exceed ${SKELETON_MAX} characters`) };
    default:
      return { ok: false, error: new ServiceError('INVALID_PAYLOAD', 'the packet could not be read') };
  }
}
