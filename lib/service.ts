/**
 * createService(config) builds the whole service without listening: HTTP(S) server, socket.io
 * server, the pub/sub core and every namespace module. `listen()` starts it, `close()` stops it
 * (idempotent). Tests and embedders build it the same way as the CLI does.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { namespaces as defaultNamespaces } from '../namespaces/index.js';
import type { Config } from './config.js';
import { attachNamespace, type NamespaceModule } from './dispatch.js';
import { FanoutAdapter } from './fanout-adapter.js';
import { MemoryHistory } from './history/memory.js';
import type { HistoryStore } from './history/types.js';
import { createHttpHandler, type HttpHandler } from './http-routes.js';
import { installLegacyPollingFix } from './legacy-polling-utf8.js';
import { createLogger, type Logger } from './logger.js';
import { MemoryPresence, type PresenceStore } from './presence.js';
import { PubSub, ROOM_PREFIX, type AppServer } from './pubsub.js';
import { RecoveringFanoutAdapter } from './recovery.js';
import { keepRetention, openMessageStore, type MessageStore } from './storage/index.js';
import { loadTls, type TlsMaterial } from './tls.js';

export interface ServiceOptions {
  logger?: Logger;
  /** Attach to this server instead of creating one; its owner then listens and routes HTTP. */
  httpServer?: http.Server | https.Server;
  presence?: PresenceStore;
  namespaces?: readonly NamespaceModule[];
  /** [history] Instead of a MemoryHistory built from config.history (tests inject a clock this way). */
  history?: HistoryStore;
  /** [history] Instead of the store config.storage names; `null` for none. */
  store?: MessageStore | null;
}

export interface Service {
  readonly config: Config;
  readonly io: AppServer;
  readonly httpServer: http.Server | https.Server;
  readonly core: PubSub;
  readonly logger: Logger;
  readonly tls: TlsMaterial | undefined;
  /** The plain HTTP routes, for an embedder to mount in its own request handler. */
  readonly httpHandler: HttpHandler;
  listen(): Promise<AddressInfo>;
  /** The bound address, once listening. */
  address(): AddressInfo;
  /** Stops accepting, closes every client connection (clients see a transport close and reconnect elsewhere) and releases resources. */
  close(): Promise<void>;
}

/** How long in-flight HTTP requests (long-polling GETs among them) may take to finish on close. */
const HTTP_DRAIN_MS = 1000;

export async function createService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const tls = await loadTls(config.tls, logger);
  const owned = options.httpServer === undefined;
  const httpServer = options.httpServer ?? (tls ? https.createServer({ cert: tls.cert, key: tls.key }) : http.createServer());
  // Registered before socket.io attaches, so socket.io answers its own path and passes the rest on.
  let routes: HttpHandler | undefined;
  if (owned) httpServer.on('request', (req, res) => routes!(req, res));

  // [history] The durable store first: a store that cannot be opened stops the start, before listening.
  const store = options.store === undefined ? await openMessageStore(config.storage) : (options.store ?? undefined);
  if (store) logger.info('message store open', { store: store.description, retentionMs: config.retentionMs });
  const stopRetention = store ? keepRetention(store, config.retentionMs, logger) : () => undefined;
  const recovery = config.recoveryWindowMs > 0;

  const io: AppServer = new Server(httpServer, {
    transports: config.transports,
    // socket.io-client 1.x / 2.x speak Engine.IO v3.
    allowEIO3: true,
    // Beyond twice the message limit a frame is dropped with the connection; below it the
    // handlers answer PAYLOAD_TOO_LARGE, which a client can act on.
    maxHttpBufferSize: 2 * config.maxPayload + 64 * 1024,
    // Per-socket deflate costs far more CPU and memory than it saves on small notifications.
    perMessageDeflate: false,
    serveClient: false,
    // [history] Connection-state recovery for v4 clients; restored sockets pass the middlewares again.
    adapter: recovery ? RecoveringFanoutAdapter : FanoutAdapter,
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: config.recoveryWindowMs, skipMiddlewares: false } } : {}),
    // Reflecting the origin with credentials is what 1.x clients need (they always send
    // credentials); an explicit list restricts it.
    cors: { origin: config.corsOrigin === '*' ? true : config.corsOrigin, credentials: true },
  });
  installLegacyPollingFix(io, logger);

  // [history] A room's recent history is kept while it has members here.
  const history =
    options.history ??
    new MemoryHistory({ ...config.history, inUse: (ns, room) => io.of(ns).adapter.rooms.has(ROOM_PREFIX + room) });
  const core = new PubSub(
    { ...config.limits, maxPayload: config.maxPayload },
    options.presence ?? new MemoryPresence(),
    logger,
    { history, store },
  );
  const modules = options.namespaces ?? defaultNamespaces;
  for (const module of modules) {
    attachNamespace(io.of(module.name), module, core, logger);
  }
  // Engine.IO v3 clients always join '/': answer anything sent there with UNKNOWN_EVENT too.
  if (!modules.some((m) => m.name === '/')) attachNamespace(io.of('/'), { name: '/', verbs: {} }, core, logger);

  let closing: Promise<void> | undefined;
  const httpHandler = createHttpHandler({ io, core, logger, isClosing: () => closing !== undefined });
  routes = httpHandler;

  const address = (): AddressInfo => {
    const addr = httpServer.address();
    if (addr === null || typeof addr === 'string') throw new Error('service is not listening');
    return addr;
  };

  const close = async (): Promise<void> => {
    logger.info('closing', { connections: io.engine.clientsCount });
    if (owned) {
      const drain = setTimeout(() => httpServer.closeAllConnections(), HTTP_DRAIN_MS);
      drain.unref();
      await io.close();
      clearTimeout(drain);
    } else {
      io.disconnectSockets(true);
      io.engine.close();
    }
    stopRetention();
    await core.close();
    logger.info('closed');
  };

  return {
    config,
    io,
    httpServer,
    core,
    logger,
    tls,
    httpHandler,
    address,
    listen() {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          const addr = address();
          logger.info('listening', {
            url: `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
            transports: config.transports,
            namespaces: (options.namespaces ?? defaultNamespaces).map((m) => m.name),
          });
          resolve(addr);
        });
      });
    },
    close() {
      closing ??= close();
      return closing;
    },
  };
}
