/**
 * JWT verification with jose: an HS256 shared secret, a PEM public key, or a remote JWKS.
 *
 * The accepted algorithms are pinned by the kind of key, never taken from the token: a secret
 * accepts HS* only, an RSA key RS and PS only, an EC key the ES algorithm of its curve, an
 * Ed25519 key EdDSA only, a JWKS asymmetric algorithms only. So `alg: none` is refused, and so is
 * the classic confusion of an HS256 token MACed with the (public) RSA key as secret.
 */
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../log/logger.js';
import type { JwtConfig } from '../config/types.js';
import { ASYMMETRIC_ALGORITHMS, loadPublicKey } from './public-key.js';
import { unauthorized, AuthError } from './principal.js';

export interface TokenVerifier {
  readonly type: 'jwt' | 'oauth';
  /** The verified claims; throws an AuthError (UNAUTHORIZED) for anything else. */
  verify(token: string): Promise<Record<string, unknown>>;
}

/** Anything longer is not a token we issue or accept. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const HMAC = ['HS256', 'HS384', 'HS512'];

export function createJwtVerifier(config: JwtConfig, logger: Logger): TokenVerifier {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey;
  let algorithms: string[];
  switch (config.key.kind) {
    case 'secret':
      key = new TextEncoder().encode(config.key.secret);
      algorithms = HMAC;
      break;
    case 'public-key': {
      const loaded = loadPublicKey(config.key.file);
      key = loaded.key;
      algorithms = loaded.algorithms;
      break;
    }
    case 'jwks':
      key = createRemoteJWKSet(new URL(config.key.url), {
        cooldownDuration: config.jwksCooldownMs,
        cacheMaxAge: config.jwksMaxAgeMs,
        timeoutDuration: 5000,
      });
      algorithms = ASYMMETRIC_ALGORITHMS;
      break;
  }
  const options = {
    algorithms,
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  };

  return {
    type: 'jwt',
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('token too long');
      try {
        const { payload } = await jwtVerify(token, key as Uint8Array, options);
        return payload as Record<string, unknown>;
      } catch (err) {
        throw toAuthError(err, logger);
      }
    },
  };
}

/** jose's errors, mapped to messages a client may see (no token, no key material). */
function toAuthError(err: unknown, logger: Logger): AuthError {
  if (err instanceof AuthError) return err;
  const code = (err as { code?: string }).code ?? 'unknown';
  if (err instanceof errors.JWTExpired) return unauthorized('token expired', code, 'expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'nbf') return unauthorized('token not yet valid', code);
    if (claim === 'iss') return unauthorized('token from the wrong issuer', code);
    if (claim === 'aud') return unauthorized('token for the wrong audience', code);
    return unauthorized('token claims are invalid', `${code} ${claim}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return unauthorized('token algorithm not accepted', code);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('invalid token signature', code);
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthorized('token signed with an unknown key', code);
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
    // The key set could not be fetched or read: an operator problem, not the client's.
    logger.warn('cannot verify tokens: key set unavailable', { code, reason: (err as Error).message });
    return unauthorized('cannot verify the token now', code, 'unavailable');
  }
  return unauthorized('invalid token', code);
}
