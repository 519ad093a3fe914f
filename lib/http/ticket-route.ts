/**
 * POST /ticket with `Authorization: Bearer <token>`: `{ticket, expiresIn}`, a one-time connection
 * ticket (lib/auth/tickets.ts) for browsers that should not put a token in a URL. Answers CORS
 * preflights for the allowed origins, since browsers call it from the application's origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/index.js';
import { ServiceError } from '../core/errors.js';
import { clientAddress, type ConnectionLimiter } from '../abuse/rate-limits.js';
import { bearerToken } from '../auth/api-keys.js';
import type { Authentication } from '../auth/authentication.js';
import { unauthorized } from '../auth/principal.js';
import type { Tickets } from '../auth/tickets.js';

export class TicketRoute {
  constructor(
    private readonly config: Pick<Config, 'corsOrigin' | 'abuse'>,
    private readonly tickets: Tickets,
    private readonly authentication: Pick<Authentication, 'verifyToken' | 'withExpiry'>,
    /** The per-address connection budget: each request may cost a verification, as a connection does. */
    private readonly connections: ConnectionLimiter,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    // An introspection call may be behind each request: counted like a connection.
    if ((await this.connections.check(clientAddress(req, this.config.abuse.trustProxy))) !== 'ok') {
      throw new ServiceError('RATE_LIMITED', 'too many requests from this address: retry later');
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) throw unauthorized('Authorization: Bearer <token> required');
    const principal = await this.authentication.verifyToken(token, undefined);
    this.authentication.withExpiry(principal); // refused here as at connect; a token without exp starts its lifetime when redeemed
    const ticket = await this.tickets.issue(principal);
    const body = JSON.stringify({ ticket, expiresIn: Math.round(this.tickets.ttlMs / 1000) });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }
}
