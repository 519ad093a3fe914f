/**
 * Who a connection is, once its credentials are verified: the identity and rights it carries for
 * its lifetime (kept in socket.data.auth as plain data), and the coded refusals of authentication.
 */
import type { AuthFailureReason } from './failure-reasons.js';
import { ServiceError, type ErrorCode } from '../core/errors.js';
import { parseRoomsClaim, type RoomRights } from './rights.js';

export interface Principal {
  /** Stable user id (`sub`, else the display name): what --authorize-url is asked about. */
  user: string;
  /** Display name in EVENT.sender, CLIENTS and presence; a JOIN name cannot change it. */
  name: string;
  rooms: RoomRights;
  /** The token's `role` claim, when it has one (a /sock participant's role). */
  role?: string;
  /** Expiry in seconds since the epoch: the token's `exp`; on a connection always set (token-lifetime.ts). */
  exp?: number;
}

/** Principal plus the connection's token state. */
export interface AuthState extends Principal {
  /** Set when `exp` has passed: every verb but REFRESH is refused with TOKEN_EXPIRED. */
  expired?: boolean;
}

/**
 * A refusal of credentials. Its message is safe to show: it never contains the token, and the
 * cause (a jose or HTTP error) stays in `reason`, for debug logs only. `failure` is its kind, as
 * `notify_auth_failures_total{reason}` counts it.
 */
export class AuthError extends ServiceError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly reason?: string,
    readonly failure: AuthFailureReason = 'invalid',
  ) {
    super(code, message);
    this.name = 'AuthError';
  }
}

export const unauthorized = (message: string, reason?: string, failure?: AuthFailureReason): AuthError => new AuthError('UNAUTHORIZED', message, reason, failure);

/** Builds the principal from verified claims (JWT payload or introspection answer). */
export function principalFromClaims(claims: Record<string, unknown>, nameClaims: readonly string[], maxNameLength: number): Principal {
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
  let name: string | undefined;
  for (const claim of nameClaims) {
    name = text(claims[claim]);
    if (name !== undefined) break;
  }
  const sub = text(claims.sub);
  name ??= sub;
  if (name === undefined) throw unauthorized('the token names no user', 'no name claim and no sub');
  const exp = typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : undefined;
  const role = text(claims.role)?.slice(0, maxNameLength);
  return {
    user: (sub ?? name).slice(0, 1024),
    name: name.slice(0, maxNameLength),
    rooms: parseRoomsClaim(claims.rooms),
    ...(role === undefined ? {} : { role }),
    ...(exp === undefined ? {} : { exp }),
  };
}

/** A principal read back from a ticket store: checked, since a store is outside this process. */
export function principalFromJson(value: unknown): Principal | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Record<string, unknown>;
  if (typeof p.user !== 'string' || typeof p.name !== 'string') return undefined;
  const exp = typeof p.exp === 'number' ? p.exp : undefined;
  const role = typeof p.role === 'string' ? p.role : undefined;
  return { user: p.user, name: p.name, rooms: parseRoomsClaim(p.rooms), ...(role === undefined ? {} : { role }), ...(exp === undefined ? {} : { exp }) };
}
