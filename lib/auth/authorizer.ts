/**
 * The optional backend check (--authorize-url): for a JOIN or a publication the service POSTs
 * `{user, namespace, room, action}` and the backend answers `{"allow": true}` or `{"allow": false}`
 * (401/403 count as a denial). Answers are cached per question for `cacheTtlMs`; concurrent
 * questions share one request. A timeout, a network error or any other answer denies and is not
 * cached (fail closed).
 */
import type { Logger } from '../log/logger.js';
import type { AuthorizeUrlConfig } from './config.js';
import type { Action } from './rights.js';

export interface Question {
  user: string;
  namespace: string;
  room: string;
  action: Action;
}

export type Verdict = 'allow' | 'deny' | 'unavailable';

const MAX_ENTRIES = 50_000;

export class Authorizer {
  private readonly cache = new Map<string, { allow: boolean; until: number }>();
  private readonly inflight = new Map<string, Promise<Verdict>>();

  constructor(
    private readonly config: AuthorizeUrlConfig,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private static key(q: Question): string {
    return `${q.action}\u0000${q.namespace}\u0000${q.user}\u0000${q.room}`;
  }

  /** The cached answer, when there is a fresh one: lets the hot path stay synchronous. */
  cached(q: Question): boolean | undefined {
    const key = Authorizer.key(q);
    const hit = this.cache.get(key);
    if (!hit) return undefined;
    if (hit.until > this.now()) return hit.allow;
    this.cache.delete(key);
    return undefined;
  }

  ask(q: Question): Promise<Verdict> {
    const key = Authorizer.key(q);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.request(q).then((verdict) => {
        this.inflight.delete(key);
        if (verdict !== 'unavailable' && this.config.cacheTtlMs > 0) this.remember(key, verdict === 'allow');
        return verdict;
      });
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private remember(key: string, allow: boolean): void {
    if (this.cache.size >= MAX_ENTRIES) {
      for (const k of this.cache.keys()) {
        this.cache.delete(k);
        if (this.cache.size < MAX_ENTRIES * 0.9) break;
      }
    }
    this.cache.set(key, { allow, until: this.now() + this.config.cacheTtlMs });
  }

  private async request(q: Question): Promise<Verdict> {
    try {
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(q),
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        return 'deny';
      }
      if (!res.ok) {
        await res.body?.cancel();
        this.logger.warn('authorize-url failed', { status: res.status });
        return 'unavailable';
      }
      const body = (await res.json()) as { allow?: unknown } | null;
      if (body !== null && typeof body === 'object' && typeof body.allow === 'boolean') return body.allow ? 'allow' : 'deny';
      this.logger.warn('authorize-url answered without a boolean "allow"');
      return 'unavailable';
    } catch (err) {
      const name = (err as Error).name;
      this.logger.warn('authorize-url failed', { reason: name === 'TimeoutError' ? 'timeout' : (err as Error).message });
      return 'unavailable';
    }
  }
}
