/**
 * A connection's token runs out (auth on): at its `exp` the connection gets ERROR TOKEN_EXPIRED,
 * every verb is refused with TOKEN_EXPIRED, and it has --refresh-grace to send REFRESH {token}
 * (same user, new expiry and rights) before it is disconnected. `wrap` adds the verb guard and
 * REFRESH to a namespace module; `track` arms the timers of a new connection.
 */
import type { Config } from '../config/index.js';
import type { AppSocket } from '../core/app-socket.js';
import type { NamespaceModule, Verb } from '../core/dispatch.js';
import { ServiceError } from '../core/errors.js';
import { parseObject } from '../core/validate.js';
import type { Logger } from '../log/logger.js';
import { emitHere, socketsOnConnection } from '../transport/index.js';
import type { Authentication } from './authentication.js';

/** Per namespace socket: its timers. */
interface Timers {
  expiry?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
}

/** setTimeout's ceiling (about 24.8 days); longer tokens re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenExpiry {
  private readonly timers = new WeakMap<AppSocket, Timers>();

  constructor(
    private readonly config: Pick<Config, 'auth' | 'maxDepth'>,
    private readonly authentication: Pick<Authentication, 'verifyToken' | 'withExpiry'>,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** Told of each TOKEN_EXPIRED sent (the metrics). */
    private readonly expiredSent: () => void = () => undefined,
  ) {}

  /** A new connection: TOKEN_EXPIRED at its token's expiry. */
  track(socket: AppSocket): void {
    const timers: Timers = {};
    this.timers.set(socket, timers);
    this.arm(socket, timers);
    socket.once('disconnect', () => {
      clearTimeout(timers.expiry);
      clearTimeout(timers.grace);
    });
  }

  /** Every verb refused with TOKEN_EXPIRED once the token has expired, plus REFRESH. */
  wrap(module: NamespaceModule): NamespaceModule {
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

  /** Schedules TOKEN_EXPIRED at the token's `exp`. */
  private arm(socket: AppSocket, timers: Timers): void {
    clearTimeout(timers.expiry);
    clearTimeout(timers.grace);
    timers.expiry = timers.grace = undefined;
    const exp = socket.data.auth?.exp;
    if (exp === undefined || socket.disconnected) return;
    const ms = exp * 1000 - this.now();
    timers.expiry = setTimeout(() => this.expire(socket, timers), Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    timers.expiry.unref();
  }

  private expire(socket: AppSocket, timers: Timers): void {
    const auth = socket.data.auth;
    if (!auth || socket.disconnected) return;
    if (auth.exp !== undefined && auth.exp * 1000 > this.now()) {
      this.arm(socket, timers);
      return;
    }
    auth.expired = true;
    const grace = this.config.auth.refreshGraceMs;
    this.expiredSent();
    emitHere(socket, 'ERROR', {
      code: 'TOKEN_EXPIRED',
      message: `the token has expired: send REFRESH {token} within ${Math.round(grace / 100) / 10} s or be disconnected`,
      event: 'REFRESH',
    });
    timers.grace = setTimeout(() => {
      if (!socket.connected || !socket.data.auth?.expired) return;
      if (this.logger.isDebugEnabled()) this.logger.debug('token expired, not refreshed: disconnecting', { nsp: socket.nsp.name, socket: socket.id });
      socket.disconnect();
      // Close the Engine.IO connection too when nothing on it is still valid (a legacy client's
      // implicit '/' expires with its namespace).
      if (socketsOnConnection(socket).every((s) => s.data.auth?.expired === true)) socket.conn.close();
    }, grace);
    timers.grace.unref();
  }

  /** REFRESH {token}: same user, new expiry and rights. */
  private async refresh(socket: AppSocket, raw: unknown): Promise<Record<string, unknown>> {
    const payload = parseObject(raw, this.config);
    const token = payload.token;
    if (typeof token !== 'string' || token === '') throw new ServiceError('INVALID_PAYLOAD', 'REFRESH needs {token}');
    const type = typeof payload.tokenType === 'string' ? payload.tokenType : undefined;
    const principal = this.authentication.withExpiry(await this.authentication.verifyToken(token, type));
    const current = socket.data.auth;
    if (!current || current.user !== principal.user) throw new ServiceError('FORBIDDEN', 'the new token is for another user');
    socket.data.auth = { ...principal };
    const timers = this.timers.get(socket);
    if (timers) this.arm(socket, timers);
    return principal.exp === undefined ? {} : { exp: principal.exp };
  }
}
