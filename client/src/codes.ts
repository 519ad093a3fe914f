/**
 * Every error code the service can send (its catalog, lib/core/errors.ts, which a test compares
 * with this list both ways), and the few the SDK makes up itself for what happens on the client.
 */
export const SERVICE_ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_PAYLOAD',
  'INVALID_ROOM',
  'INVALID_NAME',
  'PAYLOAD_TOO_LARGE',
  'TOO_MANY_ROOMS',
  'UNKNOWN_EVENT',
  'BAD_REQUEST',
  'NOT_IN_LOBBY',
  'ALREADY_IN_LOBBY',
  'PEER_NOT_FOUND',
  'NOT_SUBSCRIBED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'TOKEN_EXPIRED',
  'DISCONNECTED_BY_SERVER',
  'RATE_LIMITED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'SHUTTING_DOWN',
  'NOT_READY',
  'STORE_FAILED',
  'INTERNAL_ERROR',
] as const;

/** Client-side failures: no answer in time, the client closed, the service unreachable. */
export const CLIENT_ERROR_CODES = ['TIMEOUT', 'CLOSED', 'CONNECTION_FAILED'] as const;

export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];
/** The one union of every code a NotifyError can carry. */
export type NotifyErrorCode = ServiceErrorCode | ClientErrorCode;

/**
 * Codes where the same call may succeed later: the service was busy, starting, stopping or
 * unreachable, or the token is being refreshed. STORE_FAILED is not among them when the message
 * was delivered (it has `details`): publishing again would deliver it twice.
 */
const TEMPORARY = new Set<NotifyErrorCode>(['RATE_LIMITED', 'NOT_READY', 'SHUTTING_DOWN', 'INTERNAL_ERROR', 'TOKEN_EXPIRED', 'TIMEOUT', 'CONNECTION_FAILED']);

export function isTemporary(code: NotifyErrorCode, details?: Record<string, unknown>): boolean {
  if (code === 'STORE_FAILED') return details === undefined; // not sent at all (/sock stores first): safe to send again
  return TEMPORARY.has(code);
}

const KNOWN = new Set<string>([...SERVICE_ERROR_CODES, ...CLIENT_ERROR_CODES]);

/** A code from the wire; an unknown one (a newer service) reads as INTERNAL_ERROR. */
export function asErrorCode(code: unknown): NotifyErrorCode {
  return typeof code === 'string' && KNOWN.has(code) ? (code as NotifyErrorCode) : 'INTERNAL_ERROR';
}
