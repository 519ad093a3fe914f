/**
 * Who may connect, join and publish: the one object that applies authentication, per-room
 * authorization and abuse limits to the service. service.ts installs it; nothing else knows it.
 *
 * - Handshake (Engine.IO `allowRequest`, once per new connection): allowed origins, connections
 *   per client address.
 * - Namespace middleware (every namespace, '/' included): the credentials (auth.token, query
 *   token= over WebSocket only, ticket=, Authorization: Bearer) become `socket.data.auth`, or the
 *   connection is refused with a connect_error whose data is `{code, message}`. A credential is verified once per
 *   Engine.IO connection, so legacy clients' implicit '/' and their namespace share one ticket.
 * - The core asks `authorize()` before every JOIN and client publication (lib/core/pubsub.ts).
 * - Each namespace module is wrapped: every verb is refused once its token has expired
 *   (TOKEN_EXPIRED); REFRESH {token} is added. (Event and byte rates are checked before parsing,
 *   in the socket.io decoder: lib/abuse/packet-rates.ts.)
 * - HTTP: API keys for publishing, POST /ticket.
 * (The send-buffer limit is installed by lib/service.ts.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/index.js';
import type { NamespaceModule, Verb } from '../core/dispatch.js';
import { emitHere, socketsOnConnection } from '../transport/index.js';
import { ServiceError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { AppServer, AppSocket } from '../core/app-socket.js';
import type { AccessControl } from '../core/pubsub.js';
import type { Violations } from '../abuse/violations.js';
import { ConnectionLimiter, clientAddress } from '../abuse/rate-limits.js';
import { parseObject } from '../core/validate.js';
import { ApiKeys, bearerToken } from './api-keys.js';
import { Authorizer } from './authorizer.js';
import { isLoopbackHost } from './config.js';
import { createIntrospectionVerifier } from './introspection.js';
import { createJwtVerifier, type TokenVerifier } from './jwt.js';
import { AuthError, principalFromClaims, unauthorized, type Principal } from './principal.js';
import { refuseQueryTokenOverPolling } from './query-token.js';
import { allows, type Action } from './rights.js';
import { MemoryTicketStore, Tickets, type TicketStore } from './tickets.js';
import { connectionExpiry } from './token-lifetime.js';

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
}

type Credential = { kind: 'token'; value: string; type?: string } | { kind: 'ticket'; value: string };

/** Per namespace socket: what the verb guard reads on every event. */
interface Guard {
  expiry?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
}

const connectionRateError = (): AuthError => new AuthError('RATE_LIMITED', 'too many new connections from this address: retry later');

/** setTimeout's ceiling (about 24.8 days); longer tokens re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Access implements AccessControl {
  readonly mode: Config['auth']['mode'];
  private readonly verifier: TokenVerifier | undefined;
  private readonly tickets: Tickets | undefined;
  private readonly ownsTicketStore: boolean;
  private readonly ticketStore: TicketStore | undefined;
  private readonly authorizer: Authorizer | undefined;
  private readonly apiKeys: ApiKeys;
  private readonly connections: ConnectionLimiter;
  private readonly violations: Violations | undefined;
  private readonly now: () => number;
  /** Handshake requests past the per-address connection rate: refused at the namespace. */
  /**
   * Handshakes let through over the connection rate, refused at the namespace. Keyed by the
   * request's headers object: lib/transport/lean-connections.ts swaps the request itself for a smaller one after
   * the handshake but keeps its headers.
   */
  private readonly limitedRequests = new WeakSet<IncomingMessage['headers']>();
  /** Engine.IO connection -> credential -> its verification, shared by the connection's namespaces. */
  private readonly verified = new WeakMap<object, Map<string, Promise<Principal>>>();
  private readonly guards = new WeakMap<AppSocket, Guard>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    options: AccessOptions = {},
  ) {
    const auth = config.auth;
    this.mode = auth.mode;
    this.now = options.now ?? Date.now;
    if (auth.mode === 'jwt') this.verifier = createJwtVerifier(auth.jwt!, logger);
    else if (auth.mode === 'oauth') this.verifier = createIntrospectionVerifier(auth.oauth!, logger, this.now);
    this.ownsTicketStore = options.ticketStore === undefined;
    if (auth.mode !== 'none') {
      this.ticketStore = options.ticketStore ?? new MemoryTicketStore(this.now);
      this.tickets = new Tickets(this.ticketStore, auth.ticketTtlMs);
    }
    if (auth.authorize) this.authorizer = new Authorizer(auth.authorize, logger, this.now);
    this.apiKeys = new ApiKeys(auth.apiKeys);
    this.connections = new ConnectionLimiter(config.abuse, options.connectionLimiter);
    this.violations = options.violations;
  }

  /** Applies everything to a service's socket.io server; call after the namespaces are attached. */
  install(io: AppServer, core: { access?: AccessControl }): void {
    // With auth off everything is allowed: the core's publish path then makes no call at all.
    if (this.mode !== 'none') core.access = this;
    const { corsOrigin, abuse } = this.config;
    const origins = corsOrigin === '*' ? undefined : new Set(corsOrigin);
    if (origins || abuse.connectionsPerSecond > 0 || this.violations?.enabled) {
      io.engine.opts.allowRequest = (req, fn) => this.allowRequest(req, origins, fn);
    }
    for (const nsp of io._nsps.values()) {
      if (this.mode === 'none') {
        // Nothing to verify: only the connection-rate verdict of the handshake, synchronously.
        nsp.use((socket, next) => {
          if (this.limitedRequests.has(socket.request.headers)) next(this.refusal(socket, connectionRateError()));
          else next();
        });
        continue;
      }
      nsp.use((socket, next) => {
        this.admit(socket).then(
          () => next(),
          (err: unknown) => next(this.refusal(socket, err)),
        );
      });
      nsp.on('connection', (socket) => this.onConnection(socket));
    }

    if (this.mode === 'none' && !isLoopbackHost(this.config.host)) {
      this.logger.warn('authentication is off (--auth none) on a non-loopback address: anyone who can reach the port may join any room and publish');
    }
    if (this.mode !== 'none' && this.apiKeys.size === 0) {
      this.logger.warn('no --api-key given: HTTP publishing is refused');
    }
  }

  // ---- handshake ---------------------------------------------------------------------------

  private allowRequest(req: IncomingMessage, origins: Set<string> | undefined, fn: (err: string | null | undefined, ok: boolean) => void): void {
    const origin = req.headers.origin;
    // Browsers always send Origin on cross-site and WebSocket requests; other clients need none.
    if (origins && origin !== undefined && !origins.has(origin)) {
      if (this.logger.isDebugEnabled()) this.logger.debug('handshake refused: origin not allowed', { origin: origin.slice(0, 200) });
      fn('origin not allowed', false);
      return;
    }
    const address = clientAddress(req, this.config.abuse.trustProxy);
    if (this.violations?.blocked(address)) {
      if (this.logger.isDebugEnabled()) this.logger.debug('handshake refused: too many protocol violations', { address });
      fn('RATE_LIMITED', false);
      return;
    }
    this.connections.check(address).then((verdict) => {
      if (verdict === 'cut') {
        if (this.logger.isDebugEnabled()) this.logger.debug('handshake refused: connection rate', { address });
        fn('RATE_LIMITED', false);
        return;
      }
      if (verdict === 'limited') this.limitedRequests.add(req.headers);
      fn(null, true);
    }, () => fn(null, true));
  }

  /** Namespace middleware: rate verdict, then credentials. */
  private async admit(socket: AppSocket): Promise<void> {
    if (this.limitedRequests.has(socket.request.headers)) throw connectionRateError();
    if (this.mode === 'none') return;
    const principal = await this.authenticate(socket);
    socket.data.auth = { ...principal };
  }

  private refusal(socket: AppSocket, err: unknown): Error {
    const known = err instanceof ServiceError;
    const code = known ? err.code : 'UNAUTHORIZED';
    const message = known ? err.message : 'cannot verify the credentials now';
    if (!known) this.logger.error('authentication failed unexpectedly', { nsp: socket.nsp.name, err });
    else if (this.logger.isDebugEnabled()) {
      this.logger.debug('connection refused', {
        nsp: socket.nsp.name,
        code,
        reason: err instanceof AuthError && err.reason ? err.reason : message,
        address: clientAddress(socket.request, this.config.abuse.trustProxy),
      });
    }
    const refusal = new Error(message) as Error & { data: { code: string; message: string } };
    refusal.data = { code, message };
    return refusal;
  }

  /** The first credential found: auth.token, auth.ticket, query token, query ticket, Bearer header. */
  private credential(socket: AppSocket): Credential | undefined {
    const { auth, query, headers } = socket.handshake;
    const a = (auth ?? {}) as Record<string, unknown>;
    const text = (v: unknown): string | undefined =>
      typeof v === 'string' && v !== '' ? v : Array.isArray(v) && typeof v[0] === 'string' && v[0] !== '' ? v[0] : undefined;
    const type = text(a.tokenType) ?? text(query.tokenType);
    const token = text(a.token) ?? (text(a.ticket) === undefined ? text(query.token) : undefined);
    if (token !== undefined) return { kind: 'token', value: token, ...(type === undefined ? {} : { type }) };
    const ticket = text(a.ticket) ?? text(query.ticket);
    if (ticket !== undefined) return { kind: 'ticket', value: ticket };
    const bearer = bearerToken(headers.authorization);
    if (bearer !== undefined) return { kind: 'token', value: bearer, ...(type === undefined ? {} : { type }) };
    return undefined;
  }

  private async authenticate(socket: AppSocket): Promise<Principal> {
    refuseQueryTokenOverPolling(socket.handshake.query);
    const credential = this.credential(socket);
    if (!credential) throw unauthorized('credentials required: auth.token, ?token=, ?ticket= or Authorization: Bearer');
    let perConnection = this.verified.get(socket.conn);
    if (!perConnection) this.verified.set(socket.conn, (perConnection = new Map()));
    const key = `${credential.kind}:${credential.kind === 'token' ? (credential.type ?? '') : ''}:${credential.value}`;
    let pending = perConnection.get(key);
    if (!pending) {
      // A connection trying many credentials gets no memory out of it.
      if (perConnection.size >= 8) perConnection.clear();
      pending = this.resolve(credential);
      pending.catch(() => {});
      perConnection.set(key, pending);
    }
    return this.withExpiry(await pending);
  }

  /** The principal as a connection holds it: always with an expiry (lib/auth/token-lifetime.ts). */
  private withExpiry(principal: Principal): Principal {
    const now = this.now();
    const exp = connectionExpiry(principal, this.config.auth, now);
    if (exp * 1000 <= now) throw unauthorized('token expired');
    return { ...principal, exp };
  }

  private async resolve(credential: Credential): Promise<Principal> {
    if (credential.kind === 'ticket') return this.tickets!.redeem(credential.value);
    return this.verifyToken(credential.value, credential.type);
  }

  private async verifyToken(token: string, type: string | undefined): Promise<Principal> {
    const verifier = this.verifier!;
    if (type !== undefined && type.toLowerCase() !== verifier.type) {
      throw unauthorized(`tokenType "${type.slice(0, 16)}" is not accepted here (${verifier.type})`);
    }
    const claims = await verifier.verify(token);
    return principalFromClaims(claims, this.config.auth.nameClaims, this.config.limits.maxNameLength);
  }

  // ---- connections and verbs ---------------------------------------------------------------

  /** Auth on: TOKEN_EXPIRED at the token's expiry. */
  private onConnection(socket: AppSocket): void {
    const guard: Guard = {};
    this.guards.set(socket, guard);
    this.arm(socket, guard);
    socket.once('disconnect', () => {
      clearTimeout(guard.expiry);
      clearTimeout(guard.grace);
    });
  }

  /** Schedules TOKEN_EXPIRED at the token's `exp`. */
  private arm(socket: AppSocket, guard: Guard): void {
    clearTimeout(guard.expiry);
    clearTimeout(guard.grace);
    guard.expiry = guard.grace = undefined;
    const exp = socket.data.auth?.exp;
    if (exp === undefined || socket.disconnected) return;
    const ms = exp * 1000 - this.now();
    guard.expiry = setTimeout(() => this.expire(socket, guard), Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    guard.expiry.unref();
  }

  private expire(socket: AppSocket, guard: Guard): void {
    const auth = socket.data.auth;
    if (!auth || socket.disconnected) return;
    if (auth.exp !== undefined && auth.exp * 1000 > this.now()) {
      this.arm(socket, guard);
      return;
    }
    auth.expired = true;
    const grace = this.config.auth.refreshGraceMs;
    emitHere(socket, 'ERROR', {
      code: 'TOKEN_EXPIRED',
      message: `the token has expired: send REFRESH {token} within ${Math.round(grace / 100) / 10} s or be disconnected`,
      event: 'REFRESH',
    });
    guard.grace = setTimeout(() => {
      if (!socket.connected || !socket.data.auth?.expired) return;
      if (this.logger.isDebugEnabled()) this.logger.debug('token expired, not refreshed: disconnecting', { nsp: socket.nsp.name, socket: socket.id });
      socket.disconnect();
      // Close the Engine.IO connection too when nothing on it is still valid (a legacy client's
      // implicit '/' expires with its namespace).
      if (socketsOnConnection(socket).every((s) => s.data.auth?.expired === true)) socket.conn.close();
    }, grace);
    guard.grace.unref();
  }

  /** REFRESH {token}: same user, new expiry and rights. */
  private async refresh(socket: AppSocket, raw: unknown): Promise<Record<string, unknown>> {
    const payload = parseObject(raw, this.config);
    const token = payload.token;
    if (typeof token !== 'string' || token === '') throw new ServiceError('INVALID_PAYLOAD', 'REFRESH needs {token}');
    const type = typeof payload.tokenType === 'string' ? payload.tokenType : undefined;
    const principal = this.withExpiry(await this.verifyToken(token, type));
    const current = socket.data.auth;
    if (!current || current.user !== principal.user) throw new ServiceError('FORBIDDEN', 'the new token is for another user');
    socket.data.auth = { ...principal };
    const guard = this.guards.get(socket);
    if (guard) this.arm(socket, guard);
    return principal.exp === undefined ? {} : { exp: principal.exp };
  }

  /** Auth on: every verb refused with TOKEN_EXPIRED once the token has expired, plus REFRESH. */
  wrap(module: NamespaceModule): NamespaceModule {
    // Event and byte rates are the decoder's (lib/abuse/packet-rates.ts); what is left is only for auth.
    if (this.mode === 'none') return module;
    const verbs: Record<string, Verb> = {};
    for (const [event, verb] of Object.entries(module.verbs)) {
      verbs[event] = (ctx, args, acked) => {
        if (ctx.socket.data.auth?.expired) throw new ServiceError('TOKEN_EXPIRED');
        return verb(ctx, args, acked);
      };
    }
    if (!('REFRESH' in verbs)) verbs.REFRESH = (ctx, args) => this.refresh(ctx.socket, args[0]);
    return { ...module, verbs };
  }

  /**
   * The core's question before a JOIN (subscribe) or a client publication (publish). Synchronous
   * when the answer is known (claims, a cached --authorize-url answer); a promise only when the
   * backend must be asked. Throws FORBIDDEN.
   */
  authorize(socket: AppSocket, action: Action, room: string): void | Promise<void> {
    const auth = socket.data.auth;
    if (!auth) {
      if (this.mode === 'none') return;
      throw new ServiceError('FORBIDDEN', 'this connection is not authenticated');
    }
    if (!allows(auth.rooms, action, room)) {
      throw new ServiceError('FORBIDDEN', `no ${action} right for room "${room.slice(0, 64)}"`);
    }
    if (!this.authorizer) return;
    const question = { user: auth.user, namespace: socket.nsp.name, room, action };
    const cached = this.authorizer.cached(question);
    if (cached === true) return;
    if (cached === false) throw new ServiceError('FORBIDDEN', `${action} of room "${room.slice(0, 64)}" denied`);
    return this.authorizer.ask(question).then((verdict) => {
      if (verdict === 'allow') return;
      throw new ServiceError(
        'FORBIDDEN',
        verdict === 'deny' ? `${action} of room "${room.slice(0, 64)}" denied` : 'the authorization service did not answer: denied',
      );
    });
  }

  // ---- HTTP --------------------------------------------------------------------------------

  /** Before an HTTP publication: an API key whenever auth is on or keys are configured. */
  checkPublisher(req: IncomingMessage): void {
    if (this.mode === 'none' && this.apiKeys.size === 0) return;
    try {
      this.apiKeys.check(req);
    } catch (err) {
      req.resume(); // drain the body, so the refusal can be read
      throw err;
    }
  }

  /**
   * POST /ticket with `Authorization: Bearer <token>`: `{ticket, expiresIn}`. Answers CORS
   * preflights for the allowed origins, since browsers call it from the application's origin.
   */
  async ticketRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.tickets) throw new ServiceError('NOT_FOUND', 'tickets need --auth jwt or oauth');
    const origin = req.headers.origin;
    const { corsOrigin } = this.config;
    if (origin !== undefined && (corsOrigin === '*' || corsOrigin.includes(origin))) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (req.method !== 'POST') throw new ServiceError('METHOD_NOT_ALLOWED');
    req.resume(); // the body is not used
    // Each request may cost a verification (an introspection call): counted like a connection.
    if ((await this.connections.check(clientAddress(req, this.config.abuse.trustProxy))) !== 'ok') {
      throw new ServiceError('RATE_LIMITED', 'too many requests from this address: retry later');
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) throw unauthorized('Authorization: Bearer <token> required');
    const principal = await this.verifyToken(token, undefined);
    this.withExpiry(principal); // refused here as at connect; a token without exp starts its lifetime when redeemed
    const ticket = await this.tickets.issue(principal);
    const body = JSON.stringify({ ticket, expiresIn: Math.round(this.tickets.ttlMs / 1000) });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  async close(): Promise<void> {
    if (this.ownsTicketStore) await this.ticketStore?.close();
  }
}
