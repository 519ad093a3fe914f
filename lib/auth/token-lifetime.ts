/**
 * How long a verified token counts as valid on a connection. A token with `exp` is valid until
 * then. One without (a JWT issued without it, an introspection answer that gives none) is refused
 * by default: it would let a connection live forever without ever showing a token again, even
 * after the token was revoked. With --jwt-allow-no-exp it counts as valid for --jwt-max-lifetime
 * from the time it is presented (connect or REFRESH), after which the connection gets
 * TOKEN_EXPIRED like any other.
 */
import type { AuthConfig } from './config.js';
import { unauthorized, type Principal } from './principal.js';

export const NO_EXPIRY_MESSAGE = 'the token has no expiry (exp): use a token that expires';

/**
 * The expiry (seconds since the epoch) a connection gets from `principal`, presented at `nowMs`.
 * Throws UNAUTHORIZED for a token without `exp` unless allowed.
 */
export function connectionExpiry(principal: Principal, policy: Pick<AuthConfig, 'allowNoExp' | 'maxLifetimeMs'>, nowMs: number): number {
  if (principal.exp !== undefined) return principal.exp;
  if (!policy.allowNoExp) throw unauthorized(NO_EXPIRY_MESSAGE, 'no exp');
  return (nowMs + policy.maxLifetimeMs) / 1000;
}
