/**
 * One-time connection tickets (POST /ticket), for browsers that should not put a long-lived token
 * in a URL: a verified token is exchanged for `connectionId:authCode`, valid once for a short time.
 *
 * The store only needs two atomic operations, so that tickets work across nodes: `put` is Redis
 * `SET key value NX PX ttl`, `take` is `GETDEL key` (expiry is Redis's). The store keeps the
 * principal (identity and rights, not the token) and a SHA-256 of the auth code, compared in
 * constant time; a forged code still consumes the ticket, so a guess never gets a second try.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { principalFromJson, unauthorized, type Principal } from './principal.js';

export interface TicketStore {
  /** Stores `value` under `id` for `ttlMs` unless `id` exists (SET NX PX); false when it did. */
  put(id: string, value: string, ttlMs: number): Promise<boolean>;
  /** Removes and returns the value (GETDEL); undefined when absent or expired. */
  take(id: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** The single-node store; `now` is injectable so tests can expire tickets without waiting. */
export class MemoryTicketStore implements TicketStore {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  async put(id: string, value: string, ttlMs: number): Promise<boolean> {
    const existing = this.entries.get(id);
    if (existing && existing.expiresAt > this.now()) return false;
    this.entries.set(id, { value, expiresAt: this.now() + ttlMs });
    return true;
  }

  async take(id: string): Promise<string | undefined> {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    return entry.expiresAt > this.now() ? entry.value : undefined;
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, entry] of this.entries) if (entry.expiresAt <= t) this.entries.delete(id);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }
}

const digest = (code: string): Buffer => createHash('sha256').update(code).digest();
const TICKET = /^([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]{43})$/;
const KEY_PREFIX = 'ticket:';

export class Tickets {
  constructor(
    private readonly store: TicketStore,
    readonly ttlMs: number,
  ) {}

  /** A new ticket for `principal`, as `connectionId:authCode`. */
  async issue(principal: Principal): Promise<string> {
    for (;;) {
      const id = randomBytes(16).toString('base64url');
      const code = randomBytes(32).toString('base64url');
      const value = JSON.stringify({ code: digest(code).toString('base64'), principal });
      if (await this.store.put(KEY_PREFIX + id, value, this.ttlMs)) return `${id}:${code}`;
    }
  }

  /** Consumes a ticket: the principal it was issued for, or UNAUTHORIZED (unknown, used, expired or forged). */
  async redeem(ticket: string): Promise<Principal> {
    const m = TICKET.exec(ticket);
    if (!m) throw unauthorized('invalid ticket', 'malformed ticket');
    const stored = await this.store.take(KEY_PREFIX + m[1]!);
    if (stored === undefined) throw unauthorized('invalid ticket', 'unknown, used or expired ticket');
    let parsed: { code?: unknown; principal?: unknown };
    try {
      parsed = JSON.parse(stored) as typeof parsed;
    } catch {
      throw unauthorized('invalid ticket', 'unreadable ticket');
    }
    const expected = typeof parsed.code === 'string' ? Buffer.from(parsed.code, 'base64') : Buffer.alloc(0);
    const given = digest(m[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw unauthorized('invalid ticket', 'wrong auth code');
    const principal = principalFromJson(parsed.principal);
    if (!principal) throw unauthorized('invalid ticket', 'unreadable ticket');
    return principal;
  }
}
