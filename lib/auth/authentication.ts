/**
 * Credentials to principal: who a connection is. A connection presents the first of auth.token,
 * auth.ticket, query token= (WebSocket only), query ticket=, Authorization: Bearer; a token is
 * verified (JWT or introspection, lib/auth/jwt.ts, lib/auth/introspection.ts), a ticket redeemed
 * (lib/auth/tickets.ts). A credential is verified once per Engine.IO connection, so legacy
 * clients' implicit '/' and their namespace share one ticket. Used with auth on only.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/index.js';
import type { AppSocket } from '../core/app-socket.js';
import type { Logger } from '../log/logger.js';
import { bearerToken } from './api-keys.js';
import { createIntrospectionVerifier } from './introspection.js';
import { createJwtVerifier, type TokenVerifier } from './jwt.js';
import { principalFromClaims, unauthorized, type Principal } from './principal.js';
import { refuseQueryTokenOverPolling } from './query-token.js';
import type { Tickets } from './tickets.js';
import { connectionExpiry } from './token-lifetime.js';
import type { UserBlocks } from './user-blocks.js';

type Credential = { kind: 'token'; value: string; type?: string } | { kind: 'ticket'; value: string };

/** Verifications kept per connection: a connection trying many credentials gets no memory out of it. */
const MAX_CACHED_PER_CONNECTION = 8;

export class Authentication {
  private readonly verifier: TokenVerifier;
  /** Engine.IO connection -> credential -> its verification, shared by the connection's namespaces. */
  private readonly verified = new WeakMap<object, Map<string, Promise<Principal>>>();

  constructor(
    private readonly config: Pick<Config, 'auth' | 'limits'>,
    logger: Logger,
    private readonly tickets: Tickets,
    private readonly now: () => number,
    /** Users refused for a while (POST /users/:user/disconnect with a block). */
    private readonly blocks?: Pick<UserBlocks, 'check'>,
  ) {
    const auth = config.auth;
    if (auth.mode === 'jwt') this.verifier = createJwtVerifier(auth.jwt!, logger);
    else if (auth.mode === 'oauth') this.verifier = createIntrospectionVerifier(auth.oauth!, logger, now);
    else throw new Error('authentication needs --auth jwt or oauth');
  }

  /** The socket's principal, with its expiry; throws UNAUTHORIZED (an AuthError). */
  async authenticate(socket: AppSocket): Promise<Principal> {
    refuseQueryTokenOverPolling(socket.handshake.query);
    const credential = this.credential(socket);
    if (!credential) throw unauthorized('credentials required: auth.token, ?token=, ?ticket= or Authorization: Bearer', undefined, 'missing');
    let perConnection = this.verified.get(socket.conn);
    if (!perConnection) this.verified.set(socket.conn, (perConnection = new Map()));
    const key = `${credential.kind}:${credential.kind === 'token' ? (credential.type ?? '') : ''}:${credential.value}`;
    let pending = perConnection.get(key);
    if (!pending) {
      if (perConnection.size >= MAX_CACHED_PER_CONNECTION) perConnection.clear();
      pending = this.resolve(credential);
      pending.catch(() => {});
      perConnection.set(key, pending);
    }
    return this.withExpiry(await pending);
  }

  /**
   * A plain WebSocket upgrade's principal (/sock): the first of a ticket in the path (`pathTicket`),
   * `?ticket=`, `?token=` (with optional `?tokenType=`), Authorization: Bearer. Throws UNAUTHORIZED.
   */
  async authenticateUpgrade(query: URLSearchParams, headers: IncomingHttpHeaders, pathTicket: string | undefined): Promise<Principal> {
    const text = (v: string | null | undefined): string | undefined => (v ? v : undefined);
    const type = text(query.get('tokenType'));
    const ticket = text(pathTicket) ?? text(query.get('ticket'));
    const token = text(query.get('token')) ?? bearerToken(headers.authorization);
    let principal: Principal;
    if (ticket !== undefined) principal = await this.tickets.redeem(ticket);
    else if (token !== undefined) principal = await this.verifyToken(token, type);
    else throw unauthorized('credentials required: a ticket (/sock/<ticket> or ?ticket=), ?token= or Authorization: Bearer', undefined, 'missing');
    return this.withExpiry(principal);
  }

  /** A token (`tokenType` optional) to its principal, without expiry policy; throws UNAUTHORIZED. */
  async verifyToken(token: string, type: string | undefined): Promise<Principal> {
    const verifier = this.verifier;
    if (type !== undefined && type.toLowerCase() !== verifier.type) {
      throw unauthorized(`tokenType "${type.slice(0, 16)}" is not accepted here (${verifier.type})`);
    }
    const claims = await verifier.verify(token);
    return principalFromClaims(claims, this.config.auth.nameClaims, this.config.limits.maxNameLength);
  }

  /** The principal as a connection holds it: always with an expiry (lib/auth/token-lifetime.ts); refused while its user is blocked. */
  withExpiry(principal: Principal): Principal {
    const now = this.now();
    const exp = connectionExpiry(principal, this.config.auth, now);
    if (exp * 1000 <= now) throw unauthorized('token expired', undefined, 'expired');
    // Every admission passes here: a blocked user is refused whatever its credential.
    this.blocks?.check(principal.user);
    return { ...principal, exp };
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

  private async resolve(credential: Credential): Promise<Principal> {
    if (credential.kind === 'ticket') return this.tickets.redeem(credential.value);
    return this.verifyToken(credential.value, credential.type);
  }
}
