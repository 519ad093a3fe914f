/**
 * The one Redis connection of a cluster node (official `redis` client) and its health.
 *
 * - Reconnects forever with a capped back-off (≤ 2 s plus jitter), so a node recovers by itself
 *   within a few seconds of Redis coming back.
 * - Healthy means: the socket is ready and the last probe (PING every `probeIntervalMs`, answered
 *   within `probeTimeoutMs`) succeeded. A closed connection is noticed at once; a silent one (a
 *   network partition) by the probe.
 * - Logs a transition once ("redis unreachable", "redis connection restored"), never one line per
 *   failed reconnect attempt.
 * - Knows the helper connections the adapter duplicates from it, so close() can end them at once
 *   (the adapter would otherwise keep its blocking stream reader for up to its block time).
 */
import { EventEmitter } from 'node:events';
import { createClient, type RedisClientType } from 'redis';
import { redactUrl } from '../config/index.js';
import type { Logger } from '../log/logger.js';

export type RedisClient = RedisClientType;

export interface RedisConnectionOptions {
  url: string;
  logger: Logger;
  /** How often the health probe runs. Default 2000 ms. */
  probeIntervalMs?: number;
  /** A probe slower than this counts as a failure. Default 2000 ms. */
  probeTimeoutMs?: number;
}

/** Reconnect delay: 50 ms doubling up to 2 s, plus up to 200 ms of jitter; never gives up. */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 200);
}

export interface RedisConnectionEvents {
  /** Healthy again after being unhealthy (or for the first time). */
  up: [];
  /** No longer healthy. */
  down: [reason: string];
}

export class RedisConnection extends EventEmitter<RedisConnectionEvents> {
  readonly client: RedisClient;
  /**
   * The same connection without the client's queue timeout, for run(). The `redis` client gives
   * every command an `AbortSignal.timeout` (5 s by default) that only covers the time it waits to
   * be written. The signal's timer cannot be cleared: it fires 5 s later whether or not the command
   * is done and makes a TimeoutError with its stack for each (a few per cent of a cluster node's
   * CPU, one command per connect and close). run() never queues (it refuses unless the socket is
   * ready) and has its own deadline, so it goes without. The adapter's own commands, which can
   * wait in the offline queue, keep it: it bounds that queue.
   */
  private readonly unqueued: RedisClient;
  private readonly helpers = new Set<RedisClient>();
  private readonly logger: Logger;
  private readonly url: string;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeOk = false;
  private wasHealthy = false;
  /** Whether "unreachable" was logged since the last time it was healthy (one line per outage). */
  private reportedDown = false;
  private closed = false;

  constructor(options: RedisConnectionOptions) {
    super();
    this.logger = options.logger;
    this.url = redactUrl(options.url);
    this.probeIntervalMs = options.probeIntervalMs ?? 2000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    this.client = createClient({
      url: options.url,
      socket: { reconnectStrategy: reconnectDelay, connectTimeout: 5000 },
    }) as RedisClient;
    this.unqueued = this.client.withCommandOptions({ timeout: 0 }) as unknown as RedisClient;
    this.trackDuplicates(this.client);
    this.client.on('error', (err: Error) => this.onError(err));
    this.client.on('ready', () => void this.probe());
    this.client.on('end', () => this.update('connection closed'));
    // Also from the reconnect loop: the socket closed.
    this.client.on('reconnecting', () => this.update('reconnecting'));
  }

  /** Connects in the background; resolves once healthy or after `waitMs`, whichever comes first. */
  async start(waitMs: number): Promise<void> {
    this.client.connect().catch((err: unknown) => {
      // Only close() makes connect() fail (the reconnect strategy never gives up).
      if (!this.closed) this.logger.error('redis client stopped', { err: (err as Error).message });
    });
    this.probeTimer = setInterval(() => void this.probe(), this.probeIntervalMs);
    this.probeTimer.unref();
    if (this.healthy) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.off('up', done);
        this.logger.warn('redis not reachable yet: serving this node only until it is', { redis: this.url, waitedMs: waitMs });
        resolve();
      }, waitMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('up', done);
    });
  }

  /** Ready socket and a recent successful probe. */
  get healthy(): boolean {
    return !this.closed && this.client.isReady && this.probeOk;
  }

  /** Runs `op` with a deadline; rejects when the connection is not ready (nothing is queued then). */
  async run<T>(op: (client: RedisClient) => Promise<T>, timeoutMs = this.probeTimeoutMs): Promise<T> {
    if (this.closed || !this.client.isReady) throw new Error('redis not connected');
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        op(this.unqueued),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`redis did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the helper connections, then the main one after its pending commands. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.probeTimer);
    for (const helper of this.helpers) helper.destroy();
    this.helpers.clear();
    if (this.client.isOpen) {
      await Promise.race([this.client.close(), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    this.client.destroy();
  }

  private async probe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.run((c) => c.ping());
      this.probeOk = true;
    } catch (err) {
      this.probeOk = false;
      if (this.client.isReady && !this.reportedDown) this.logger.debug('redis probe failed', { err: (err as Error).message });
    }
    this.update('probe failed');
  }

  private onError(err: Error): void {
    // Every failed reconnect attempt emits one: report the outage once, the rest at debug.
    if (!this.reportedDown && !this.closed) {
      this.logger.warn('redis unreachable: serving this node only, readiness is 503 until it is back', { redis: this.url, err: err.message });
      this.reportedDown = true;
    } else if (this.logger.isDebugEnabled()) {
      this.logger.debug('redis error', { err: err.message });
    }
    this.update(err.message);
  }

  private update(reason: string): void {
    const healthy = this.healthy;
    if (healthy === this.wasHealthy) return;
    this.wasHealthy = healthy;
    if (healthy) {
      if (this.reportedDown) this.logger.warn('redis connection restored', { redis: this.url });
      else this.logger.info('connected to redis', { redis: this.url });
      this.reportedDown = false;
      this.emit('up');
    } else if (!this.closed) {
      if (!this.reportedDown) {
        this.logger.warn('redis unreachable: serving this node only, readiness is 503 until it is back', { redis: this.url, reason });
        this.reportedDown = true;
      }
      this.emit('down', reason);
    }
  }

  /**
   * The adapter makes its reader and subscriber connections with `duplicate()`. Each duplicate is
   * remembered so close() can destroy it, and its connect() never rejects because of that
   * destroy: the adapter does not catch it, and an unhandled rejection would end the process.
   */
  private trackDuplicates(client: RedisClient): void {
    const duplicate = client.duplicate.bind(client);
    (client as { duplicate: typeof duplicate }).duplicate = ((...args: Parameters<typeof duplicate>) => {
      const helper = duplicate(...args) as unknown as RedisClient;
      this.helpers.add(helper);
      const connect = helper.connect.bind(helper);
      (helper as { connect: typeof connect }).connect = () =>
        connect().catch((err: unknown) => {
          if (this.closed) return new Promise<never>(() => undefined);
          throw err;
        });
      // The adapter's stream reader calls XREAD again as soon as one fails; on a destroyed
      // client that fails at once, forever. After close() it waits instead (and is collected).
      const xRead = helper.xRead.bind(helper);
      (helper as { xRead: typeof xRead }).xRead = ((...args: Parameters<typeof xRead>) =>
        this.closed ? new Promise<never>(() => undefined) : xRead(...args)) as typeof xRead;
      return helper;
    }) as typeof duplicate;
  }
}

