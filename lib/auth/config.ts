/**
 * The options of authentication, authorization and abuse limits: their types and defaults, their
 * CLI flags and environment variables, and their validation. lib/config.ts merges them into the one
 * Config object; nothing here reads the environment itself.
 */
import { parseBoolean, parseDuration, parseInteger, parseSize, readableFile } from '../config-values.js';
import { ConfigError } from '../errors.js';

const DAY_MS = 86_400_000;
import { loadPublicKey } from './public-key.js';

export type AuthMode = 'none' | 'jwt' | 'oauth';

/** Where JWT signatures are checked against: exactly one of these. */
export type JwtKeySource =
  | { kind: 'secret'; secret: string }
  | { kind: 'public-key'; file: string }
  | { kind: 'jwks'; url: string };

export interface JwtConfig {
  key: JwtKeySource;
  /** Required `iss`, when given. */
  issuer?: string;
  /** Required `aud` (one of), when given. */
  audience?: string;
  /** JWKS: the least time between two fetches of the key set (an unknown `kid` triggers one). Default 30 s. */
  jwksCooldownMs: number;
  /** JWKS: how long a fetched key set is trusted before it is fetched again. Default 10 min. */
  jwksMaxAgeMs: number;
}

export interface OAuthConfig {
  /** RFC 7662 token introspection endpoint. */
  introspectionUrl: string;
  /** Sent as HTTP Basic credentials, when given. */
  clientId?: string;
  clientSecret?: string;
  /** How long an inactive (refused) token's answer is kept. Default 10 s. */
  negativeCacheMs: number;
  /** Longest a positive answer is kept when the endpoint gives no `exp`. Default 5 min. */
  maxCacheMs: number;
  timeoutMs: number;
}

export interface AuthorizeUrlConfig {
  /** POSTed `{user, namespace, room, action}` for each JOIN and publication; answers `{allow}`. */
  url: string;
  /** How long an answer is kept per (user, namespace, room, action). 0: ask every time. Default 30 s. */
  cacheTtlMs: number;
  /** No answer within this time denies. Default 2 s. */
  timeoutMs: number;
}

export interface AuthConfig {
  /** `none` (default): anyone may do anything, as the original service. */
  mode: AuthMode;
  jwt?: JwtConfig;
  oauth?: OAuthConfig;
  /** Claims tried in order for the display name. Default `name`, then `sub`. */
  nameClaims: string[];
  authorize?: AuthorizeUrlConfig;
  /** Keys for HTTP publishing; required for it whenever mode is not `none`. */
  apiKeys: string[];
  /** After TOKEN_EXPIRED, how long a connection has to REFRESH before it is disconnected. Default 10 s. */
  refreshGraceMs: number;
  /** Lifetime of a ticket from POST /ticket. Default 30 s. */
  ticketTtlMs: number;
  /**
   * Accept tokens (JWTs, introspection answers) without `exp`. Default false: refused, since such a
   * connection would never have to show a token again.
   */
  allowNoExp: boolean;
  /** With allowNoExp: how long a token without `exp` counts as valid on a connection. Default 24 h. */
  maxLifetimeMs: number;
}

export interface AbuseLimits {
  /** New connections per second per client address; 0 turns the limit off. Default 100. */
  connectionsPerSecond: number;
  /** Sustained events per second per connection; 0 turns the limit off. Default 1000. */
  eventsPerSecond: number;
  /** Events a connection may send at once above the sustained rate. Default 2000. */
  eventBurst: number;
  /** Sustained packet bytes per second per connection (burst: one maximal message); 0 turns it off. */
  bytesPerSecond: number;
  /** Client addresses the connection rate does not apply to. Default loopback. */
  exempt: string[];
  /** Take the client address from the last X-Forwarded-For entry (behind one reverse proxy). */
  trustProxy: boolean;
  /** A connection whose unsent data would pass this many bytes is closed (slow consumer), checked at each write; 0: never. */
  maxSendBuffer: number;
  /** Largest frame (WebSocket message, polling POST body) before a connection is authenticated (auth on). Default 64 KiB. */
  preauthMaxFrame: number;
}

export function defaultAuthConfig(): AuthConfig {
  return { mode: 'none', nameClaims: ['name', 'sub'], apiKeys: [], refreshGraceMs: 10_000, ticketTtlMs: 30_000, allowNoExp: false, maxLifetimeMs: DAY_MS };
}

export function defaultAbuseLimits(): AbuseLimits {
  return {
    connectionsPerSecond: 100,
    eventsPerSecond: 1000,
    eventBurst: 2000,
    bytesPerSecond: 256 * 1024,
    exempt: ['127.0.0.1', '::1'],
    trustProxy: false,
    maxSendBuffer: 16 * 1024 * 1024,
    preauthMaxFrame: 64 * 1024,
  };
}

/** The flags of this file, in the shape of lib/config.ts's FLAGS. */
export const AUTH_FLAGS = {
  auth: { env: 'AUTH', type: 'string', describe: 'authentication: none, jwt or oauth', def: 'none' },
  'jwt-secret': { env: 'JWT_SECRET', type: 'string', describe: 'jwt: HS256 shared secret (32+ bytes; prefer the env variable)', def: 'none' },
  'jwt-public-key': { env: 'JWT_PUBLIC_KEY', type: 'string', describe: 'jwt: PEM public key file (RSA, EC P-256/384/521 or Ed25519)', def: 'none' },
  'jwks-url': { env: 'JWKS_URL', type: 'string', describe: 'jwt: JWKS URL (cached; refetched on an unknown kid)', def: 'none' },
  'jwt-issuer': { env: 'JWT_ISSUER', type: 'string', describe: 'jwt: required iss claim', def: 'not checked' },
  'jwt-audience': { env: 'JWT_AUDIENCE', type: 'string', describe: 'jwt: required aud claim', def: 'not checked' },
  'oauth-introspection-url': { env: 'OAUTH_INTROSPECTION_URL', type: 'string', describe: 'oauth: RFC 7662 introspection endpoint', def: 'none' },
  'oauth-client-id': { env: 'OAUTH_CLIENT_ID', type: 'string', describe: 'oauth: client id for the introspection endpoint', def: 'none' },
  'oauth-client-secret': { env: 'OAUTH_CLIENT_SECRET', type: 'string', describe: 'oauth: client secret (prefer the env variable)', def: 'none' },
  'name-claim': { env: 'NAME_CLAIM', type: 'string', describe: 'claims tried in order for the display name', def: 'name,sub' },
  'authorize-url': { env: 'AUTHORIZE_URL', type: 'string', describe: 'backend asked {user, namespace, room, action} for each JOIN and publish', def: 'none' },
  'authorize-cache-ttl': { env: 'AUTHORIZE_CACHE_TTL', type: 'string', describe: 'how long authorize-url answers are kept (30s, 500ms, 0)', def: '30s' },
  'authorize-timeout': { env: 'AUTHORIZE_TIMEOUT', type: 'string', describe: 'authorize-url answer deadline; later denies', def: '2s' },
  'api-key': { env: 'API_KEYS', type: 'string', describe: 'key for HTTP publishing (repeatable; env comma-separated)', def: 'none' },
  'token-grace': { env: 'TOKEN_GRACE', type: 'string', describe: 'time to REFRESH after TOKEN_EXPIRED before disconnect', def: '10s' },
  'ticket-ttl': { env: 'TICKET_TTL', type: 'string', describe: 'lifetime of a POST /ticket ticket', def: '30s' },
  'jwt-allow-no-exp': { env: 'JWT_ALLOW_NO_EXP', type: 'boolean', describe: 'jwt/oauth: accept tokens without exp (valid for --jwt-max-lifetime on a connection)', def: 'false' },
  'jwt-max-lifetime': { env: 'JWT_MAX_LIFETIME', type: 'string', describe: 'with --jwt-allow-no-exp: TOKEN_EXPIRED this long after a token without exp (1s-30d)', def: '24h' },
  'conn-rate': { env: 'CONN_RATE', type: 'string', describe: 'new connections per second per client address (0 = off)', def: '100' },
  'event-rate': { env: 'EVENT_RATE', type: 'string', describe: 'events per second per connection (0 = off)', def: '1000' },
  'event-burst': { env: 'EVENT_BURST', type: 'string', describe: 'events a connection may send at once above the rate', def: '2 x event-rate' },
  'byte-rate': { env: 'BYTE_RATE', type: 'string', describe: 'packet bytes per second per connection, checked before parsing; burst: one max-payload message (0 = off)', def: '256k' },
  'rate-limit-exempt': { env: 'RATE_LIMIT_EXEMPT', type: 'string', describe: "client addresses without connection rate limit, or 'none'", def: '127.0.0.1,::1' },
  'trust-proxy': { env: 'TRUST_PROXY', type: 'boolean', describe: 'client address from the last X-Forwarded-For entry', def: 'false' },
  'max-send-buffer': { env: 'MAX_SEND_BUFFER', type: 'string', describe: 'close a connection whose unsent data passes this size (0 = never)', def: '16m or 4 x max-payload' },
  'preauth-max-frame': { env: 'PREAUTH_MAX_FRAME', type: 'string', describe: 'auth on: largest frame before a connection is authenticated (bigger: closed)', def: '64k' },
} as const;

export type AuthFlag = keyof typeof AUTH_FLAGS;
/** Flags that may be given more than once; lib/config.ts joins their values with commas. */
export const REPEATABLE_FLAGS: ReadonlySet<string> = new Set<AuthFlag>(['api-key']);

type Raw = (flag: AuthFlag) => string | undefined;
type Where = (flag: AuthFlag) => string;

export function parseAuthConfig(raw: Raw, where: Where, maxPayload: number): { auth: AuthConfig; abuse: AbuseLimits } {
  const auth = defaultAuthConfig();
  const abuse = defaultAbuseLimits();

  const mode = (raw('auth') ?? 'none').trim().toLowerCase();
  if (mode !== 'none' && mode !== 'jwt' && mode !== 'oauth') {
    throw new ConfigError(`${where('auth')} must be none, jwt or oauth (got "${raw('auth')}")`);
  }
  auth.mode = mode;

  const jwtFlags = ['jwt-secret', 'jwt-public-key', 'jwks-url', 'jwt-issuer', 'jwt-audience'] as const;
  const oauthFlags = ['oauth-introspection-url', 'oauth-client-id', 'oauth-client-secret'] as const;
  if (mode !== 'jwt') {
    const stray = jwtFlags.find((f) => raw(f) !== undefined);
    if (stray) throw new ConfigError(`${where(stray)} needs --auth jwt`);
  }
  if (mode !== 'oauth') {
    const stray = oauthFlags.find((f) => raw(f) !== undefined);
    if (stray) throw new ConfigError(`${where(stray)} needs --auth oauth`);
  }

  if (mode === 'jwt') {
    const given = (['jwt-secret', 'jwt-public-key', 'jwks-url'] as const).filter((f) => raw(f) !== undefined);
    if (given.length !== 1) {
      throw new ConfigError(`--auth jwt needs exactly one of --jwt-secret, --jwt-public-key, --jwks-url (got ${given.length})`);
    }
    let key: JwtKeySource;
    if (given[0] === 'jwt-secret') {
      const secret = raw('jwt-secret')!;
      // Shorter HS256 secrets can be brute-forced offline from a single token.
      if (Buffer.byteLength(secret) < 32) throw new ConfigError(`${where('jwt-secret')} must be at least 32 bytes long`);
      key = { kind: 'secret', secret };
    } else if (given[0] === 'jwt-public-key') {
      const file = readableFile(raw('jwt-public-key')!, where('jwt-public-key'));
      loadPublicKey(file); // a wrong or unsupported key stops the service before it listens
      key = { kind: 'public-key', file };
    } else {
      key = { kind: 'jwks', url: httpUrl(raw('jwks-url')!, where('jwks-url')) };
    }
    auth.jwt = {
      key,
      ...optional('issuer', raw('jwt-issuer')),
      ...optional('audience', raw('jwt-audience')),
      jwksCooldownMs: 30_000,
      jwksMaxAgeMs: 600_000,
    };
  }

  if (mode === 'oauth') {
    const url = raw('oauth-introspection-url');
    if (url === undefined) throw new ConfigError('--auth oauth needs --oauth-introspection-url');
    const clientId = raw('oauth-client-id');
    const clientSecret = raw('oauth-client-secret');
    if ((clientId === undefined) !== (clientSecret === undefined)) {
      throw new ConfigError('--oauth-client-id and --oauth-client-secret must be given together');
    }
    auth.oauth = {
      introspectionUrl: httpUrl(url, where('oauth-introspection-url')),
      ...optional('clientId', clientId),
      ...optional('clientSecret', clientSecret),
      negativeCacheMs: 10_000,
      maxCacheMs: 300_000,
      timeoutMs: 5_000,
    };
  }

  if (raw('name-claim') !== undefined) {
    const claims = list(raw('name-claim')!);
    if (claims.length === 0) throw new ConfigError(`${where('name-claim')} must name at least one claim`);
    auth.nameClaims = claims;
  }

  const authorizeUrl = raw('authorize-url');
  if (authorizeUrl !== undefined) {
    if (mode === 'none') throw new ConfigError(`${where('authorize-url')} needs --auth jwt or --auth oauth`);
    auth.authorize = {
      url: httpUrl(authorizeUrl, where('authorize-url')),
      cacheTtlMs: duration(raw('authorize-cache-ttl'), 30_000, where('authorize-cache-ttl'), 0),
      timeoutMs: duration(raw('authorize-timeout'), 2_000, where('authorize-timeout'), 1),
    };
  } else {
    const stray = (['authorize-cache-ttl', 'authorize-timeout'] as const).find((f) => raw(f) !== undefined);
    if (stray) throw new ConfigError(`${where(stray)} needs --authorize-url`);
  }

  if (raw('api-key') !== undefined) {
    auth.apiKeys = [...new Set(list(raw('api-key')!))];
    const short = auth.apiKeys.find((k) => k.length < 16);
    if (short !== undefined) throw new ConfigError(`${where('api-key')}: every key must be at least 16 characters long`);
  }
  auth.refreshGraceMs = duration(raw('token-grace'), auth.refreshGraceMs, where('token-grace'), 0);
  auth.ticketTtlMs = duration(raw('ticket-ttl'), auth.ticketTtlMs, where('ticket-ttl'), 1);
  if (raw('jwt-allow-no-exp') !== undefined) {
    if (mode === 'none') throw new ConfigError(`${where('jwt-allow-no-exp')} needs --auth jwt or --auth oauth`);
    auth.allowNoExp = parseBoolean(raw('jwt-allow-no-exp')!, where('jwt-allow-no-exp'));
  }
  const lifetime = raw('jwt-max-lifetime');
  if (lifetime !== undefined) {
    if (!auth.allowNoExp) throw new ConfigError(`${where('jwt-max-lifetime')} needs --jwt-allow-no-exp`);
    auth.maxLifetimeMs = parseDuration(lifetime, where('jwt-max-lifetime'), 1000, 30 * DAY_MS);
  }

  abuse.connectionsPerSecond = count(raw('conn-rate'), abuse.connectionsPerSecond, where('conn-rate'));
  abuse.eventsPerSecond = count(raw('event-rate'), abuse.eventsPerSecond, where('event-rate'));
  abuse.eventBurst = count(raw('event-burst'), 2 * abuse.eventsPerSecond, where('event-burst'));
  if (abuse.eventsPerSecond > 0 && abuse.eventBurst < 1) throw new ConfigError(`${where('event-burst')} must be at least 1`);
  const byteRate = raw('byte-rate');
  if (byteRate !== undefined) abuse.bytesPerSecond = parseSize(byteRate, where('byte-rate'), 0, 64 * 1024 ** 3);
  const exempt = raw('rate-limit-exempt');
  if (exempt !== undefined) abuse.exempt = exempt.trim().toLowerCase() === 'none' ? [] : list(exempt).map(normalizeAddress);
  if (raw('trust-proxy') !== undefined) abuse.trustProxy = parseBoolean(raw('trust-proxy')!, where('trust-proxy'));
  const buffer = raw('max-send-buffer');
  if (buffer !== undefined) {
    abuse.maxSendBuffer = parseSize(buffer, where('max-send-buffer'), 0, 4 * 1024 ** 3);
    if (abuse.maxSendBuffer !== 0 && abuse.maxSendBuffer < 2 * maxPayload) {
      throw new ConfigError(`${where('max-send-buffer')} must be 0 or at least twice --max-payload`);
    }
  } else {
    abuse.maxSendBuffer = Math.max(abuse.maxSendBuffer, 4 * maxPayload);
  }

  const preauth = raw('preauth-max-frame');
  if (preauth !== undefined) abuse.preauthMaxFrame = parseSize(preauth, where('preauth-max-frame'), 1024, 512 * 1024 ** 2);

  return { auth, abuse };
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

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function list(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

function httpUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL (got "${value}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL (got "${value}")`);
  return url.href;
}

/** An optional duration (as every duration option: bare numbers are milliseconds), at most a day. */
function duration(value: string | undefined, fallback: number, name: string, minMs: number): number {
  return value === undefined ? fallback : parseDuration(value, name, minMs, DAY_MS);
}

/** An optional count; 0 turns the limit off. */
function count(value: string | undefined, fallback: number, name: string): number {
  return value === undefined ? fallback : parseInteger(value, name, 0, 1e9);
}
