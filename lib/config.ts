import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { ConfigError } from './errors.js';
import { AUTH_FLAGS, REPEATABLE_FLAGS, defaultAbuseLimits, defaultAuthConfig, parseAuthConfig, type AbuseLimits, type AuthConfig } from './auth/config.js';

export type Transport = 'websocket' | 'polling';
export type LogLevel = 'error' | 'warn' | 'info' | 'http' | 'verbose' | 'debug' | 'silly';
export type LogFormat = 'json' | 'pretty';

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

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];
const TRANSPORTS: readonly Transport[] = ['websocket', 'polling'];
const MIB = 1024 * 1024;
export const DEFAULT_PRESENCE_TTL_MS = 15_000;

/** A cluster config with the defaults, for tests and embedders. */
export function clusterConfig(redisUrl: string, overrides: Partial<Omit<ClusterConfig, 'redisUrl'>> = {}): ClusterConfig {
  return { redisUrl, presenceTtlMs: DEFAULT_PRESENCE_TTL_MS, keyPrefix: 'notify', ...overrides };
}

export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 3000,
    host: '0.0.0.0',
    tls: { mode: 'off' },
    transports: ['websocket', 'polling'],
    maxPayload: 4 * MIB,
    corsOrigin: '*',
    logLevel: 'info',
    logFormat: process.stdout.isTTY ? 'pretty' : 'json',
    limits: { maxRoomsPerSocket: 1000, maxRoomLength: 256, maxNameLength: 256 },
    shutdownTimeoutMs: 8000,
    auth: defaultAuthConfig(),
    abuse: defaultAbuseLimits(),
    ...overrides,
  };
}

/** Each CLI flag, the environment variable that can set it too, and its help text. */
const FLAGS = {
  port: { alias: 'p', env: 'PORT', type: 'string', describe: 'TCP port to listen on (0 = any free port)', def: '3000' },
  host: { env: 'HOST', type: 'string', describe: 'interface to listen on', def: '0.0.0.0' },
  https: { alias: 'S', env: 'HTTPS', type: 'boolean', describe: 'serve HTTPS; without --cert/--key a self-signed certificate is generated into certs/', def: 'false' },
  cert: { env: 'TLS_CERT', type: 'string', describe: 'PEM certificate file (implies --https)', def: 'none' },
  key: { env: 'TLS_KEY', type: 'string', describe: 'PEM private key file (implies --https)', def: 'none' },
  transports: { env: 'TRANSPORTS', type: 'string', describe: 'comma-separated transports: websocket,polling', def: 'websocket,polling' },
  'max-payload': { env: 'MAX_PAYLOAD', type: 'string', describe: 'largest message in bytes (suffixes k, m: 512k, 4m)', def: '4m' },
  'cors-origin': { env: 'CORS_ORIGIN', type: 'string', describe: "allowed browser origins, comma-separated, or '*'", def: '*' },
  'log-level': { env: 'LOG_LEVEL', type: 'string', describe: `one of ${LOG_LEVELS.join(', ')}`, def: 'info' },
  'log-format': { env: 'LOG_FORMAT', type: 'string', describe: 'json or pretty', def: 'pretty on a TTY, json otherwise' },
  redis: { env: 'REDIS_URL', type: 'string', describe: 'cluster mode: join nodes through Redis (redis[s]://host:port/db)', def: 'none: one node, in memory' },
  'redis-prefix': { env: 'REDIS_PREFIX', type: 'string', describe: 'cluster mode: prefix of the Redis keys (to share a Redis)', def: 'notify' },
  'presence-ttl': { env: 'PRESENCE_TTL', type: 'string', describe: 'cluster mode: node heartbeat lifetime (500ms-10m)', def: '15s' },
  ...AUTH_FLAGS,
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
  const maxPayload = raw('max-payload') === undefined ? base.maxPayload : parseSize(raw('max-payload')!, where('max-payload'));
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

  return { ...base, port, host, tls, transports, maxPayload, corsOrigin, logLevel, logFormat, auth, abuse, ...(cluster ? { cluster } : {}) };
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

/** Milliseconds, or a number with ms, s or m: 1500, 1500ms, 15s, 2m. */
function parseDuration(value: string, name: string, minMs: number, maxMs: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(value);
  const unit = m?.[2]?.toLowerCase();
  const ms = m ? Math.round(Number(m[1]) * (unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1)) : NaN;
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
    throw new ConfigError(`${name} must be a duration from ${minMs}ms to ${maxMs / 60_000}m, e.g. 15s or 1500ms (got "${value}")`);
  }
  return ms;
}

function parseInteger(value: string, name: string, min: number, max: number): number {
  const n = Number(value.trim());
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
  }
  return n;
}

function parseBoolean(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false (got "${value}")`);
}

/** Bytes, optionally with a binary suffix: 4194304, 512k, 4m, 4MiB. */
function parseSize(value: string, name: string): number {
  const m = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i.exec(value);
  const unit = m?.[2]?.toLowerCase()[0];
  const n = m ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? MIB : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1024 || n > 512 * MIB) {
    throw new ConfigError(`${name} must be a size from 1k to 512m, e.g. 4m or 4194304 (got "${value}")`);
  }
  return n;
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

function readableFile(path: string, name: string): string {
  const full = resolve(path);
  try {
    readFileSync(full);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return full;
}
