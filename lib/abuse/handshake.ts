/**
 * The Engine.IO handshake check (`allowRequest`, once per new connection, before any socket.io
 * work): allowed origins, addresses blocked for repeat protocol violations, new connections per
 * client address. Past the connection rate a handshake is still let through, marked, and refused
 * at the namespace with RATE_LIMITED (`overRate`, read by lib/auth/admission.ts); past twice the
 * rate, or blocked, the handshake itself is refused (HTTP 403).
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/index.js';
import type { AppServer } from '../core/app-socket.js';
import type { Logger } from '../log/logger.js';
import { AuthError } from '../auth/principal.js';
import { ServiceError } from '../core/errors.js';
import { clientAddress, type ConnectionLimiter, type RateVerdict } from './rate-limits.js';
import type { Violations } from './violations.js';

export const connectionRateError = (): AuthError => new AuthError('RATE_LIMITED', 'too many new connections from this address: retry later');

export class HandshakeGate {
  /**
   * Handshakes let through over the connection rate, refused at the namespace. Keyed by the
   * request's headers object: lib/transport/lean-connections.ts swaps the request itself for a smaller one after
   * the handshake but keeps its headers.
   */
  private readonly limitedRequests = new WeakSet<IncomingMessage['headers']>();

  constructor(
    private readonly config: Pick<Config, 'corsOrigin' | 'abuse'>,
    private readonly logger: Logger,
    private readonly connections: ConnectionLimiter,
    private readonly violations: Violations | undefined,
    /** Told of each refusal over the connection rate or of a blocked address (metrics). */
    private readonly limited: () => void = () => undefined,
  ) {}

  /** Sets Engine.IO's `allowRequest` when there is anything to check. */
  install(io: AppServer): void {
    const { corsOrigin, abuse } = this.config;
    const origins = corsOrigin === '*' ? undefined : new Set(corsOrigin);
    if (origins || abuse.connectionsPerSecond > 0 || this.violations?.enabled) {
      io.engine.opts.allowRequest = (req, fn) => this.allowRequest(req, origins, fn);
    }
  }

  /**
   * The same checks for a plain WebSocket upgrade (/sock), which has no namespace stage to refuse
   * at: origin not allowed → FORBIDDEN (403); blocked or over the connection rate → RATE_LIMITED (429).
   */
  async checkUpgrade(req: IncomingMessage): Promise<void> {
    const { corsOrigin, abuse } = this.config;
    const origin = req.headers.origin;
    if (corsOrigin !== '*' && origin !== undefined && !corsOrigin.includes(origin)) {
      throw new ServiceError('FORBIDDEN', 'origin not allowed');
    }
    const address = clientAddress(req, abuse.trustProxy);
    if (this.violations?.blocked(address)) {
      this.limited();
      throw connectionRateError();
    }
    if (abuse.connectionsPerSecond <= 0) return;
    const verdict = await Promise.resolve(this.connections.check(address)).catch(() => 'ok' as const);
    if (verdict !== 'ok') {
      this.limited();
      throw connectionRateError();
    }
  }

  /** This connection's handshake came over the connection rate: refuse it at the namespace. */
  overRate(request: Pick<IncomingMessage, 'headers'>): boolean {
    return this.limitedRequests.has(request.headers);
  }

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
      this.limited();
      fn('RATE_LIMITED', false);
      return;
    }
    const verdict = this.connections.check(address);
    if (verdict instanceof Promise) {
      verdict.then(
        (counted) => this.admit(req, address, counted, fn),
        () => fn(null, true),
      );
    } else {
      this.admit(req, address, verdict, fn);
    }
  }

  private admit(req: IncomingMessage, address: string, verdict: RateVerdict, fn: (err: string | null | undefined, ok: boolean) => void): void {
    if (verdict === 'cut') {
      if (this.logger.isDebugEnabled()) this.logger.debug('handshake refused: connection rate', { address });
      this.limited();
      fn('RATE_LIMITED', false);
      return;
    }
    if (verdict === 'limited') this.limitedRequests.add(req.headers);
    fn(null, true);
  }
}
