import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { parseBoolean, parseDuration, parseInteger, parseSize, readableFile } from './config-values.js';
import { ConfigError } from './errors.js';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './logger.js';
import { AUTH_FLAGS, REPEATABLE_FLAGS, defaultAbuseLimits, defaultAuthConfig, parseAuthConfig, type AbuseLimits, type AuthConfig } from './auth/config.js';
import { SQLITE_DRIVERS, type SqliteDriverName } from './storage/sqlite-driver.js';
import type { StorageConfig } from './storage/types.js';

export type Transport = 'websocket' | 'polling';

export type TlsConfig =
  | { mode: 'off' }
  /** Generate a certificate into `certDir` on first run and reuse it afterwards. */
  | { mode: 'self-signed'; certDir: string }
  | { mode: 'files'; certFile: string; keyFile: string };

/** The one configuration object of the service, built once at start and never mutated. */
export interface Config {
  /** TCP port; 0 picks a free one (tests). Default 3000. */
  port: number;
  /** Interface to listen on. Default 0.0.0.0. */
  host: string;
  tls: TlsConfig;
  /** Engine.IO transports offered. Default both; `['websocket']` for websocket-only. */
  transports: Transport[];
  /** Largest accepted message in bytes (a NOTIFY payload, an HTTP body). Default 4 MiB. */
  maxPayload: number;
  /**
   * Deepest nesting of a message and of a socket.io packet's arguments (each `[` or `{` is one
   * level), checked by a linear scan before anything is parsed. Default 64.
   */
  maxDepth: number;
  /** Allowed browser origins for CORS: '*' for any. Default '*', as the original service. */
  corsOrigin: '*' | string[];
  logLevel: LogLevel;
  /** JSON lines for machines, coloured lines for people. Default pretty on a TTY, json otherwise. */
  logFormat: LogFormat;
  limits: {
    /** Rooms one connection may be in at once. */
    maxRoomsPerSocket: number;
    /** Longest room name and display name, in characters. */
    maxRoomLength: number;
    maxNameLength: number;
  };
  /** How long a graceful shutdown may take before the process is forced out. */
  shutdownTimeoutMs: number;
  /** Who may connect, join and publish (lib/auth/config.ts). Default: open. */
  auth: AuthConfig;
  /** Connection and event rates, slow consumers (lib/auth/config.ts). */
  abuse: AbuseLimits;
  /** Cluster mode (several nodes joined by Redis); absent: a single node, everything in memory. */
  cluster?: ClusterConfig;
  // [history] offsets, recent history, recovery and stored messages
  /**
   * Recent messages kept per room: at most `size` (default 100), none older than `ttlMs` (default 5 min); 0 keeps none.
   * At most `maxBytes` per room (default: --max-payload, so any accepted message can be kept) and `memory` for every
   * room together (default 64 MiB), oldest evicted first; absent: no byte bound.
   */
  history: { size: number; ttlMs: number; maxBytes?: number; memory?: number };
  /** How long socket.io connection-state recovery keeps a disconnected v4 session, ms (default 2 min); 0 turns it off. */
  recoveryWindowMs: number;
  /** Bytes of broadcast packets connection-state recovery keeps per namespace, oldest dropped first (default 16 MiB). */
  recoveryMemory: number;
  /** Where `store: true` messages go. Default SQLite in ./data; PostgreSQL with --database. */
  storage: StorageConfig;
  /** How long stored messages are kept, ms (default 7 days); 0 keeps them forever. */
  retentionMs: number;
}

/** Cluster mode: the Redis that joins the nodes, and how presence outlives a dead node. */
export interface ClusterConfig {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). Never logged with its password. */
  redisUrl: string;
  /**
   * Lifetime of a node's heartbeat key. A node refreshes it every third of this; a node whose key
   * expired (it died without saying goodbye) is swept by the others within another third: its
   * members leave CLIENTS and lobbies within 4/3 of this. Default 15 s (so at most 20 s).
   */
  presenceTtlMs: number;
  /** Prefix of every Redis key and channel the service uses, so several deployments can share a Redis. Default 'notify'. */
  keyPrefix: string;
}

const TRANSPORTS: readonly Transport[] = ['websocket', 'polling'];
const MIB = 1024 * 1024;
export const DEFAULT_PRESENCE_TTL_MS = 15_000;

/** A cluster config with the defaults, for tests and embedders. */
export function clusterConfig(redisUrl: string, overrides: Partial<Omit<ClusterConfig, 'redisUrl'>> = {}): ClusterConfig {
  return { redisUrl, presenceTtlMs: DEFAULT_PRESENCE_TTL_MS, keyPrefix: 'notify', ...overrides };
}
const MINUTE = 60_000;
/** Bytes of recent history kept by the whole process (all rooms, all namespaces). */
export const DEFAULT_HISTORY_MEMORY = 64 * MIB;
/** Bytes of packets the connection-state recovery buffer of one namespace keeps. */
export const DEFAULT_RECOVERY_MEMORY = 16 * MIB;
const DAY = 24 * 60 * MINUTE;

export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 3000,
    host: '0.0.0.0',
    tls: { mode: 'off' },
    transports: ['websocket', 'polling'],
    maxPayload: 4 * MIB,
    maxDepth: 64,
    corsOrigin: '*',
    logLevel: 'info',
    logFormat: process.stdout.isTTY ? 'pretty' : 'json',
    limits: { maxRoomsPerSocket: 1000, maxRoomLength: 256, maxNameLength: 256 },
    shutdownTimeoutMs: 8000,
    auth: defaultAuthConfig(),
    abuse: defaultAbuseLimits(),
    history: { size: 100, ttlMs: 5 * MINUTE, maxBytes: 4 * MIB, memory: DEFAULT_HISTORY_MEMORY },
    recoveryWindowMs: 2 * MINUTE,
    recoveryMemory: DEFAULT_RECOVERY_MEMORY,
    storage: { kind: 'sqlite', dataDir: resolve('data') },
    retentionMs: 7 * DAY,
    ...overrides,
  };
}

/** Each CLI flag, the environment variable that can set it too, and its help text. */
const FLAGS = {
  port: { alias: 'p', env: 'PORT', type: 'string', describe: 'TCP port to listen on (0 = any free port)', def: '3000' },
  host: { env: 'HOST', type: 'string', describe: 'interface to listen on', def: '0.0.0.0' },
  https: { alias: 'S', env: 'HTTPS', type: 'boolean', describe: 'serve HTTPS; without --cert/--key a self-signed certificate is generated into ./certs (relative to the current directory)', def: 'false' },
  cert: { env: 'TLS_CERT', type: 'string', describe: 'PEM certificate file (implies --https)', def: 'none' },
  key: { env: 'TLS_KEY', type: 'string', describe: 'PEM private key file (implies --https)', def: 'none' },
  transports: { env: 'TRANSPORTS', type: 'string', describe: 'comma-separated transports: websocket,polling', def: 'websocket,polling' },
  'max-payload': { env: 'MAX_PAYLOAD', type: 'string', describe: 'largest message in bytes (suffixes k, m: 512k, 4m)', def: '4m' },
  'max-depth': { env: 'MAX_DEPTH', type: 'string', describe: 'deepest nesting of a message or packet (each [ or { is a level)', def: '64' },
  'cors-origin': { env: 'CORS_ORIGIN', type: 'string', describe: "allowed browser origins, comma-separated, or '*'", def: '*' },
  'log-level': { env: 'LOG_LEVEL', type: 'string', describe: `one of ${LOG_LEVELS.join(', ')}`, def: 'info' },
  'log-format': { env: 'LOG_FORMAT', type: 'string', describe: 'json or pretty', def: 'pretty on a TTY, json otherwise' },
  redis: { env: 'REDIS_URL', type: 'string', describe: 'cluster mode: join nodes through Redis (redis[s]://host:port/db)', def: 'none: one node, in memory' },
  'redis-prefix': { env: 'REDIS_PREFIX', type: 'string', describe: 'cluster mode: prefix of the Redis keys (to share a Redis)', def: 'notify' },
  'presence-ttl': { env: 'PRESENCE_TTL', type: 'string', describe: 'cluster mode: node heartbeat lifetime (500ms-10m)', def: '15s' },
  ...AUTH_FLAGS,
  // [history]
  'history-size': { env: 'HISTORY_SIZE', type: 'string', describe: 'recent messages kept per room, for JOIN since and HISTORY (0 = none)', def: '100' },
  'history-ttl': { env: 'HISTORY_TTL', type: 'string', describe: 'how long a recent message is kept (0 = none): 90s, 5m, 1h', def: '5m' },
  'history-max-bytes': { env: 'HISTORY_MAX_BYTES', type: 'string', describe: 'bytes of recent messages kept per room, oldest dropped first (0 = none)', def: 'max-payload' },
  'history-memory': { env: 'HISTORY_MEMORY', type: 'string', describe: 'bytes of recent messages kept by all rooms together, oldest dropped first (0 = none)', def: '64m' },
  'recovery-memory': { env: 'RECOVERY_MEMORY', type: 'string', describe: 'bytes of packets connection-state recovery keeps per namespace', def: '16m' },
  'recovery-window': { env: 'RECOVERY_WINDOW', type: 'string', describe: 'how long connection-state recovery keeps a v4 session (0 = off)', def: '2m' },
  'data-dir': { env: 'DATA_DIR', type: 'string', describe: 'directory of the SQLite store of store: true messages (created if missing; relative to the current directory)', def: './data' },
  'sqlite-driver': { env: 'SQLITE_DRIVER', type: 'string', describe: 'SQLite driver: auto (node:sqlite from Node 24.15, else better-sqlite3), node:sqlite or better-sqlite3', def: 'auto' },
  database: { env: 'DATABASE_URL', type: 'string', describe: 'PostgreSQL URL for stored messages instead of SQLite: postgres://user:pw@host/db', def: 'none' },
  retention: { env: 'RETENTION', type: 'string', describe: 'how long stored messages are kept (0 = forever): 12h, 7d', def: '7d' },
} as const;

type FlagName = keyof typeof FLAGS;

/** Environment variables the service reads, for README and --help. */
export const ENVIRONMENT = Object.fromEntries(
  Object.entries(FLAGS).map(([flag, spec]) => [spec.env, `--${flag}`]),
) as Record<string, string>;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Builds the config from CLI arguments and the environment (a flag wins over its variable).
 * `--help` and `--version` print and exit; a bad value throws ConfigError.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  let parser = yargs([...argv])
    .scriptName('notification-service')
    .usage('$0 [options]\n\nReal-time notification service (socket.io pub/sub). Every option can also be set by the environment variable named in brackets.')
    .strict()
    .parserConfiguration({ 'camel-case-expansion': false })
    .fail((msg, err) => {
      throw new ConfigError(msg ?? err?.message ?? 'invalid arguments');
    })
    .help('help')
    .alias('help', 'h')
    .version(packageVersion())
    .alias('version', 'v')
    .wrap(Math.min(110, process.stdout.columns || 110));
  for (const [flag, spec] of Object.entries(FLAGS)) {
    parser = parser.option(flag, {
      type: spec.type,
      ...('alias' in spec ? { alias: spec.alias } : {}),
      describe: `${spec.describe} [env ${spec.env}] [default ${spec.def}]`,
    });
  }
  const args = parser.parseSync() as Record<string, unknown>;

  const raw = (flag: FlagName): string | undefined => {
    const cli = args[flag];
    if (cli !== undefined) {
      if (Array.isArray(cli)) {
        if (REPEATABLE_FLAGS.has(flag)) return cli.map(String).join(',');
        throw new ConfigError(`--${flag} given more than once`);
      }
      return String(cli);
    }
    const fromEnv = env[FLAGS[flag].env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  return buildConfig(raw);
}

/** Validates raw string values (from CLI or env) into a Config. Exported for tests. */
export function buildConfig(raw: (flag: FlagName) => string | undefined): Config {
  const base = defaultConfig();
  const where = (flag: FlagName) => `--${flag} (env ${FLAGS[flag].env})`;

  const port = raw('port') === undefined ? base.port : parseInteger(raw('port')!, where('port'), 0, 65535);
  const host = raw('host') ?? base.host;
  if (host.trim() === '') throw new ConfigError(`${where('host')} must not be empty`);

  const httpsFlag = raw('https') === undefined ? false : parseBoolean(raw('https')!, where('https'));
  const cert = raw('cert');
  const key = raw('key');
  let tls: TlsConfig = { mode: 'off' };
  if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) throw new ConfigError('--cert and --key must be given together');
    tls = { mode: 'files', certFile: readableFile(cert, where('cert')), keyFile: readableFile(key, where('key')) };
  } else if (httpsFlag) {
    tls = { mode: 'self-signed', certDir: resolve('certs') };
  }

  const transports = raw('transports') === undefined ? base.transports : parseTransports(raw('transports')!, where('transports'));
  const maxPayload = raw('max-payload') === undefined ? base.maxPayload : parseSize(raw('max-payload')!, where('max-payload'), 1024, 512 * MIB);
  const maxDepth = raw('max-depth') === undefined ? base.maxDepth : parseInteger(raw('max-depth')!, where('max-depth'), 1, 10_000);
  const corsOrigin = raw('cors-origin') === undefined ? base.corsOrigin : parseOrigins(raw('cors-origin')!, where('cors-origin'));

  const logLevel = (raw('log-level') ?? base.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`${where('log-level')} must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const logFormat = (raw('log-format') ?? base.logFormat) as LogFormat;
  if (logFormat !== 'json' && logFormat !== 'pretty') {
    throw new ConfigError(`${where('log-format')} must be json or pretty (got "${logFormat}")`);
  }

  const redis = raw('redis');
  const presenceTtlMs = raw('presence-ttl') === undefined ? DEFAULT_PRESENCE_TTL_MS : parseDuration(raw('presence-ttl')!, where('presence-ttl'), 500, 600_000);
  const keyPrefix = raw('redis-prefix') ?? 'notify';
  if (!/^[\w.:-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError(`${where('redis-prefix')} must be 1-64 letters, digits, '_', '.', ':' or '-' (got "${keyPrefix}")`);
  }
  const cluster = redis === undefined ? undefined : clusterConfig(parseRedisUrl(redis, where('redis')), { presenceTtlMs, keyPrefix });

  const { auth, abuse } = parseAuthConfig(raw, where, maxPayload);

  // [history]
  const duration = (flag: FlagName, fallback: number): number => (raw(flag) === undefined ? fallback : parseDuration(raw(flag)!, where(flag), 0, 3650 * DAY));
  const history = {
    size: raw('history-size') === undefined ? base.history.size : parseInteger(raw('history-size')!, where('history-size'), 0, 100_000),
    ttlMs: duration('history-ttl', base.history.ttlMs),
    maxBytes: raw('history-max-bytes') === undefined ? maxPayload : parseSize(raw('history-max-bytes')!, where('history-max-bytes'), 0, 64 * 1024 * MIB),
    memory: raw('history-memory') === undefined ? base.history.memory : parseSize(raw('history-memory')!, where('history-memory'), 0, 64 * 1024 * MIB),
  };
  const recoveryWindowMs = duration('recovery-window', base.recoveryWindowMs);
  const recoveryMemory = raw('recovery-memory') === undefined ? base.recoveryMemory : parseSize(raw('recovery-memory')!, where('recovery-memory'), 1024, 64 * 1024 * MIB);
  const retentionMs = duration('retention', base.retentionMs);
  let storage: StorageConfig;
  const database = raw('database');
  if (database !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(database.trim())) throw new ConfigError(`${where('database')} must be a postgres:// or postgresql:// URL`);
    storage = { kind: 'postgres', url: database.trim() };
  } else {
    const dataDir = raw('data-dir');
    if (dataDir !== undefined && dataDir.trim() === '') throw new ConfigError(`${where('data-dir')} must not be empty`);
    const driver = parseSqliteDriver(raw('sqlite-driver'), where('sqlite-driver'));
    // Relative to the current directory, as every path given on a command line.
    storage = { kind: 'sqlite', dataDir: resolve(dataDir ?? 'data'), ...(driver ? { driver } : {}) };
  }

  return { ...base, port, host, tls, transports, maxPayload, maxDepth, corsOrigin, logLevel, logFormat, auth, abuse, ...(cluster ? { cluster } : {}), history, recoveryWindowMs, recoveryMemory, storage, retentionMs };
}

/** `auto` (or nothing): undefined, the store picks; else one of the drivers. */
function parseSqliteDriver(value: string | undefined, name: string): SqliteDriverName | undefined {
  const v = value?.trim();
  if (v === undefined || v === 'auto') return undefined;
  if (!SQLITE_DRIVERS.includes(v as SqliteDriverName)) throw new ConfigError(`${name} must be auto, ${SQLITE_DRIVERS.join(' or ')} (got "${v}")`);
  return v as SqliteDriverName;
}

/** A Redis URL the official client accepts: redis:// or rediss://, a host, an optional numeric database. */
function parseRedisUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(`${name} must be a URL like redis://host:6379/0 (got "${redactUrl(value)}")`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`${name} must start with redis:// or rediss:// (got "${redactUrl(value)}")`);
  }
  if (url.hostname === '') throw new ConfigError(`${name} must name a host (got "${redactUrl(value)}")`);
  if (!/^\/?(\d+)?$/.test(url.pathname)) {
    throw new ConfigError(`${name}: the path must be a database number, e.g. redis://host:6379/2 (got "${redactUrl(value)}")`);
  }
  return value.trim();
}

/** A URL with its password replaced, fit for logs and error messages. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}

function parseTransports(value: string, name: string): Transport[] {
  const list = value.split(',').map((t) => t.trim()).filter(Boolean);
  const bad = list.find((t) => !TRANSPORTS.includes(t as Transport));
  if (list.length === 0 || bad !== undefined) {
    throw new ConfigError(`${name} must list websocket and/or polling (got "${value}")`);
  }
  return [...new Set(list as Transport[])];
}

function parseOrigins(value: string, name: string): '*' | string[] {
  const list = value.split(',').map((o) => o.trim()).filter(Boolean);
  if (list.length === 0) throw new ConfigError(`${name} must not be empty`);
  if (list.includes('*')) return '*';
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`${name}: "${origin}" is not an origin like https://app.example.com`);
    }
    if (url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(`${name}: "${origin}" is not an origin like https://app.example.com`);
    }
  }
  return list.map((o) => o.replace(/\/$/, ''));
}
