/**
 * The connection's token: a fixed one, or `getToken()` asked again before the current one
 * expires (at 80 % of its lifetime, read from its `exp` claim without verifying it: the client
 * cannot verify, the service does) and whenever the service says TOKEN_EXPIRED.
 */
export type TokenGetter = () => string | Promise<string>;

export interface TokenOptions {
  token?: string;
  getToken?: TokenGetter;
}

/** A JWT's `exp` (seconds), or undefined for anything that is not a JWT with one. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const exp = (JSON.parse(new TextDecoder().decode(bytes)) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** Share of a token's lifetime after which a new one is asked for. */
export const REFRESH_AT = 0.8;

export class TokenSource {
  private token: string | undefined;
  private pending: Promise<string> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  /** `onRenewed` is called with each token obtained by a scheduled or forced renewal. */
  constructor(
    private readonly options: TokenOptions,
    private readonly onRenewed: (token: string) => void,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.token = options.token;
  }

  get enabled(): boolean {
    return this.options.token !== undefined || this.options.getToken !== undefined;
  }

  get canRenew(): boolean {
    return this.options.getToken !== undefined;
  }

  /** The token to connect with: the current one while it is fresh, else a new one. */
  async current(): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    if (this.token !== undefined && !this.stale(this.token)) return this.token;
    if (!this.canRenew) return this.token;
    return this.fetch();
  }

  /** Asks for a new token now (TOKEN_EXPIRED, a refused reconnect) and passes it to onRenewed. */
  async renew(): Promise<string | undefined> {
    if (!this.canRenew) return undefined;
    const token = await this.fetch();
    this.onRenewed(token);
    return token;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private stale(token: string): boolean {
    const exp = tokenExpiry(token);
    return exp !== undefined && exp * 1000 <= this.now();
  }

  private fetch(): Promise<string> {
    this.pending ??= (async () => {
      try {
        const token = await this.options.getToken!();
        this.token = token;
        this.schedule(token);
        return token;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /** Renews at 80 % of the lifetime left when the token was obtained. */
  private schedule(token: string): void {
    clearTimeout(this.timer);
    const exp = tokenExpiry(token);
    if (exp === undefined || this.closed) return;
    const left = exp * 1000 - this.now();
    const delay = Math.min(Math.max(left * REFRESH_AT, 0), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.renew().catch(this.onError);
    }, delay);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Starts the schedule for a fixed first token given with getToken. */
  start(): void {
    if (this.token !== undefined && this.canRenew) this.schedule(this.token);
  }
}
