/**
 * Who may connect, join and publish: wires authentication, authorization and the handshake's abuse
 * limits into the service. service.ts installs it; nothing else knows it. Each job is its own module:
 *
 * - Handshake (Engine.IO `allowRequest`): allowed origins, repeat offenders, connections per
 *   client address: lib/abuse/handshake.ts.
 * - Namespace middleware (every namespace, '/' included): the handshake's rate verdict, then the
 *   credentials become `socket.data.auth` (lib/auth/admission.ts, lib/auth/authentication.ts).
 * - Each namespace module is wrapped: every verb is refused once its token has expired
 *   (TOKEN_EXPIRED); REFRESH {token} is added (lib/auth/token-expiry.ts). (Event and byte rates
 *   are checked before parsing, in the socket.io decoder: lib/abuse/packet-rates.ts.)
 * - The core asks `authorize()` before every JOIN and client publication (lib/core/hub.ts);
 *   HTTP publishers need an API key (lib/auth/authorization.ts).
 * - POST /ticket: lib/http/ticket-route.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/index.js';
import type { NamespaceModule } from '../core/dispatch.js';
import { ServiceError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { AppServer } from '../core/app-socket.js';
import type { AccessControl } from '../core/hub.js';
import type { Publisher } from '../core/types.js';
import { HandshakeGate } from '../abuse/handshake.js';
import { ConnectionLimiter } from '../abuse/rate-limits.js';
import type { Violations } from '../abuse/violations.js';
import { TicketRoute } from '../http/ticket-route.js';
import { Admission } from './admission.js';
import { Authentication } from './authentication.js';
import { Authorization } from './authorization.js';
import { isLoopbackHost } from './config.js';
import type { Principal } from './principal.js';
import type { Action } from './rights.js';
import { MemoryTicketStore, Tickets, type TicketStore } from './tickets.js';
import { TokenExpiry } from './token-expiry.js';
import type { UserBlocks } from './user-blocks.js';
import { authFailureReason, type AccessMetrics } from './failure-reasons.js';

export interface AccessOptions {
  /** Shared by every node of a cluster (Redis); default: in memory, this node only. */
  ticketStore?: TicketStore;
  /**
   * Counts new connections per address across nodes (e.g. a RateLimiterRedis with points =
   * --conn-rate, duration 1); default: in memory, this node only.
   */
  connectionLimiter?: RateLimiterAbstract;
  /** Addresses whose connections keep breaking the protocol: their handshakes are refused. */
  violations?: Violations;
  /** Clock for caches and tickets (tests). */
  now?: () => number;
  /** Users refused for a while (lib/auth/user-blocks.ts); default: none is. */
  blocks?: UserBlocks;
  /** Told of refused credentials and connection rates (lib/metrics/metrics.ts). */
  metrics?: AccessMetrics;
}

/**
 * Who calls the server HTTP API: `key` with an API key (or when none is needed: auth off and no
 * keys configured), else a user's principal from its token.
 */
export type HttpCaller = { kind: 'key' } | { kind: 'user'; principal: Principal };

/** What exists only with auth on (--auth jwt or oauth). */
interface AuthOn {
  authentication: Authentication;
  expiry: TokenExpiry;
  tickets: TicketRoute;
  /** Closed with the service when the service made it. */
  ownTicketStore: TicketStore | undefined;
}

export class Access implements AccessControl {
  readonly mode: Config['auth']['mode'];
  private readonly authorization: Authorization;
  private readonly handshake: HandshakeGate;
  private readonly admission: Admission;
  private readonly on: AuthOn | undefined;
  private readonly metrics: AccessMetrics | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    options: AccessOptions = {},
  ) {
    const auth = config.auth;
    this.mode = auth.mode;
    const now = options.now ?? Date.now;
    this.metrics = options.metrics;
    const connections = new ConnectionLimiter(config.abuse, options.connectionLimiter);
    if (auth.mode !== 'none') {
      const ownTicketStore = options.ticketStore === undefined ? new MemoryTicketStore(now) : undefined;
      const tickets = new Tickets(options.ticketStore ?? ownTicketStore!, auth.ticketTtlMs);
      const authentication = new Authentication(config, logger, tickets, now, options.blocks);
      this.on = {
        authentication,
        expiry: new TokenExpiry(config, authentication, logger, now, options.metrics && (() => options.metrics!.error('TOKEN_EXPIRED'))),
        tickets: new TicketRoute(config, tickets, authentication, connections),
        ownTicketStore,
      };
    }
    this.authorization = new Authorization(auth, logger, now);
    this.handshake = new HandshakeGate(config, logger, connections, options.violations, options.metrics && (() => options.metrics!.limited('connections')));
    this.admission = new Admission(this.handshake, this.on?.authentication, logger, config.abuse.trustProxy, options.metrics);
  }

  /** Applies everything to a service's socket.io server; call after the namespaces are attached. */
  install(io: AppServer, core: { access?: AccessControl }): void {
    // With auth off everything is allowed: the core's publish path then makes no call at all.
    if (this.on) core.access = this.authorization;
    this.handshake.install(io);
    for (const nsp of io._nsps.values()) {
      this.admission.install(nsp);
      const expiry = this.on?.expiry;
      if (expiry) nsp.on('connection', (socket) => expiry.track(socket));
    }

    if (!this.on && !isLoopbackHost(this.config.host)) {
      this.logger.warn('authentication is off (--auth none) on a non-loopback address: anyone who can reach the port may join any room and publish');
    }
    if (this.on && this.authorization.apiKeyCount === 0) {
      this.logger.warn('no --api-key given: HTTP publishing is refused');
    }
  }

  /** Auth on: every verb refused with TOKEN_EXPIRED once the token has expired, plus REFRESH. */
  wrap(module: NamespaceModule): NamespaceModule {
    // Event and byte rates are the decoder's (lib/abuse/packet-rates.ts); what is left is only for auth.
    return this.on ? this.on.expiry.wrap(module) : module;
  }

  /**
   * Before a plain WebSocket handshake (/sock): origin and connection rate (lib/abuse/handshake.ts),
   * then, with auth on, the credentials (a ticket in the path or query, ?token=, Bearer). Resolves
   * with the principal (undefined with auth off); rejects with a ServiceError whose status the
   * upgrade is refused with (401, 403, 429).
   */
  async admitUpgrade(req: IncomingMessage, query: URLSearchParams, pathTicket: string | undefined): Promise<Principal | undefined> {
    await this.handshake.checkUpgrade(req);
    if (!this.on) return undefined;
    return this.counted(this.on.authentication.authenticateUpgrade(query, req.headers, pathTicket));
  }

  /** A refused authentication counted by its reason (`notify_auth_failures_total`). */
  private counted<T>(authenticated: Promise<T>): Promise<T> {
    const metrics = this.metrics;
    if (!metrics) return authenticated;
    return authenticated.catch((err: unknown) => {
      metrics.authFailure(authFailureReason(err));
      throw err;
    });
  }

  /** An API key refused (`notify_auth_failures_total{reason="api_key"}`). */
  private keyRefused(): void {
    this.metrics?.authFailure('api_key');
  }

  /** See Authorization.authorize: FORBIDDEN unless `who` may `action` `room`. */
  authorize(who: Publisher, action: Action, room: string): void | Promise<void> {
    return this.authorization.authorize(who, action, room);
  }

  /** Before an HTTP publication: an API key whenever auth is on or keys are configured. */
  checkPublisher(req: IncomingMessage): void {
    try {
      this.authorization.checkPublisher(req);
    } catch (err) {
      this.keyRefused();
      throw err;
    }
  }

  /**
   * GET /metrics: with auth on, an API key (Authorization: Bearer or X-API-Key); a user's token does
   * not open it. Throws UNAUTHORIZED. Open with auth off.
   */
  checkMetricsReader(req: IncomingMessage): void {
    if (!this.on) return;
    if (this.authorization.keyAccepted(req)) return;
    this.keyRefused();
    throw new ServiceError('UNAUTHORIZED', 'an API key is required for /metrics (Authorization: Bearer or X-API-Key)');
  }

  /**
   * The caller of a server API route (lib/http/api-routes.ts): an API key (Authorization: Bearer or
   * X-API-Key), else with auth on a user's token (Bearer, ?token=, a ?ticket=). Throws
   * UNAUTHORIZED for none or a bad one.
   */
  async httpCaller(req: IncomingMessage, query: URLSearchParams): Promise<HttpCaller> {
    if (this.authorization.keyAccepted(req)) return { kind: 'key' };
    if (!this.on) {
      this.keyRefused();
      throw new ServiceError('UNAUTHORIZED', 'an API key is required (Authorization: Bearer or X-API-Key)');
    }
    return { kind: 'user', principal: await this.counted(this.on.authentication.authenticateUpgrade(query, req.headers, undefined)) };
  }

  /** POST /ticket (lib/http/ticket-route.ts); NOT_FOUND with auth off. */
  async ticketRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.on) throw new ServiceError('NOT_FOUND', 'tickets need --auth jwt or oauth');
    await this.on.tickets.handle(req, res);
  }

  async close(): Promise<void> {
    await this.on?.ownTicketStore?.close();
  }
}
