/** Checks of the history fields clients send: JOIN `since`, HISTORY `limit`/`before`, publish `store`. */
import { ServiceError } from '../core/errors.js';
import type { Position } from './types.js';

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;
const MAX_EPOCH_LENGTH = 64;

/** A position `{offset, epoch}` (a message's meta will do: other fields are ignored); absent/null is undefined. */
export function parsePosition(value: unknown, field: string): Position | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    typeof v.offset !== 'number' ||
    !Number.isSafeInteger(v.offset) ||
    v.offset < 0 ||
    typeof v.epoch !== 'string' ||
    v.epoch.length === 0 ||
    v.epoch.length > MAX_EPOCH_LENGTH
  ) {
    throw new ServiceError('INVALID_PAYLOAD', `${field} must be {offset, epoch}: the meta of a message`);
  }
  return { offset: v.offset, epoch: v.epoch };
}

/** `store`: absent or a boolean. */
export function parseStore(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return true;
  throw new ServiceError('INVALID_PAYLOAD', 'store must be true or false');
}

export function parseLimit(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_HISTORY_LIMIT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_HISTORY_LIMIT) {
    throw new ServiceError('INVALID_PAYLOAD', `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}`);
  }
  return value;
}

/** An optional options object (trigger and lobby verbs): absent/null is `{}`. */
export function parseOptions(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ServiceError('INVALID_PAYLOAD', `${what} must be an object`);
  return value as Record<string, unknown>;
}
