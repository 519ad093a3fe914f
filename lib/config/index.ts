/**
 * The one Config object, assembled from the options table (lib/config/options.ts): the values given
 * on the command line or in the environment, the table's defaults otherwise, and the checks that
 * involve several options. The auth and abuse parts are assembled by lib/auth/config.ts.
 */
import { resolve } from 'node:path';
import { readAuthConfig } from '../auth/config.js';
import { readCommandLine } from './command-line.js';
import { optionDefault, optionValues, type RawValues } from './option-values.js';
import { OPTIONS } from './options.js';
import type { ClusterConfig, Config, TlsConfig } from './types.js';
import { ConfigError } from '../core/errors.js';
import type { StorageConfig } from '../storage/types.js';

export type { ClusterConfig, Config, LogFormat, LogLevel, TlsConfig, Transport } from './types.js';
export { redactUrl } from './values.js';

/** Environment variables the service reads (variable -> its flag), for tools that must clear them. */
export const ENVIRONMENT: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(OPTIONS).map(([flag, spec]) => [spec.env, `--${flag}`]));

/** Limits that are not options. */
const FIXED_LIMITS: Config['limits'] = { maxRoomsPerSocket: 1000, maxRoomLength: 256, maxNameLength: 256 };
const SHUTDOWN_TIMEOUT_MS = 8000;

/** The config of a service started without options, with some fields replaced (tests and embedders). */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...buildConfig(() => undefined), ...overrides };
}

/** A cluster config with the defaults, for tests and embedders. */
export function clusterConfig(redisUrl: string, overrides: Partial<Omit<ClusterConfig, 'redisUrl'>> = {}): ClusterConfig {
  return { redisUrl, presenceTtlMs: optionDefault('presence-ttl'), keyPrefix: optionDefault('redis-prefix'), ...overrides };
}

/**
 * Builds the config from CLI arguments and the environment (a flag wins over its variable).
 * `--help` and `--version` print and exit; a bad value throws ConfigError.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  return buildConfig(readCommandLine(argv, env));
}

/** Validates raw string values (from CLI or env) into a Config. Exported for tests. */
export function buildConfig(raw: RawValues): Config {
  const options = optionValues(raw);
  const { given, value } = options;

  const port = value('port');
  const host = value('host');

  const https = value('https');
  let tls: TlsConfig = { mode: 'off' };
  if (given('cert') || given('key')) {
    if (!given('cert') || !given('key')) throw new ConfigError('--cert and --key must be given together');
    tls = { mode: 'files', certFile: value('cert')!, keyFile: value('key')! };
  } else if (https) {
    tls = { mode: 'self-signed', certDir: resolve('certs') };
  }

  const transports = value('transports');
  const maxPayload = value('max-payload');
  const maxDepth = value('max-depth');
  const corsOrigin = value('cors-origin');
  const logLevel = value('log-level');
  const logFormat = value('log-format') ?? (process.stdout.isTTY ? 'pretty' : 'json');

  const presenceTtlMs = value('presence-ttl');
  const keyPrefix = value('redis-prefix');
  const redis = value('redis');
  const cluster = redis === undefined ? undefined : clusterConfig(redis, { presenceTtlMs, keyPrefix });

  const { auth, abuse } = readAuthConfig(options, maxPayload);

  // [history]
  const history = {
    size: value('history-size'),
    ttlMs: value('history-ttl'),
    maxBytes: value('history-max-bytes') ?? maxPayload,
    memory: value('history-memory'),
  };
  const recoveryWindowMs = value('recovery-window');
  const recoveryMemory = value('recovery-memory');
  const ssePingMs = value('sse-ping');
  const retentionMs = value('retention');
  const metricsPort = value('metrics-port');
  const metrics = { enabled: value('metrics'), public: value('metrics-public'), ...(metricsPort === undefined ? {} : { port: metricsPort }) };
  let storage: StorageConfig;
  const database = value('database');
  if (database !== undefined) {
    storage = { kind: 'postgres', url: database };
  } else {
    const driver = value('sqlite-driver');
    // Relative to the current directory, as every path given on a command line.
    storage = { kind: 'sqlite', dataDir: value('data-dir'), ...(driver !== 'auto' ? { driver } : {}) };
  }

  return {
    port, host, tls, transports, maxPayload, maxDepth, corsOrigin, logLevel, logFormat,
    limits: { ...FIXED_LIMITS }, shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    auth, abuse, ...(cluster ? { cluster } : {}), history, recoveryWindowMs, recoveryMemory, storage, retentionMs, ssePingMs, metrics,
  };
}
