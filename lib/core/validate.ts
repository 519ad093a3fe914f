/**
 * Payload parsing shared by every namespace: a payload may be an object or a JSON string, and
 * every field is checked before the core sees it. Failures throw coded ServiceErrors.
 */
import { ServiceError } from './errors.js';
import { exceedsDepth } from '../abuse/json-depth.js';
import { RawJson, stringifyWithRaw } from '../json/raw-json.js';
import { RefusedPayload } from './large-packets.js';

export interface Limits {
  maxRoomLength: number;
  maxNameLength: number;
  maxPayload: number;
  /** Deepest nesting of a payload: each `[` or `{` is one level (--max-depth). */
  maxDepth: number;
}

/**
 * A payload as sent: objects pass through (socket.io's parser bounded their depth already),
 * strings are parsed as JSON once a linear scan found them no deeper than the limit. A large
 * payload was read by the decoder already (lib/core/large-packets.ts): an unusable one throws its
 * error here, and one kept whole as text (not an object, or the argument list itself) is refused.
 */
export function parseJson(raw: unknown, limits: Pick<Limits, 'maxDepth'>): unknown {
  if (typeof raw !== 'string') {
    if (raw instanceof RefusedPayload) throw raw.error;
    if (raw instanceof RawJson) throw new ServiceError('INVALID_PAYLOAD', 'payload must be a JSON object');
    return raw;
  }
  if (exceedsDepth(raw, limits.maxDepth)) {
    throw new ServiceError('INVALID_PAYLOAD', `payload is nested deeper than ${limits.maxDepth} levels`);
  }
  try {
    return JSON.parse(raw);
  } catch {
    throw new ServiceError('INVALID_JSON');
  }
}

/** The payload must be a JSON object (given as an object or as a JSON string). */
export function parseObject(raw: unknown, limits: Pick<Limits, 'maxDepth'>): Record<string, unknown> {
  const value = parseJson(raw, limits);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ServiceError('INVALID_PAYLOAD', 'payload must be a JSON object');
  }
  return value as Record<string, unknown>;
}

export function roomName(value: unknown, limits: Limits, field = 'room'): string {
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value !== 'string' || value.length === 0 || value.length > limits.maxRoomLength) {
    throw new ServiceError('INVALID_ROOM', `${field} must be a non-empty string of at most ${limits.maxRoomLength} characters`);
  }
  return value;
}

/** A display name; absent means "use the fallback" (the socket id). */
export function displayName(value: unknown, fallback: string, limits: Limits): string {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value !== 'string' || value.length === 0 || value.length > limits.maxNameLength) {
    throw new ServiceError('INVALID_NAME', `name must be a non-empty string of at most ${limits.maxNameLength} characters`);
  }
  return value;
}

/**
 * UTF-8 bytes of JSON.stringify(JSON.parse(text)) per character of `text`, at most: numbers are
 * what can grow (`1e20`, 4 characters, is written as 21 digits: ×5.25); strings keep or shorten
 * their escapes, whitespace goes; a character is at most 3 bytes.
 */
const REENCODED_PER_CHAR = 6;

/**
 * Bounds a message by --max-payload. `raw` is the payload as it came off the wire: when it was a
 * JSON string its length bounds the message for free; an object message is measured once, unless
 * the text packet it was parsed from (`packetChars`, when known) is too short for it to exceed
 * the limit re-encoded.
 */
export function checkSize(raw: unknown, message: unknown, limits: Limits, packetChars?: number): void {
  if (packetChars !== undefined && packetChars * REENCODED_PER_CHAR <= limits.maxPayload) return;
  const text = typeof raw === 'string' ? raw : typeof message === 'string' || message instanceof RawJson ? message : measured(message);
  if (text !== undefined && exceeds(text, limits.maxPayload)) {
    throw new ServiceError('PAYLOAD_TOO_LARGE', `message exceeds ${limits.maxPayload} bytes`);
  }
}

/** Messages checkSize stringified to measure them (read by test/event-fast-path.test.ts). */
let stringified = 0;
export function measuredMessageCount(): number {
  return stringified;
}

function measured(message: unknown): string | undefined {
  stringified++;
  return stringifyWithRaw(message);
}

/** UTF-8 size above max? Avoids counting bytes when the UTF-16 length already decides. */
function exceeds(value: string | RawJson, max: number): boolean {
  if (value.length > max) return true;
  if (value.length * 3 <= max) return false;
  return (value instanceof RawJson ? value.bytes : Buffer.byteLength(value, 'utf8')) > max;
}

export function requireField(payload: Record<string, unknown>, field: string): unknown {
  const value = payload[field];
  if (value === undefined) throw new ServiceError('INVALID_PAYLOAD', `missing field "${field}"`);
  return value;
}
