/**
 * Repeat offenders: a client address whose connections are closed for breaking the protocol (a
 * packet nested too deep, not JSON, too large, far over the rate limits) may not simply reconnect
 * and start over with fresh per-connection budgets:
 *  - probation: for a minute after a violation, its new connections may only send small frames
 *    (--preauth-max-frame; lib/transport/preauth-frames.ts refuses bigger ones from the frame header, before
 *    their body is read), so another 4 MB frame costs nothing to refuse;
 *  - past --violation-limit violations in a minute, its handshakes are refused for a minute.
 *
 * Exempt addresses (--rate-limit-exempt) are never penalised: behind a proxy that is not trusted
 * (--trust-proxy off) every client has the proxy's address. State per node, in memory, bounded:
 * at most MAX_ADDRESSES addresses are tracked, the oldest forgotten first.
 */
import type { AbuseLimits } from '../config/types.js';
import { normalizeAddress } from '../auth/config.js';

const WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

interface Record {
  /** Violations in the window, drained at `limit` per minute. */
  level: number;
  at: number;
  probationUntil: number;
  blockedUntil: number;
}

export class Violations {
  private readonly limit: number;
  private readonly exempt: ReadonlySet<string>;
  private readonly records = new Map<string, Record>();

  constructor(
    limits: Pick<AbuseLimits, 'violationsPerMinute' | 'exempt'>,
    private readonly now: () => number = Date.now,
  ) {
    this.limit = limits.violationsPerMinute;
    this.exempt = new Set(limits.exempt.map(normalizeAddress));
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** A connection from `address` was closed for breaking the protocol. */
  record(address: string | undefined): void {
    if (!this.enabled || address === undefined || this.exempt.has(address)) return;
    const t = this.now();
    let r = this.records.get(address);
    if (r) {
      this.records.delete(address); // re-inserted last: the map's order is least recently seen first
      r.level = Math.max(0, r.level - ((t - r.at) * this.limit) / WINDOW_MS) + 1;
      r.at = t;
    } else {
      if (this.records.size >= MAX_ADDRESSES) this.records.delete(this.records.keys().next().value!);
      r = { level: 1, at: t, probationUntil: 0, blockedUntil: 0 };
    }
    r.probationUntil = t + WINDOW_MS;
    if (r.level > this.limit) r.blockedUntil = t + WINDOW_MS;
    this.records.set(address, r);
  }

  /** New connections from `address` are refused now. */
  blocked(address: string): boolean {
    const r = this.records.get(address);
    return r !== undefined && this.now() < r.blockedUntil;
  }

  /** New connections from `address` may only send small frames now. */
  onProbation(address: string): boolean {
    const r = this.records.get(address);
    return r !== undefined && this.now() < r.probationUntil;
  }
}
