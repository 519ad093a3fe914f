/**
 * createService(config) builds the whole service without listening: HTTP(S) server, socket.io
 * server, the pub/sub core and every namespace module. `listen()` starts it, `close()` stops it
 * (idempotent). Tests and embedders build it the same way as the CLI does.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { namespaces as defaultNamespaces, wsModules as defaultWsModules } from '../namespaces/index.js';
import type { Cluster } from './cluster/cluster.js';
import { Access, type AccessOptions } from './auth/access.js';
import { UserBlocks } from './auth/user-blocks.js';
import { disconnectSocketIo, UserDisconnect } from './auth/user-disconnect.js';
import { RedisTicketStore } from './auth/redis-tickets.js';
import { clientAddress, clusterConnectionLimiter } from './abuse/rate-limits.js';
import type { Config } from './config/index.js';
import { attachNamespace, type HttpProtocol, type NamespaceModule } from './core/dispatch.js';
import { capPollingResponses, checkTransportInternals, chooseOffsetsAtHandshake, createWsEndpoint, FanoutAdapter, guardedParser, installLegacyPollingFix, limitPreauthFrames, installLeanEngine, installLeanSockets, installSharedHeartbeats, limitControlFrames, limitSendBuffers, noteConnectionAddress, type OpeningRequest, releaseHandshakeRequests, serveOnlyEio3And4, serveWebSocketSessions, shortenUpgrades, type WsEndpoint } from './transport/index.js';
import { MemoryHistory } from './history/memory.js';
import { RedisHistory } from './history/redis.js';
import type { HistoryStore } from './history/types.js';
import { DEFAULT_DRAIN } from './core/drain.js';
import { createHttpHandler, type HttpHandler } from './http/routes.js';
import { SseStreams } from './http/sse.js';
import { Violations } from './abuse/violations.js';
import { openableUrl } from './http/listen-url.js';
import { createLogger, type Logger } from './log/logger.js';
import { maxFrameBytes, maxQueuedBytes } from './abuse/memory-budget.js';
import { byteBurst } from './abuse/packet-rates.js';
import { MemoryPresence } from './presence/memory.js';
import type { PresenceStore } from './presence/types.js';
import type { AppServer, AppSocket } from './core/app-socket.js';
import { logClosed, socketIoReason } from './log/connection-close.js';
import { Hub } from './core/hub.js';
import { SocketIoGroup } from './core/socketio-members.js';
import type { WsModule } from './core/ws-modules.js';
import { MemoryBroker } from './broker/memory.js';
import { RedisBroker } from './broker/redis.js';
import type { Broker } from './broker/types.js';
import { Readiness } from './http/readiness.js';
import { RecoveringFanoutAdapter } from './history/recovery.js';
import type { LostMembers } from './presence/redis.js';
import { MonitoredStore } from './storage/health.js';
import { keepRetention, openMessageStore, type MessageStore } from './storage/index.js';
import { loadTls, type TlsMaterial } from './http/tls.js';
import { Metrics } from './metrics/metrics.js';
import { liveState } from './metrics/live-state.js';
import { createMetricsServer, listenOn } from './http/metrics-route.js';
import { createAdmin, type Admin } from './admin/admin.js';

export interface ServiceOptions {
  logger?: Logger;
  /** Attach to this server instead of creating one; its owner then listens and routes HTTP. */
  httpServer?: http.Server | https.Server;
  presence?: PresenceStore;
  namespaces?: readonly NamespaceModule[];
  /** Protocols on a plain WebSocket (default: /sock). */
  wsModules?: readonly WsModule[];
  /** Pings on their connections (default 25 s; tests make it short). */
  wsPingIntervalMs?: number;
  /** Authentication parts shared across nodes (ticket store) or injected by tests (clock). */
  access?: AccessOptions;
  /** [history] Instead of a MemoryHistory built from config.history (tests inject a clock this way). */
  history?: HistoryStore;
  /** [history] Instead of the store config.storage names; `null` for none. */
  store?: MessageStore | null;
}

export interface Service {
  readonly config: Config;
  readonly io: AppServer;
  readonly httpServer: http.Server | https.Server;
  readonly core: Hub;
  readonly logger: Logger;
  readonly tls: TlsMaterial | undefined;
  /** Cluster mode only: the Redis connection, presence and adapter of this node. */
  readonly cluster: Cluster | undefined;
  /** What `GET /readyz` reports. */
  readonly readiness: Readiness;
  /** The plain HTTP routes, for an embedder to mount in its own request handler. */
  readonly httpHandler: HttpHandler;
  /** This node's Prometheus metrics (lib/metrics/metrics.ts). */
  readonly metrics: Metrics;
  /** The admin page (GET /admin, lib/admin/) and the figures of every node it shows. */
  readonly admin: Admin;
  listen(): Promise<AddressInfo>;
  /** The bound address, once listening. */
  address(): AddressInfo;
  /** The --metrics-port listener's bound address, once listening; undefined without one. */
  metricsAddress(): AddressInfo | undefined;
  /**
   * Refuses new publications (SHUTTING_DOWN) and answers those in flight (lib/core/drain.ts), then closes
   * every client connection (clients see a transport close and reconnect elsewhere), flushes and
   * closes the message store and releases resources.
   */
  close(): Promise<void>;
}

/** Pings on plain WebSocket connections (as socket.io's default pingInterval): idle connections stay open through proxies. */
const WS_PING_INTERVAL_MS = 25_000;

/** How long in-flight HTTP requests (long-polling GETs among them) may take to finish on close. */
const HTTP_DRAIN_MS = 1000;

export async function createService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  // First: the socket.io, engine.io and ws internals the transport relies on (a DependencyError
  // naming the package, its version and what is missing), before anything is opened.
  checkTransportInternals();
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // Prometheus metrics (lib/metrics/): `recording` undefined when --metrics false, so nothing records.
  const metricsConfig = config.metrics ?? { enabled: true, public: false };
  const metrics = new Metrics(metricsConfig.enabled);
  const recording = metricsConfig.enabled ? metrics : undefined;
  const tls = await loadTls(config.tls, logger);
  const owned = options.httpServer === undefined;
  const httpServer = options.httpServer ?? (tls ? https.createServer({ cert: tls.cert, key: tls.key }) : http.createServer());
  // Registered before socket.io attaches, so socket.io answers its own path and passes the rest on.
  let routes: HttpHandler | undefined;
  if (owned) httpServer.on('request', (req, res) => routes!(req, res));

  const modules = options.namespaces ?? defaultNamespaces;
  const wsModules = options.wsModules ?? defaultWsModules;
  // Set once the core exists; the cluster reports presence changes only after start().
  let presenceChanged: (kind: 'lost' | 'back', members: LostMembers[]) => void = () => undefined;
  // Loaded only in cluster mode: a single node never loads the Redis client.
  const cluster = config.cluster
    ? (await import('./cluster/cluster.js')).createCluster(config.cluster, {
        logger,
        onLost: (lost) => presenceChanged('lost', lost),
        onBack: (back) => presenceChanged('back', back),
      })
    : undefined;

  // [history] The durable store first: a store that cannot be opened stops the start, before listening.
  // Connection-state recovery: in memory on a single node (lib/history/recovery.ts), from the adapter's
  // stream on any node in cluster mode (lib/history/cluster-recovery.ts).
  const opened = options.store === undefined ? await openMessageStore(config.storage) : (options.store ?? undefined);
  // Its saves' outcomes (and a probe while failing) tell readiness whether it can store.
  const store = opened && new MonitoredStore(opened, logger, undefined, recording && ((ok, seconds) => recording.storeWrite(ok, seconds)));
  if (store && recording) recording.addStore();
  if (store) logger.info('message store open', { store: store.description, retentionMs: config.retentionMs });
  const stopRetention = store ? keepRetention(store, config.retentionMs, logger) : () => undefined;
  const recovery = config.recoveryWindowMs > 0;

  // Connections closed for protocol violations, per client address (lib/abuse/violations.ts).
  const violations = new Violations(config.abuse);
  // A connect_error of a socket.io namespace no client may join (cluster mode's internal ones), counted.
  const notANamespace = (err: Error, fields: { data: { code: 'NOT_FOUND'; message: string } }): Error => {
    recording?.error('NOT_FOUND');
    return Object.assign(err, fields);
  };
  const csr = { maxDisconnectionDuration: config.recoveryWindowMs, skipMiddlewares: false, maxBufferedBytes: config.recoveryMemory };
  const io: AppServer = new Server(httpServer, {
    transports: config.transports,
    // socket.io-client 1.x / 2.x speak Engine.IO v3.
    allowEIO3: true,
    // Beyond twice the message limit a frame is dropped with the connection; below it the
    // handlers answer PAYLOAD_TOO_LARGE, which a client can act on.
    maxHttpBufferSize: maxFrameBytes(config.maxPayload),
    // Per-socket deflate costs far more CPU and memory than it saves on small notifications.
    perMessageDeflate: false,
    serveClient: false,
    // Upgrades of other paths are the plain WebSocket endpoints' (/sock), which may take longer than
    // Engine.IO's 1 s to admit one (a ticket read from Redis): they answer unknown paths themselves.
    // (An embedder's server keeps Engine.IO's default: its other upgrades are its own business.)
    ...(owned ? { destroyUpgrade: false } : {}),
    // Before any JSON.parse: the connection's event and byte rates (refused events are answered
    // RATE_LIMITED unparsed, far over them the connection is cut), then packets nested deeper than
    // --max-depth close their connection (lib/transport/guarded-parser.ts, lib/abuse/packet-rates.ts).
    parser: guardedParser(
      {
        maxDepth: config.maxDepth,
        argumentStyle: (nsp) => modules.find((m) => m.name === nsp)?.argumentStyle ?? 'payload',
        maxQueued: maxQueuedBytes(config),
        rates: {
          eventsPerSecond: config.abuse.eventsPerSecond,
          eventBurst: config.abuse.eventBurst,
          bytesPerSecond: config.abuse.bytesPerSecond,
          byteBurst: byteBurst(config.maxPayload),
        },
      },
      (address, err) => {
        violations.record(address);
        if (logger.isDebugEnabled()) logger.debug('packet refused: connection closed', { reason: err.message });
      },
    ),
    // The only thing besides presence (and history) that differs in cluster mode.
    adapter: cluster?.adapter ?? (recovery ? RecoveringFanoutAdapter : FanoutAdapter),
    // [history] Restored sockets pass the middlewares (authentication) again.
    // (maxBufferedBytes is ours: RecoveringFanoutAdapter's byte bound; socket.io ignores it.)
    ...(recovery ? { connectionStateRecovery: csr } : {}),
    // Reflecting the origin with credentials is what 1.x clients need (they always send
    // credentials); an explicit list restricts it.
    cors: { origin: config.corsOrigin === '*' ? true : config.corsOrigin, credentials: true },
  });
  // Before socket.io's own handler makes the connection's decoder: the address it reports violations
  // of (no work per connection when violations are not counted).
  if (violations.enabled) {
    io.engine.prependListener('connection', (conn: { request: IncomingMessage }) => noteConnectionAddress(clientAddress(conn.request, config.abuse.trustProxy)));
  }
  releaseHandshakeRequests(io);
  // The 101 and Engine.IO's open packet in one write; no CORS middleware on a WebSocket upgrade.
  shortenUpgrades(io.engine);
  // Engine.IO v4 sessions opened on WebSocket without Engine.IO's socket (lib/transport/websocket-sessions.ts).
  serveWebSocketSessions(io.engine);
  installLeanSockets();
  installLeanEngine(io.engine);
  // Engine.IO's ping timers on a few shared Node timers (lib/transport/shared-heartbeats.ts).
  installSharedHeartbeats();
  serveOnlyEio3And4(io);
  installLegacyPollingFix(io, logger);
  // Recovery offsets to socket.io-client 4 connections only; at most 16 packets per polling
  // response (python-engineio's limit). lib/transport/recovery-offsets.ts, lib/transport/polling-packet-cap.ts.
  chooseOffsetsAtHandshake(io.engine);
  capPollingResponses(io.engine as never, logger);
  // Pings, pongs and noops count against a small budget per connection (lib/abuse/control-frames.ts).
  limitControlFrames(io.engine, (conn) => {
    const address = clientAddress(conn.request as OpeningRequest, config.abuse.trustProxy);
    logger.warn('too many control frames: disconnected', { address });
    violations.record(address);
    recording?.limited('control');
  });

  // What presence and GET /rooms/:namespace/:room/presence name this node: the cluster's id, else one of its own.
  const nodeId = cluster?.nodeId ?? randomUUID();
  // [history] The broker: offsets, history and the other nodes. Single node: a room's recent
  // history in memory, kept while it has members here. Cluster: in Redis, shared by every node
  // (lib/history/redis.ts), and what every node reads from the cluster stream goes to its hub.
  let hub: Hub | undefined;
  const inUse = (ns: string, room: string): boolean => (hub?.localCount(ns, room) ?? 0) > 0;
  let broker: Broker;
  // Single node: the history in memory, whose size the metrics report.
  let memoryHistory: MemoryHistory | undefined;
  if (cluster && !options.history) {
    const redisBroker = new RedisBroker(
      new RedisHistory({
        connection: cluster.connection,
        prefix: config.cluster!.keyPrefix,
        adapterStream: cluster.adapterStream.name,
        adapterMaxLen: cluster.adapterStream.maxLen,
        ...config.history,
        cursor: cluster.cursor,
        fallback: new MemoryHistory({ size: 0, ttlMs: 0, recoverable: false, inUse }),
      }),
      { connection: cluster.connection, name: cluster.adapterStream.name, maxLen: cluster.adapterStream.maxLen },
      logger,
    );
    cluster.onRoomDelivery((ns, room, data, except, offset) => redisBroker.fromStream({ ns, room, data, except }, offset));
    broker = redisBroker;
  } else {
    if (!options.history) memoryHistory = new MemoryHistory({ ...config.history, inUse });
    broker = new MemoryBroker(options.history ?? memoryHistory!);
  }
  const core = (hub = new Hub(
    { ...config.limits, maxPayload: config.maxPayload, maxDepth: config.maxDepth },
    options.presence ?? cluster?.presence ?? new MemoryPresence(nodeId),
    logger,
    broker,
    store,
    recording,
  ));
  // Authentication, authorization and the handshake's abuse limits (lib/auth/access.ts): every
  // verb is guarded, the core asks it before JOINs and publications, every namespace gets its
  // middleware.
  // In cluster mode tickets live in Redis, so a ticket from one node is redeemed on any other.
  const ticketStore = options.access?.ticketStore ?? (cluster && config.cluster ? new RedisTicketStore(cluster.connection.client, config.cluster.keyPrefix) : undefined);
  // ... and the per-address connection budget is shared by the cluster.
  const connectionLimiter =
    options.access?.connectionLimiter ??
    (cluster && config.cluster && config.abuse.connectionsPerSecond > 0
      ? clusterConnectionLimiter(cluster.connection.client, config.cluster.keyPrefix, config.abuse.connectionsPerSecond)
      : undefined);
  // Users refused for a while (POST /users/:user/disconnect with a block): in Redis too in cluster mode.
  const blocks = new UserBlocks(options.access?.now, cluster && config.cluster ? { connection: cluster.connection, prefix: config.cluster.keyPrefix } : undefined);
  const access = new Access(config, logger, {
    blocks,
    violations,
    ...options.access,
    ...(ticketStore ? { ticketStore } : {}),
    ...(connectionLimiter ? { connectionLimiter } : {}),
    ...(recording ? { metrics: recording } : {}),
  });
  for (const module of modules) {
    attachNamespace(io.of(module.name), access.wrap(module), core, logger);
  }
  // Cluster mode: a plain WebSocket protocol's rooms reach the other nodes through the cluster adapter
  // of a socket.io namespace of the same name, which no socket.io client may join: its messages are
  // read from the cluster stream like any room's, its notices (hub.announce) go out through it.
  if (cluster) {
    for (const module of wsModules) {
      const nsp = io.of(module.ns);
      nsp.use((_socket, next) => next(notANamespace(new Error(`${module.ns} is a plain WebSocket endpoint`), { data: { code: 'NOT_FOUND', message: `${module.ns} is a plain WebSocket endpoint, not a socket.io namespace` } })));
      new SocketIoGroup(nsp, core, logger);
    }
    // Presence notices (lib/core/presence-notices.ts) go to their watchers' own namespace, which
    // the other nodes read from the cluster stream through a socket.io namespace of that name: no
    // socket.io client may join it, and no member group is attached (the hub holds the watchers).
    for (const name of core.notices.watchNamespaces()) {
      io.of(name).use((_socket, next) => next(notANamespace(new Error(`${name} is not a namespace`), { data: { code: 'NOT_FOUND', message: `${name} is not a namespace` } })));
    }
  }
  // Engine.IO v3 clients always join '/': answer anything sent there with UNKNOWN_EVENT too.
  if (!modules.some((m) => m.name === '/')) attachNamespace(io.of('/'), access.wrap({ name: '/', verbs: {} }), core, logger);
  access.install(io, core);
  // Slow consumers: a connection whose unsent bytes pass --max-send-buffer is closed.
  const stopSendLimit = limitSendBuffers(io, config.abuse.maxSendBuffer, logger, recording && (() => recording.slowConsumer()));
  // One info line per closed socket.io connection (lib/log/connection-close.ts): a listener shared
  // by every socket (the socket is `this`), no closure per connection.
  function socketClosed(this: AppSocket, reason: string): void {
    logClosed(logger, {
      protocol: 'socketio',
      namespace: this.nsp.name,
      transport: (this.conn as unknown as { transport?: { name: string } }).transport?.name ?? 'unknown',
      reason: socketIoReason(reason),
      openedAt: this.handshake.issued,
      user: this.data.auth?.user,
    });
  }
  for (const module of modules) io.of(module.name).on('connection', (socket) => socket.on('disconnect', socketClosed));
  // Connections accepted, and connection-state recoveries tried (a v4 client sends its session's pid).
  if (recording) {
    if (recovery || cluster) recording.addRecoveries();
    for (const module of modules) {
      io.of(module.name).on('connection', (socket) => {
        recording.connected(module.name, 'socketio');
        if (typeof (socket.handshake.auth as { pid?: unknown } | undefined)?.pid === 'string') recording.recovery(socket.recovered ? 'recovered' : 'failed');
      });
    }
  }
  // Auth on: small frames only until a namespace admitted the connection with credentials. Auth off:
  // small frames only for the connections of an address on probation for breaking the protocol.
  if (config.auth.mode !== 'none' || violations.enabled) {
    const client = (req: OpeningRequest): string => clientAddress(req, config.abuse.trustProxy);
    const preauth = limitPreauthFrames(io, config.abuse.preauthMaxFrame, logger, {
      ...(config.auth.mode === 'none' ? { startsSmall: (req: OpeningRequest) => violations.onProbation(client(req)) } : {}),
      // A frame over the small limit before authentication, or on probation, breaks the protocol too.
      oversize: (req) => violations.record(client(req)),
    });
    for (const nsp of io._nsps.values()) {
      nsp.on('connection', (socket) => {
        if (socket.data.auth) preauth.authenticated(socket.conn);
      });
    }
  }

  // Plain WebSocket endpoints on the same HTTP server: admitted like socket.io connections (origin,
  // connection rate, credentials), with the same frame, rate and send-buffer limits.
  const wsEndpoints: WsEndpoint[] = wsModules.map((module) =>
    createWsEndpoint(httpServer as http.Server, {
      path: module.path,
      socketIoPath: `${io.path()}/`,
      ownsUpgrades: owned,
      maxPayload: config.maxPayload,
      maxSendBuffer: config.abuse.maxSendBuffer,
      rates: { eventsPerSecond: config.abuse.eventsPerSecond, eventBurst: config.abuse.eventBurst, bytesPerSecond: config.abuse.bytesPerSecond, byteBurst: byteBurst(config.maxPayload) },
      pingIntervalMs: options.wsPingIntervalMs ?? WS_PING_INTERVAL_MS,
      logger,
      ...(violations.enabled ? { violation: (req: IncomingMessage) => violations.record(clientAddress(req, config.abuse.trustProxy)) } : {}),
      admit: async (req, query, pathTicket) => ({ principal: await access.admitUpgrade(req, query, pathTicket), query }),
      open: (conn, { principal, query }, req) => {
        recording?.connected(module.ns, 'sock');
        return module.open({ conn, principal, query, req, core, logger });
      },
      ...(recording ? { counts: recording } : {}),
      userOf: ({ principal }) => principal?.user,
    }),
  );

  presenceChanged = (kind, members) => {
    for (const { namespace, room, ids, names } of members) {
      const module = modules.find((m) => m.name === namespace);
      const hook = kind === 'lost' ? module?.onMembersLost : module?.onMembersBack;
      const wsModule = wsModules.find((m) => m.ns === namespace);
      const wsHook = kind === 'lost' ? wsModule?.onMembersLost : wsModule?.onMembersBack;
      // One room's failure must not lose the notices of the rooms after it.
      try {
        hook?.({ nsp: io.of(namespace), core }, room, ids, names);
        wsHook?.({ core }, room, ids);
      } catch (err) {
        logger.error('announcing presence changes failed', { nsp: namespace, kind, members: ids.length, err: (err as Error).message });
      }
    }
  };

  let closing: Promise<void> | undefined;
  const readiness = new Readiness();
  if (cluster) readiness.add(() => cluster.notReadyReason(), 'redis');
  if (store) readiness.add(() => store.notReadyReason(), 'store');
  // What every protocol says about its rooms over HTTP (POST /publish, GET /events).
  const protocols: HttpProtocol[] = [
    ...modules,
    ...wsModules.map((m) => ({ name: m.ns, httpMessage: m.httpMessage, sseEvent: m.sseEvent, storeFirst: m.storeFirst, displayName: m.displayName })),
  ];
  // Server-Sent Events streams of any namespace's rooms: admitted like a WebSocket upgrade.
  const sse = new SseStreams({
    core,
    protocols,
    admit: (req, query) => access.admitUpgrade(req, query, undefined),
    logger,
    pingMs: config.ssePingMs,
    maxSendBuffer: config.abuse.maxSendBuffer,
    isClosing: () => closing !== undefined,
    ...(recording ? { opened: (ns: string) => recording.connected(ns, 'sse') } : {}),
  });
  // POST /users/:user/disconnect: this node's connections of the user in each protocol, and the other nodes'.
  const disconnect = new UserDisconnect(
    io,
    (user, error) => {
      const closed = disconnectSocketIo(io, user, error) + sse.disconnectUser(user) + wsModules.reduce((n, m) => n + (m.disconnectUser?.(core, user, error) ?? 0), 0);
      if (recording && closed > 0) recording.errors.inc({ code: error.code }, closed);
      return closed;
    },
    blocks,
    cluster !== undefined,
    logger,
  );
  const metricsRoute = { metrics, ...(metricsConfig.public ? {} : { check: (req: IncomingMessage) => access.checkMetricsReader(req) }) };
  // The admin page: every node's figures gathered each second, the server API's reads and disconnect.
  const admin = createAdmin({ config, metrics, nodeId, readiness, cluster, logger, api: { core, protocols, disconnect, nodeId } });
  const httpHandler = createHttpHandler({
    sse,
    api: { disconnect, nodeId },
    more: admin.http,
    core,
    logger,
    readiness,
    access,
    namespaces: protocols,
    isClosing: () => closing !== undefined,
    ...(recording ? { metrics: metricsRoute, failed: (code: string) => recording.error(code) } : {}),
  });
  routes = httpHandler;
  if (recording) {
    recording.watch(
      liveState({
        io,
        hub: core,
        socketIoNamespaces: modules.map((m) => m.name),
        transports: config.transports,
        webSockets: wsEndpoints.map((endpoint, i) => ({ ns: wsModules[i]!.ns, count: () => endpoint.count })),
        sse,
        namespaces: protocols.map((p) => p.name),
        ready: () => closing === undefined && readiness.state().ready,
        ...(memoryHistory ? { history: () => ({ bytes: memoryHistory!.retainedBytes, messages: memoryHistory!.retainedMessages }) } : {}),
      }),
    );
    if (cluster) recording.addCluster({ redisUp: () => cluster.connection.healthy, nodes: () => cluster.presence.nodeCount });
  }
  // --metrics-port: GET /metrics alone on a listener of its own (same host), closed with the service.
  const metricsServer = recording && metricsConfig.port !== undefined ? createMetricsServer(metricsRoute, (code) => recording.error(code)) : undefined;
  let metricsAddress: AddressInfo | undefined;

  const address = (): AddressInfo => {
    const addr = httpServer.address();
    if (addr === null || typeof addr === 'string') throw new Error('service is not listening');
    return addr;
  };

  const close = async (): Promise<void> => {
    logger.info('closing', { connections: io.engine.clientsCount });
    // Every publication is answered before the connections close: new ones are refused with
    // SHUTTING_DOWN, those in flight (a store commit among them) finish first (lib/core/drain.ts).
    await core.drain.drain({ ...DEFAULT_DRAIN, maxMs: Math.min(DEFAULT_DRAIN.maxMs, config.shutdownTimeoutMs / 2) });
    await Promise.all(wsEndpoints.map((endpoint) => endpoint.close()));
    // SSE streams end properly (event: shutdown, then the response's last chunk) before the server closes.
    sse.close();
    if (owned) {
      const drain = setTimeout(() => httpServer.closeAllConnections(), HTTP_DRAIN_MS);
      drain.unref();
      await io.close();
      clearTimeout(drain);
    } else {
      // `local`: in a cluster, a plain disconnectSockets() would disconnect every node's clients.
      io.local.disconnectSockets(true);
      io.engine.close();
      const internal = cluster ? [...wsModules.map((m) => m.ns), ...core.notices.watchNamespaces()] : [];
      await Promise.allSettled(['/', ...modules.map((m) => m.name), ...internal].map((name) => io.of(name).adapter.close()));
    }
    if (metricsServer?.listening) await new Promise((resolve) => metricsServer.close(resolve));
    stopRetention();
    await core.close();
    stopSendLimit();
    await access.close();
    // Before Redis closes: this node's entry of the admin figures is removed.
    await admin.close();
    await cluster?.close();
    logger.info('closed');
  };

  if (cluster) {
    try {
      await cluster.start();
    } catch (err) {
      await admin.close();
      await cluster.close().catch(() => undefined);
      throw err;
    }
    // The blocks other nodes set before this one started.
    await blocks.load().catch((err: unknown) => logger.warn('could not read the user blocks from redis', { err: (err as Error).message }));
  }

  return {
    config,
    io,
    httpServer,
    core,
    logger,
    tls,
    cluster,
    readiness,
    httpHandler,
    metrics,
    admin,
    address,
    metricsAddress: () => metricsAddress,
    listen() {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          const addr = address();
          if (metricsServer) {
            listenOn(metricsServer, metricsConfig.port!, config.host).then(
              (addr) => {
                metricsAddress = addr;
                logger.info('metrics listening', { url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/metrics` });
                resolve(address());
              },
              (err: unknown) => {
                httpServer.close();
                reject(err as Error);
              },
            );
          }
          logger.info('listening', {
            url: openableUrl(addr, tls !== undefined),
            // What it is bound to (0.0.0.0: every interface), apart from the URL to open.
            address: addr.address,
            port: addr.port,
            transports: config.transports,
            namespaces: (options.namespaces ?? defaultNamespaces).map((m) => m.name),
            webSockets: wsModules.map((m) => m.path),
          });
          if (!metricsServer) resolve(addr);
        });
      });
    },
    close() {
      closing ??= close();
      return closing;
    },
  };
}
