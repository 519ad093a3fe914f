/**
 * The namespace middleware (every namespace, '/' included): a connection let through the
 * handshake over the connection rate is refused with RATE_LIMITED; with auth on, its credentials
 * become `socket.data.auth`. A refusal is a connect_error whose data is `{code, message}`.
 */
import type { AppNamespace, AppSocket } from '../core/app-socket.js';
import { ServiceError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { connectionRateError, type HandshakeGate } from '../abuse/handshake.js';
import { clientAddress } from '../abuse/rate-limits.js';
import type { Authentication } from './authentication.js';
import { AuthError } from './principal.js';
import { authFailureReason, type AccessMetrics } from './failure-reasons.js';

export class Admission {
  constructor(
    private readonly handshake: Pick<HandshakeGate, 'overRate'>,
    /** Absent with auth off. */
    private readonly authentication: Pick<Authentication, 'authenticate'> | undefined,
    private readonly logger: Logger,
    private readonly trustProxy: boolean,
    private readonly metrics?: AccessMetrics,
  ) {}

  install(nsp: AppNamespace): void {
    if (!this.authentication) {
      // Nothing to verify: only the connection-rate verdict of the handshake, synchronously.
      nsp.use((socket, next) => {
        if (this.handshake.overRate(socket.request)) next(this.refusal(socket, connectionRateError()));
        else next();
      });
      return;
    }
    nsp.use((socket, next) => {
      this.admit(socket).then(
        () => next(),
        (err: unknown) => next(this.refusal(socket, err)),
      );
    });
  }

  /** Rate verdict, then credentials. */
  private async admit(socket: AppSocket): Promise<void> {
    if (this.handshake.overRate(socket.request)) throw connectionRateError();
    const principal = await this.authentication!.authenticate(socket);
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
        address: clientAddress(socket.request, this.trustProxy),
      });
    }
    if (this.metrics) {
      if (code === 'RATE_LIMITED') this.metrics.limited('connections');
      else this.metrics.authFailure(authFailureReason(err));
      this.metrics.error(code);
    }
    const refusal = new Error(message) as Error & { data: { code: string; message: string } };
    refusal.data = { code, message };
    return refusal;
  }
}
