/**
 * The auth and abuse parts of the Config, assembled from their options (lib/config/options.ts):
 * the checks that involve several options (which flags go with which --auth mode, pairs that go
 * together) and the settings that are not options. Nothing here reads the environment itself.
 */
import { optionValues, type OptionValues } from '../config/option-values.js';
import type { AbuseLimits, AuthConfig, AuthorizeUrlConfig, JwtConfig, JwtKeySource, OAuthConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { loadPublicKey } from './public-key.js';

export type { AbuseLimits, AuthConfig, AuthMode, AuthorizeUrlConfig, JwtConfig, JwtKeySource, OAuthConfig } from '../config/types.js';

/** JWKS fetching and introspection caching: fixed, not options. */
const JWKS = { jwksCooldownMs: 30_000, jwksMaxAgeMs: 600_000 };
const INTROSPECTION = { negativeCacheMs: 10_000, maxCacheMs: 300_000, timeoutMs: 5_000 };

const NO_OPTIONS = (): OptionValues => optionValues(() => undefined);

/** The auth config of a service started without options. */
export function defaultAuthConfig(): AuthConfig {
  return readAuthConfig(NO_OPTIONS(), NO_OPTIONS().value('max-payload')).auth;
}

/** The abuse limits of a service started without options. */
export function defaultAbuseLimits(): AbuseLimits {
  return readAuthConfig(NO_OPTIONS(), NO_OPTIONS().value('max-payload')).abuse;
}

export function readAuthConfig(options: OptionValues, maxPayload: number): { auth: AuthConfig; abuse: AbuseLimits } {
  return { auth: readAuth(options), abuse: readAbuse(options, maxPayload) };
}

function readAuth({ given, value, where }: OptionValues): AuthConfig {
  const mode = value('auth');
  const jwtFlags = ['jwt-secret', 'jwt-public-key', 'jwks-url', 'jwt-issuer', 'jwt-audience'] as const;
  const oauthFlags = ['oauth-introspection-url', 'oauth-client-id', 'oauth-client-secret'] as const;
  if (mode !== 'jwt') {
    const stray = jwtFlags.find(given);
    if (stray) throw new ConfigError(`${where(stray)} needs --auth jwt`);
  }
  if (mode !== 'oauth') {
    const stray = oauthFlags.find(given);
    if (stray) throw new ConfigError(`${where(stray)} needs --auth oauth`);
  }

  let jwt: JwtConfig | undefined;
  if (mode === 'jwt') {
    const keyFlags = (['jwt-secret', 'jwt-public-key', 'jwks-url'] as const).filter(given);
    if (keyFlags.length !== 1) {
      throw new ConfigError(`--auth jwt needs exactly one of --jwt-secret, --jwt-public-key, --jwks-url (got ${keyFlags.length})`);
    }
    let key: JwtKeySource;
    if (keyFlags[0] === 'jwt-secret') {
      key = { kind: 'secret', secret: value('jwt-secret')! };
    } else if (keyFlags[0] === 'jwt-public-key') {
      const file = value('jwt-public-key')!;
      loadPublicKey(file); // a wrong or unsupported key stops the service before it listens
      key = { kind: 'public-key', file };
    } else {
      key = { kind: 'jwks', url: value('jwks-url')! };
    }
    jwt = { key, ...defined({ issuer: value('jwt-issuer'), audience: value('jwt-audience') }), ...JWKS };
  }

  let oauth: OAuthConfig | undefined;
  if (mode === 'oauth') {
    if (!given('oauth-introspection-url')) throw new ConfigError('--auth oauth needs --oauth-introspection-url');
    if (given('oauth-client-id') !== given('oauth-client-secret')) {
      throw new ConfigError('--oauth-client-id and --oauth-client-secret must be given together');
    }
    oauth = {
      introspectionUrl: value('oauth-introspection-url')!,
      ...defined({ clientId: value('oauth-client-id'), clientSecret: value('oauth-client-secret') }),
      ...INTROSPECTION,
    };
  }

  const nameClaims = value('name-claim');

  let authorize: AuthorizeUrlConfig | undefined;
  if (given('authorize-url')) {
    if (mode === 'none') throw new ConfigError(`${where('authorize-url')} needs --auth jwt or --auth oauth`);
    authorize = { url: value('authorize-url')!, cacheTtlMs: value('authorize-cache-ttl'), timeoutMs: value('authorize-timeout') };
  } else {
    const stray = (['authorize-cache-ttl', 'authorize-timeout'] as const).find(given);
    if (stray) throw new ConfigError(`${where(stray)} needs --authorize-url`);
  }

  const apiKeys = value('api-key') ?? [];
  const adminPassword = value('admin-password');
  const refreshGraceMs = value('token-grace');
  const ticketTtlMs = value('ticket-ttl');
  if (given('jwt-allow-no-exp') && mode === 'none') throw new ConfigError(`${where('jwt-allow-no-exp')} needs --auth jwt or --auth oauth`);
  const allowNoExp = value('jwt-allow-no-exp');
  if (given('jwt-max-lifetime') && !allowNoExp) throw new ConfigError(`${where('jwt-max-lifetime')} needs --jwt-allow-no-exp`);
  const maxLifetimeMs = value('jwt-max-lifetime');

  return { mode, ...defined({ jwt, oauth }), nameClaims, ...defined({ authorize, adminPassword }), apiKeys, refreshGraceMs, ticketTtlMs, allowNoExp, maxLifetimeMs };
}

function readAbuse({ given, value, where }: OptionValues, maxPayload: number): AbuseLimits {
  const connectionsPerSecond = value('conn-rate');
  const eventsPerSecond = value('event-rate');
  const eventBurst = value('event-burst') ?? 2 * eventsPerSecond;
  if (eventsPerSecond > 0 && eventBurst < 1) throw new ConfigError(`${where('event-burst')} must be at least 1`);
  const bytesPerSecond = value('byte-rate');
  const exempt = value('rate-limit-exempt').map(normalizeAddress);
  const trustProxy = value('trust-proxy');
  let maxSendBuffer = value('max-send-buffer');
  if (!given('max-send-buffer')) {
    // Room for a few maximal messages, whatever --max-payload is.
    maxSendBuffer = Math.max(maxSendBuffer, 4 * maxPayload);
  } else if (maxSendBuffer !== 0 && maxSendBuffer < 2 * maxPayload) {
    throw new ConfigError(`${where('max-send-buffer')} must be 0 or at least twice --max-payload`);
  }
  const preauthMaxFrame = value('preauth-max-frame');
  const violationsPerMinute = value('violation-limit');
  return { connectionsPerSecond, eventsPerSecond, eventBurst, bytesPerSecond, violationsPerMinute, exempt, trustProxy, maxSendBuffer, preauthMaxFrame };
}

/** The fields whose value is not undefined (optional fields stay absent, not present as undefined). */
function defined<T extends object>(fields: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}

/** '::ffff:127.0.0.1' and '127.0.0.1' are the same client. */
export function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export function isLoopbackHost(host: string): boolean {
  const h = normalizeAddress(host.replace(/^\[|\]$/g, ''));
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
