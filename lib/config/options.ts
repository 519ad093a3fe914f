/**
 * The one table of options: each flag's variable, kind of value, default, help and group. `--help`,
 * the variables read, the defaults of the Config object and README's option tables
 * (`npm run docs:options`) all come from here, so a default is written once: here, as one would
 * type it, and parsed by the option's own kind like any given value.
 */
import { parseHttpUrl, parseList, parseOrigins, parseRedisUrl } from './values.js';
import { ConfigError } from '../core/errors.js';
import { LOG_LEVELS } from '../log/logger.js';
import { SQLITE_DRIVERS } from '../storage/sqlite-driver.js';
import { boolean, directory, duration, integer, kind, nonEmptyText, oneOf, readablePath, size, someOf, text, type Kind } from './option-kinds.js';
import type { LogFormat, Transport } from './types.js';

/** The README table (and `--help` section) an option is listed in. */
export type OptionGroup = 'service' | 'auth' | 'abuse';

export interface OptionSpec {
  readonly env: string;
  readonly alias?: string;
  readonly group: OptionGroup;
  readonly kind: Kind<unknown>;
  /** As one would type it; parsed by `kind` like a given value. */
  readonly default?: string;
  /** Markdown: a default that is not one value (none, or taken from another option). */
  readonly defaultText?: string;
  /** Markdown: how the default value adapts to other options. */
  readonly defaultNote?: string;
  /** Markdown, one sentence: `--help` shows it as plain text, README's table starts with it. */
  readonly help: string;
  /** Markdown, README only: follows `help` in the table (starts with its own punctuation). */
  readonly more?: string;
  /** May be given several times; the values are joined with commas, as its variable lists them. */
  readonly repeatable?: true;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const DAY_MS = 86_400_000;

const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
const TRANSPORTS: readonly Transport[] = ['websocket', 'polling'];

const redisPrefix = kind((value, name) => {
  if (!/^[\w.:-]{1,64}$/.test(value)) throw new ConfigError(`${name} must be 1-64 letters, digits, '_', '.', ':' or '-' (got "${value}")`);
  return value;
});
const postgresUrl = kind((value, name) => {
  if (!/^postgres(ql)?:\/\//i.test(value.trim())) throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL`);
  return value.trim();
});
const jwtSecret = kind((value, name) => {
  // Shorter HS256 secrets can be brute-forced offline from a single token.
  if (Buffer.byteLength(value) < 32) throw new ConfigError(`${name} must be at least 32 bytes long`);
  return value;
});
const claims = kind((value, name) => {
  const list = parseList(value);
  if (list.length === 0) throw new ConfigError(`${name} must name at least one claim`);
  return list;
});
const apiKeys = kind((value, name) => {
  const keys = [...new Set(parseList(value))];
  if (keys.some((k) => k.length < 16)) throw new ConfigError(`${name}: every key must be at least 16 characters long`);
  return keys;
});
const adminPassword = kind((value, name) => {
  // The page can read every room's messages and disconnect users: no short password.
  if (value.length < 12) throw new ConfigError(`${name} must be at least 12 characters long`);
  return value;
});
/** Addresses, or `none` for an empty list. */
const addresses = kind((value) => (value.trim().toLowerCase() === 'none' ? [] : parseList(value)));
const count = integer(0, 1e9);
const authDuration = (minMs: number): Kind<number> => duration(minMs, DAY_MS);
const historyDuration = duration(0, 3650 * DAY_MS);
const bytes = size(0, 64 * GIB);

export const OPTIONS = {
  port: { alias: 'p', env: 'PORT', group: 'service', kind: integer(0, 65535), default: '3000', help: 'TCP port (`0`: any free port)' },
  host: { env: 'HOST', group: 'service', kind: nonEmptyText, default: '0.0.0.0', help: 'interface to listen on' },
  https: {
    alias: 'S', env: 'HTTPS', group: 'service', kind: boolean, default: 'false',
    help: 'serve HTTPS; without `--cert`/`--key` a self-signed certificate is generated into `./certs`, relative to the current directory',
    more: ' ([HTTPS](#https))',
  },
  cert: { env: 'TLS_CERT', group: 'service', kind: readablePath, help: 'PEM certificate file (with `--key`; implies HTTPS)' },
  key: { env: 'TLS_KEY', group: 'service', kind: readablePath, help: 'PEM private key file (with `--cert`)' },
  transports: { env: 'TRANSPORTS', group: 'service', kind: someOf(TRANSPORTS), default: 'websocket,polling', help: 'transports offered, comma-separated; `websocket` alone refuses long-polling' },
  'max-payload': {
    env: 'MAX_PAYLOAD', group: 'service', kind: size(KIB, 512 * MIB), default: '4m',
    help: 'largest message in bytes (`512k`, `4m`, `4194304`)', more: '; a 2 MB layout message passes by default',
  },
  'max-depth': {
    env: 'MAX_DEPTH', group: 'service', kind: integer(1, 10_000), default: '64',
    help: 'deepest nesting of a message or socket.io packet (each `[` or `{` is a level; 1–10000)',
    more: '; checked by a scan before parsing: a JSON-string payload over it is `INVALID_PAYLOAD`, a packet over it closes the connection',
  },
  'cors-origin': {
    env: 'CORS_ORIGIN', group: 'service', kind: kind(parseOrigins), default: '*',
    help: 'allowed browser origins, comma-separated, or `*`', more: ' (any origin, credentials allowed, as the original)',
  },
  'log-level': { env: 'LOG_LEVEL', group: 'service', kind: oneOf(LOG_LEVELS), default: 'info', help: LOG_LEVELS.map((l) => `\`${l}\``).join(', ') },
  'log-format': { env: 'LOG_FORMAT', group: 'service', kind: oneOf(LOG_FORMATS), defaultText: 'pretty on a TTY, else `json`', help: '`json` (one object per line) or `pretty`' },
  redis: {
    env: 'REDIS_URL', group: 'service', kind: kind(parseRedisUrl), defaultText: '— (one node, in memory)',
    help: 'cluster mode: `redis://[user:password@]host:port[/db]` or `rediss://` (TLS)',
    more: '; see [Cluster mode](#cluster-mode-several-nodes-joined-by-redis)',
  },
  'presence-ttl': {
    env: 'PRESENCE_TTL', group: 'service', kind: duration(500, 600_000), default: '15s',
    help: "cluster mode: lifetime of a node's heartbeat (`500ms` to `10m`)", more: '; a node that dies leaves presence within 4/3 of it',
  },
  'redis-prefix': { env: 'REDIS_PREFIX', group: 'service', kind: redisPrefix, default: 'notify', help: 'cluster mode: prefix of every Redis key and channel, so several deployments can share one Redis' },
  // [history]
  'history-size': {
    env: 'HISTORY_SIZE', group: 'service', kind: integer(0, 100_000), default: '100',
    help: 'recent messages kept per room for `JOIN since` and `HISTORY`; `0`: none', more: ' ([below](#no-lost-notifications-offsets-history-recovery-stored-messages))',
  },
  'history-ttl': { env: 'HISTORY_TTL', group: 'service', kind: historyDuration, default: '5m', help: 'how long a recent message is kept (`90s`, `5m`, `1h`; a bare number is ms); `0`: none' },
  'history-max-bytes': {
    env: 'HISTORY_MAX_BYTES', group: 'service', kind: bytes, defaultText: '`--max-payload`',
    help: 'bytes of recent messages kept per room, oldest dropped first; a message larger than this is not kept; `0`: none',
  },
  'history-memory': { env: 'HISTORY_MEMORY', group: 'service', kind: bytes, default: '64m', help: 'bytes of recent messages kept by all rooms together (single node), oldest of any room dropped first; `0`: none' },
  'recovery-memory': { env: 'RECOVERY_MEMORY', group: 'service', kind: size(KIB, 64 * GIB), default: '16m', help: 'bytes of packets connection-state recovery keeps per namespace (single node), oldest dropped first' },
  'recovery-window': {
    env: 'RECOVERY_WINDOW', group: 'service', kind: historyDuration, default: '2m',
    help: 'socket.io connection-state recovery of v4 JavaScript clients: how long a dropped session can come back; `0`: off',
    more: ' ([other clients](#clients-in-other-languages-python-socketio))',
  },
  'sse-ping': {
    env: 'SSE_PING', group: 'service', kind: duration(1000, 600_000), default: '25s',
    help: 'how often an idle Server-Sent Events stream gets a comment line (`: ping`), so proxies keep it open (`1s` to `10m`)',
  },
  'data-dir': {
    env: 'DATA_DIR', group: 'service', kind: directory, default: './data',
    help: 'where the embedded SQLite store keeps `store: true` messages (`messages.sqlite3`; created if missing), relative to the current directory as every path given to the service',
    more: ': started by systemd, set `WorkingDirectory=` or an absolute `DATA_DIR` (e.g. `/var/lib/notification-service` with `StateDirectory=notification-service`); the start-up log names the file',
  },
  'sqlite-driver': {
    env: 'SQLITE_DRIVER', group: 'service', kind: oneOf(['auto', ...SQLITE_DRIVERS], { trim: true }), default: 'auto',
    help: '`node:sqlite` (Node 24.15+), `better-sqlite3`, or `auto`: the first where it runs without a warning, else the second', more: ' ([What it needs](#two-commands))',
  },
  database: { env: 'DATABASE_URL', group: 'service', kind: postgresUrl, defaultText: '— (SQLite)', help: 'PostgreSQL for stored messages instead: `postgres://user:password@host:5432/db` (never logged with its password)' },
  metrics: { env: 'METRICS', group: 'service', kind: boolean, default: 'true', help: 'record Prometheus metrics and serve `GET /metrics`; `false`: neither', more: ' ([Metrics](docs/METRICS.md))' },
  'metrics-port': {
    env: 'METRICS_PORT', group: 'service', kind: integer(0, 65535), defaultText: '— (the main port only)',
    help: 'also serve `GET /metrics` (and nothing else) on this port, on the same `--host`, so it need not be public',
  },
  'metrics-public': { env: 'METRICS_PUBLIC', group: 'service', kind: boolean, default: 'false', help: 'auth on: serve `GET /metrics` without an API key' },
  retention: { env: 'RETENTION', group: 'service', kind: historyDuration, default: '7d', help: 'how long stored messages are kept (`12h`, `30d`); `0`: forever' },

  auth: { env: 'AUTH', group: 'auth', kind: oneOf(['none', 'jwt', 'oauth'], { trim: true, ignoreCase: true }), default: 'none', help: '`none`, `jwt` (signed tokens) or `oauth` (opaque tokens, RFC 7662 introspection)' },
  'jwt-secret': { env: 'JWT_SECRET', group: 'auth', kind: jwtSecret, help: 'jwt: HS256 shared secret, 32 bytes or more (use the variable: flags show in `ps`)' },
  'jwt-public-key': { env: 'JWT_PUBLIC_KEY', group: 'auth', kind: readablePath, help: 'jwt: PEM public key or certificate file: RSA (RS*/PS*), EC P-256/384/521 (ES256/384/512), Ed25519 (EdDSA)' },
  'jwks-url': { env: 'JWKS_URL', group: 'auth', kind: kind(parseHttpUrl), help: 'jwt: JWKS endpoint; cached, fetched again for an unknown `kid` (key rotation)' },
  'jwt-issuer': { env: 'JWT_ISSUER', group: 'auth', kind: text, defaultText: 'not checked', help: 'jwt: required `iss` claim' },
  'jwt-audience': { env: 'JWT_AUDIENCE', group: 'auth', kind: text, defaultText: 'not checked', help: 'jwt: required `aud` claim' },
  'oauth-introspection-url': { env: 'OAUTH_INTROSPECTION_URL', group: 'auth', kind: kind(parseHttpUrl), help: 'oauth: the RFC 7662 introspection endpoint' },
  'oauth-client-id': { env: 'OAUTH_CLIENT_ID', group: 'auth', kind: text, help: 'oauth: client id for the introspection endpoint (HTTP Basic, with `--oauth-client-secret`)' },
  'oauth-client-secret': { env: 'OAUTH_CLIENT_SECRET', group: 'auth', kind: text, help: 'oauth: client secret for the introspection endpoint (use the variable: flags show in `ps`)' },
  'name-claim': { env: 'NAME_CLAIM', group: 'auth', kind: claims, default: 'name,sub', help: 'claims tried in order for the display name' },
  'authorize-url': { env: 'AUTHORIZE_URL', group: 'auth', kind: kind(parseHttpUrl), help: 'backend asked `{user, namespace, room, action}` about every JOIN and publication', more: ' (below)' },
  'authorize-cache-ttl': { env: 'AUTHORIZE_CACHE_TTL', group: 'auth', kind: authDuration(0), default: '30s', help: 'how long `--authorize-url` answers are kept (`0`: ask every time)' },
  'authorize-timeout': { env: 'AUTHORIZE_TIMEOUT', group: 'auth', kind: authDuration(1), default: '2s', help: 'how long `--authorize-url` may take to answer; later denies' },
  'api-key': { env: 'API_KEYS', group: 'auth', kind: apiKeys, repeatable: true, help: 'key for HTTP publishing, 16+ characters; repeat the flag for several' },
  'admin-password': {
    env: 'ADMIN_PASSWORD', group: 'auth', kind: adminPassword, defaultText: '— (an API key)',
    help: 'password of the user `admin` on the admin page `/admin` (HTTP basic auth; an API key is accepted too), 12+ characters (use the variable: flags show in `ps`)',
    more: ' ([Admin page](#admin-page))',
  },
  'token-grace': { env: 'TOKEN_GRACE', group: 'auth', kind: authDuration(0), default: '10s', help: 'time to `REFRESH` after `TOKEN_EXPIRED` before the disconnect' },
  'ticket-ttl': { env: 'TICKET_TTL', group: 'auth', kind: authDuration(1), default: '30s', help: 'lifetime of a `POST /ticket` ticket' },
  'jwt-allow-no-exp': {
    env: 'JWT_ALLOW_NO_EXP', group: 'auth', kind: boolean, default: 'false',
    help: 'jwt and oauth: accept tokens (introspection answers) without `exp`, valid for `--jwt-max-lifetime` on a connection; refused by default',
  },
  'jwt-max-lifetime': {
    env: 'JWT_MAX_LIFETIME', group: 'auth', kind: duration(1000, 30 * DAY_MS), default: '24h',
    help: 'with `--jwt-allow-no-exp`: `TOKEN_EXPIRED` this long after a token without `exp` was presented (`1s` to `30d`)',
  },

  'conn-rate': { env: 'CONN_RATE', group: 'abuse', kind: count, default: '100', help: 'new connections (and `POST /ticket` requests) per second per client address; `0` turns it off' },
  'event-rate': { env: 'EVENT_RATE', group: 'abuse', kind: count, default: '1000', help: 'events per second per connection, sustained; `0` turns it off' },
  'event-burst': { env: 'EVENT_BURST', group: 'abuse', kind: count, defaultText: '2 × `--event-rate`', help: 'events a connection may send at once above the rate' },
  'byte-rate': {
    env: 'BYTE_RATE', group: 'abuse', kind: bytes, default: '256k',
    help: 'packet bytes per second per connection, sustained (burst: one `--max-payload` message + 64 KiB); `0` turns it off',
  },
  'violation-limit': {
    env: 'VIOLATION_LIMIT', group: 'abuse', kind: count, default: '5',
    help: 'connections of one client address closed for breaking the protocol (too deep, not JSON, too large, far over the rates) per minute; after one, its new connections may only send `--preauth-max-frame` frames for a minute; past the limit they are refused for a minute; `0` turns it off',
  },
  'rate-limit-exempt': { env: 'RATE_LIMIT_EXEMPT', group: 'abuse', kind: addresses, default: '127.0.0.1,::1', help: 'addresses without connection limit or `--violation-limit`, or `none`' },
  'trust-proxy': { env: 'TRUST_PROXY', group: 'abuse', kind: boolean, default: 'false', help: 'the client address is the last `X-Forwarded-For` entry (one reverse proxy in front)' },
  'max-send-buffer': {
    env: 'MAX_SEND_BUFFER', group: 'abuse', kind: size(0, 4 * GIB), default: '16m', defaultNote: 'at least 4 × `--max-payload`',
    help: 'close a connection whose unsent data would pass this, checked at each write; `0`: never',
  },
  'preauth-max-frame': {
    env: 'PREAUTH_MAX_FRAME', group: 'abuse', kind: size(KIB, 512 * MIB), default: '64k',
    help: 'auth on: largest frame (WebSocket message, polling POST) before a namespace admitted the connection with credentials; bigger closes it',
    more: ' (WebSocket 1009, refused from the frame header)',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The options in table order. */
export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];
