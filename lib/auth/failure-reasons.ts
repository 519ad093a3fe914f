/**
 * Why a credential was refused, as a bounded set for `notify_auth_failures_total{reason}`
 * (docs/METRICS.md): never the token, the user or the driver's message.
 */
import { ServiceError } from '../core/errors.js';

export type AuthFailureReason = 'missing' | 'invalid' | 'expired' | 'blocked' | 'api_key' | 'unavailable';

export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = ['missing', 'invalid', 'expired', 'blocked', 'api_key', 'unavailable'];

/**
 * The reason of a refused authentication: an AuthError's (lib/auth/principal.ts) `failure`, set
 * where it is thrown; any other refusal is `invalid`, and anything but a refusal `unavailable`.
 */
export function authFailureReason(err: unknown): AuthFailureReason {
  if (!(err instanceof ServiceError)) return 'unavailable';
  if (err.code === 'TOKEN_EXPIRED') return 'expired';
  const failure = (err as { failure?: AuthFailureReason }).failure;
  return failure ?? 'invalid';
}

/** What Access reports (lib/metrics/metrics.ts implements it); every call is a rare event. */
export interface AccessMetrics {
  authFailure(reason: AuthFailureReason): void;
  limited(limit: 'events' | 'bytes' | 'connections' | 'control'): void;
  /** A coded error sent to a client (here: a socket.io connect_error). */
  error(code: string): void;
}
