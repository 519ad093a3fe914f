/**
 * The figures of every node, for the admin page. Each tick (every second) this node takes its own
 * snapshot (snapshot.ts); in cluster mode it writes it into one Redis hash (field: the node id,
 * value: the snapshot with its time) and reads the hash back in the same round trip. Entries older
 * than STALE_MS are left out (a node that stopped writing is gone or cut off), those older than
 * REMOVE_MS are deleted, and the hash itself expires when no node writes. A single node, or a node
 * cut off from Redis, shows its own figures only. Each tick also adds a sample to the rate ring.
 */
import type { Registry } from 'prom-client';
import type { RedisConnection } from '../cluster/redis-connection.js';
import type { ReadinessState } from '../http/readiness.js';
import type { Logger } from '../log/logger.js';
import { RateRing } from './rates.js';
import { takeSnapshot, type NodeSnapshot } from './snapshot.js';

export const TICK_MS = 1000;
/** A snapshot this old no longer counts. */
export const STALE_MS = 5000;
/** ... and this old is deleted (by whichever node reads it). */
export const REMOVE_MS = 60_000;

export interface ClusterStatsOptions {
  registry: Registry;
  nodeId: string;
  readiness: () => ReadinessState;
  logger: Logger;
  /** Cluster mode: where the snapshots of every node meet. */
  redis?: { connection: RedisConnection; prefix: string };
  tickMs?: number;
}

export interface ClusterView {
  /** This node first, then the others by id. */
  nodes: NodeSnapshot[];
  /** Cluster mode: whether the last exchange with Redis worked; `none` on a single node. */
  redis: 'up' | 'down' | 'none';
  self: string;
}

export class ClusterStats {
  readonly rates = new RateRing();
  private readonly startedAt = Date.now();
  private readonly key: string | undefined;
  private nodes: NodeSnapshot[] = [];
  private redisUp = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: ClusterStatsOptions) {
    this.key = options.redis ? `${options.redis.prefix}:admin:nodes` : undefined;
  }

  start(): void {
    if (this.timer || this.closed) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? TICK_MS);
    this.timer.unref();
  }

  view(): ClusterView {
    return { nodes: this.nodes, redis: this.key === undefined ? 'none' : this.redisUp ? 'up' : 'down', self: this.options.nodeId };
  }

  /** One exchange; a tick still running (a slow Redis) makes the next one wait its turn by skipping. */
  tick(): Promise<void> {
    this.running ??= this.exchange().finally(() => (this.running = undefined));
    return this.running;
  }

  private async exchange(): Promise<void> {
    const { registry, nodeId, readiness, logger } = this.options;
    let own: NodeSnapshot;
    try {
      own = await takeSnapshot(registry, nodeId, this.startedAt, readiness());
    } catch (err) {
      logger.warn('admin: could not read the metrics', { err: (err as Error).message });
      return;
    }
    const others = this.key === undefined ? [] : await this.share(own);
    this.nodes = [own, ...others.sort((a, b) => a.node.localeCompare(b.node))];
    this.rates.add(this.nodes, own.at);
  }

  /** Writes this node's snapshot, answers the other nodes' fresh ones (none when Redis fails). */
  private async share(own: NodeSnapshot): Promise<NodeSnapshot[]> {
    const { connection } = this.options.redis!;
    const key = this.key!;
    let entries: Record<string, string>;
    try {
      const replies = await connection.run((c) => c.multi().hSet(key, own.node, JSON.stringify(own)).pExpire(key, REMOVE_MS).hGetAll(key).exec());
      entries = replies[2] as unknown as Record<string, string>;
      this.redisUp = true;
    } catch {
      // Readiness and the Redis connection log the outage; the page shows it as `redis: down`.
      this.redisUp = false;
      return [];
    }
    const others: NodeSnapshot[] = [];
    const gone: string[] = [];
    for (const [node, text] of Object.entries(entries)) {
      if (node === own.node) continue;
      const snapshot = parse(text);
      const age = snapshot ? own.at - snapshot.at : Infinity;
      if (age > REMOVE_MS) gone.push(node);
      else if (snapshot && age <= STALE_MS) others.push(snapshot);
    }
    if (gone.length > 0) await connection.run((c) => c.hDel(key, gone)).catch(() => undefined);
    return others;
  }

  /** Stops the ticks and removes this node's entry, so the others stop showing it at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running;
    if (this.key !== undefined) await this.options.redis!.connection.run((c) => c.hDel(this.key!, this.options.nodeId)).catch(() => undefined);
  }
}

function parse(text: string): NodeSnapshot | undefined {
  try {
    const value = JSON.parse(text) as NodeSnapshot;
    return typeof value === 'object' && value !== null && typeof value.at === 'number' && typeof value.node === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
