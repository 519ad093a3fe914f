/**
 * Opaque OAuth 2 tokens checked against an RFC 7662 introspection endpoint.
 *
 * Answers are cached by a hash of the token (the token itself is not kept): an active token until
 * its `exp` (at most `maxCacheMs` when the endpoint gives none), an inactive one for
 * `negativeCacheMs`. Concurrent checks of one token share one request. An endpoint that fails or
 * times out refuses the token (fail closed) and is not cached.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { OAuthConfig } from './config.js';
import { MAX_TOKEN_LENGTH, type TokenVerifier } from './jwt.js';
import { unauthorized } from './principal.js';

type Answer = { active: true; claims: Record<string, unknown> } | { active: false };

const MAX_ENTRIES = 10_000;

export function createIntrospectionVerifier(config: OAuthConfig, logger: Logger, now: () => number = Date.now): TokenVerifier {
  const cache = new Map<string, { answer: Answer; until: number }>();
  const inflight = new Map<string, Promise<Answer>>();
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (config.clientId !== undefined) {
    // RFC 6749 2.3.1: both parts form-urlencoded before base64.
    const basic = `${encodeURIComponent(config.clientId)}:${encodeURIComponent(config.clientSecret ?? '')}`;
    headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
  }

  const remember = (key: string, answer: Answer): void => {
    const t = now();
    let until = t + config.negativeCacheMs;
    if (answer.active) {
      const exp = answer.claims.exp;
      until = typeof exp === 'number' ? Math.min(exp * 1000, t + config.maxCacheMs) : t + config.maxCacheMs;
    }
    if (until <= t) return;
    if (cache.size >= MAX_ENTRIES) {
      // Drop the oldest entries (Map keeps insertion order).
      for (const k of cache.keys()) {
        cache.delete(k);
        if (cache.size < MAX_ENTRIES * 0.9) break;
      }
    }
    cache.set(key, { answer, until });
  };

  const ask = async (token: string): Promise<Answer> => {
    let res: Response;
    try {
      res = await fetch(config.introspectionUrl, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(config.timeoutMs),
      });
    } catch (err) {
      logger.warn('token introspection failed', { reason: (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message });
      throw unauthorized('cannot verify the token now', 'introspection unreachable', 'unavailable');
    }
    if (!res.ok) {
      await res.body?.cancel();
      logger.warn('token introspection failed', { status: res.status });
      throw unauthorized('cannot verify the token now', `introspection status ${res.status}`, 'unavailable');
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw unauthorized('cannot verify the token now', 'introspection answer is not JSON', 'unavailable');
    }
    if (typeof body !== 'object' || body === null) throw unauthorized('cannot verify the token now', 'introspection answer is not an object', 'unavailable');
    const claims = body as Record<string, unknown>;
    if (claims.active !== true) return { active: false };
    // An answer past its own expiry is an inactive token, whatever `active` says.
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= now()) return { active: false };
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now()) return { active: false };
    return { active: true, claims };
  };

  return {
    type: 'oauth',
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('token too long');
      const key = createHash('sha256').update(token).digest('base64url');
      const hit = cache.get(key);
      let answer: Answer;
      if (hit && hit.until > now()) {
        answer = hit.answer;
      } else {
        if (hit) cache.delete(key);
        let pending = inflight.get(key);
        if (!pending) {
          pending = ask(token).then(
            (a) => {
              inflight.delete(key);
              remember(key, a);
              return a;
            },
            (err: unknown) => {
              inflight.delete(key);
              throw err;
            },
          );
          inflight.set(key, pending);
        }
        answer = await pending;
      }
      if (!answer.active) throw unauthorized('token is not active', 'introspection: inactive');
      if (typeof answer.claims.exp === 'number' && answer.claims.exp * 1000 <= now()) throw unauthorized('token expired', 'introspection: exp', 'expired');
      return answer.claims;
    },
  };
}
