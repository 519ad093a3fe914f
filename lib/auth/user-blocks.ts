/**
 * Users refused for a while (POST /users/:user/disconnect with `{"block": "10m"}`): their new
 * connections, streams and HTTP calls are refused with UNAUTHORIZED until the block runs out.
 *
 * Every node checks its memory, synchronously, on each admission. The node that blocks tells the
 * others (lib/auth/user-disconnect.ts); in cluster mode it also writes `P:blocked:<user>` with the
 * block as its TTL, which a node that starts later reads at start (load()).
 */
import { AuthError } from './principal.js';
import { globEscape } from '../cluster/glob.js';
import type { RedisConnection } from '../cluster/redis-connection.js';

/** Beyond this many blocks in memory, run-out ones are dropped on the next block. */
const PRUNE_AT = 10_000;
/** At most this many keys are read at start: bounded work whatever Redis holds. */
const MAX_LOADED = 100_000;

export class UserBlocks {
  /** user -> when its block runs out (ms since 1970). */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly redis?: { connection: RedisConnection; prefix: string },
  ) {}

  /** Throws UNAUTHORIZED while `user` is blocked. */
  check(user: string): void {
    const until = this.until.get(user);
    if (until === undefined) return;
    const left = until - this.now();
    if (left <= 0) {
      this.until.delete(user);
      return;
    }
    throw new AuthError('UNAUTHORIZED', `this user is blocked for another ${Math.ceil(left / 1000)} s`, undefined, 'blocked');
  }

  /** Blocks `user` for `ms` on this node (another node's block, or this node's own). */
  note(user: string, ms: number): void {
    if (this.until.size >= PRUNE_AT) {
      const now = this.now();
      for (const [u, until] of this.until) if (until <= now) this.until.delete(u);
    }
    this.until.set(user, Math.max(this.until.get(user) ?? 0, this.now() + ms));
  }

  /** Blocks `user` for `ms` here and, in cluster mode, in Redis for the nodes that start later. */
  async block(user: string, ms: number): Promise<void> {
    this.note(user, ms);
    const redis = this.redis;
    if (redis) await redis.connection.run((c) => c.set(this.key(user), '1', { PX: ms }));
  }

  /** Cluster mode, at start: the blocks other nodes wrote and that still run. */
  async load(): Promise<void> {
    const redis = this.redis;
    if (!redis) return;
    const prefix = `${redis.prefix}:blocked:`;
    await redis.connection.run(async (c) => {
      let cursor = '0';
      let seen = 0;
      do {
        const reply = await c.scan(cursor, { MATCH: `${globEscape(prefix)}*`, COUNT: 1000 });
        cursor = String(reply.cursor);
        seen += reply.keys.length;
        const ttls = reply.keys.length ? await Promise.all(reply.keys.map((k) => c.pTTL(k))) : [];
        reply.keys.forEach((key, i) => {
          const ttl = Number(ttls[i]);
          if (ttl > 0) this.note(key.slice(prefix.length), ttl);
        });
      } while (cursor !== '0' && seen < MAX_LOADED);
    });
  }

  private key(user: string): string {
    return `${this.redis!.prefix}:blocked:${user}`;
  }
}
