/**
 * The shape of the one configuration object. Types only: every default and every check is in the
 * options table (lib/config/options.ts) and the code that assembles the object from it.
 */
import type { LogFormat, LogLevel } from '../log/logger.js';
import type { StorageConfig } from '../storage/types.js';

export type { LogFormat, LogLevel };
export type Transport = 'websocket' | 'polling';

export type TlsConfig =
  | { mode: 'off' }
  /** Generate a certificate into `certDir` on first run and reuse it afterwards. */
  | { mode: 'self-signed'; certDir: string }
  | { mode: 'files'; certFile: string; keyFile: string };

/** The one configuration object of the service, built once at start and never mutated. */
export interface Config {
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** Interface to listen on. */
  host: string;
  tls: TlsConfig;
  /** Engine.IO transports offered; `['websocket']` for websocket-only. */
  transports: Transport[];
  /** Largest accepted message in bytes (a NOTIFY payload, an HTTP body). */
  maxPayload: number;
  /**
   * Deepest nesting of a message and of a socket.io packet's arguments (each `[` or `{` is one
   * level), checked by a linear scan before anything is parsed.
   */
  maxDepth: number;
  /** Allowed browser origins for CORS: '*' for any, as the original service. */
  corsOrigin: '*' | string[];
  logLevel: LogLevel;
  /** JSON lines for machines, coloured lines for people. */
  logFormat: LogFormat;
  /** Fixed limits (not options). */
  limits: {
    /** Rooms one connection may be in at once. */
    maxRoomsPerSocket: number;
    /** Longest room name and display name, in characters. */
    maxRoomLength: number;
    maxNameLength: number;
  };
  /** How long a graceful shutdown may take before the process is forced out. */
  shutdownTimeoutMs: number;
  /** Who may connect, join and publish. Default: open. */
  auth: AuthConfig;
  /** Connection and event rates, slow consumers. */
  abuse: AbuseLimits;
  /** Cluster mode (several nodes joined by Redis); absent: a single node, everything in memory. */
  cluster?: ClusterConfig;
  // [history] offsets, recent history, recovery and stored messages
  /**
   * Recent messages kept per room: at most `size`, none older than `ttlMs`; 0 keeps none. At most
   * `maxBytes` per room (by default --max-payload, so any accepted message can be kept) and `memory`
   * for every room together, oldest evicted first; absent: no byte bound.
   */
  history: { size: number; ttlMs: number; maxBytes?: number; memory?: number };
  /** How long socket.io connection-state recovery keeps a disconnected v4 session, ms; 0 turns it off. */
  recoveryWindowMs: number;
  /** How often an idle Server-Sent Events stream gets a `: ping` comment line. */
  ssePingMs: number;
  /** Bytes of broadcast packets connection-state recovery keeps per namespace, oldest dropped first. */
  recoveryMemory: number;
  /** Where `store: true` messages go: SQLite in a directory, or PostgreSQL. */
  storage: StorageConfig;
  /** How long stored messages are kept, ms; 0 keeps them forever. */
  retentionMs: number;
  /** Prometheus metrics (docs/METRICS.md); absent: recorded, served on the main port only, with an API key when auth is on. */
  metrics?: MetricsConfig;
}

export interface MetricsConfig {
  /** Record them and serve GET /metrics. */
  enabled: boolean;
  /** Serve GET /metrics on this port too (only it), on the same host. */
  port?: number;
  /** Auth on: GET /metrics without an API key. */
  public: boolean;
}

/** Cluster mode: the Redis that joins the nodes, and how presence outlives a dead node. */
export interface ClusterConfig {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). Never logged with its password. */
  redisUrl: string;
  /**
   * Lifetime of a node's heartbeat key. A node refreshes it every third of this; a node whose key
   * expired (it died without saying goodbye) is swept by the others within another third: its
   * members leave CLIENTS and lobbies within 4/3 of this.
   */
  presenceTtlMs: number;
  /** Prefix of every Redis key and channel the service uses, so several deployments can share a Redis. */
  keyPrefix: string;
}

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
  /** JWKS: the least time between two fetches of the key set (an unknown `kid` triggers one). */
  jwksCooldownMs: number;
  /** JWKS: how long a fetched key set is trusted before it is fetched again. */
  jwksMaxAgeMs: number;
}

export interface OAuthConfig {
  /** RFC 7662 token introspection endpoint. */
  introspectionUrl: string;
  /** Sent as HTTP Basic credentials, when given. */
  clientId?: string;
  clientSecret?: string;
  /** How long an inactive (refused) token's answer is kept. */
  negativeCacheMs: number;
  /** Longest a positive answer is kept when the endpoint gives no `exp`. */
  maxCacheMs: number;
  timeoutMs: number;
}

export interface AuthorizeUrlConfig {
  /** POSTed `{user, namespace, room, action}` for each JOIN and publication; answers `{allow}`. */
  url: string;
  /** How long an answer is kept per (user, namespace, room, action). 0: ask every time. */
  cacheTtlMs: number;
  /** No answer within this time denies. */
  timeoutMs: number;
}

export interface AuthConfig {
  /** `none`: anyone may do anything, as the original service. */
  mode: AuthMode;
  jwt?: JwtConfig;
  oauth?: OAuthConfig;
  /** Claims tried in order for the display name. */
  nameClaims: string[];
  authorize?: AuthorizeUrlConfig;
  /** Keys for HTTP publishing; required for it whenever mode is not `none`. */
  apiKeys: string[];
  /** Password of the user `admin` on the admin page (an API key opens it too); absent: the keys only. */
  adminPassword?: string;
  /** After TOKEN_EXPIRED, how long a connection has to REFRESH before it is disconnected. */
  refreshGraceMs: number;
  /** Lifetime of a ticket from POST /ticket. */
  ticketTtlMs: number;
  /**
   * Accept tokens (JWTs, introspection answers) without `exp`. Off by default: refused, since such
   * a connection would never have to show a token again.
   */
  allowNoExp: boolean;
  /** With allowNoExp: how long a token without `exp` counts as valid on a connection. */
  maxLifetimeMs: number;
}

export interface AbuseLimits {
  /** New connections per second per client address; 0 turns the limit off. */
  connectionsPerSecond: number;
  /** Sustained events per second per connection; 0 turns the limit off. */
  eventsPerSecond: number;
  /** Events a connection may send at once above the sustained rate. */
  eventBurst: number;
  /** Sustained packet bytes per second per connection (burst: one maximal message); 0 turns it off. */
  bytesPerSecond: number;
  /** Protocol-violation closes per minute per client address before its handshakes are refused (lib/abuse/violations.ts); 0: off. */
  violationsPerMinute: number;
  /** Client addresses the connection rate and the violation limit do not apply to. */
  exempt: string[];
  /** Take the client address from the last X-Forwarded-For entry (behind one reverse proxy). */
  trustProxy: boolean;
  /** A connection whose unsent data would pass this many bytes is closed (slow consumer), checked at each write; 0: never. */
  maxSendBuffer: number;
  /** Largest frame (WebSocket message, polling POST body) before a connection is authenticated (auth on). */
  preauthMaxFrame: number;
}
