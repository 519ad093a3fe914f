/**
 * Abuse limits: new connections per client address and events per connection.
 *
 * Connections are counted with rate-limiter-flexible, whose store is pluggable: memory on one
 * node; in cluster mode a RateLimiterRedis on the same Redis makes the count cluster-wide without
 * touching the callers. Past the limit a connection is refused with RATE_LIMITED; past twice the
 * limit the handshake itself is refused (HTTP 403 from Engine.IO) before any socket.io work.
 *
 * Events and bytes are counted per connection (lib/abuse/packet-rates.ts, before a packet is parsed), a
 * state that lives on one node only, so a synchronous leaky bucket in the connection's own state
 * does it (no store round trip on the hot path; PacketRates in packet-rates.ts): each event adds 1 (each packet its bytes), the
 * bucket drains at the rate; above `burst` events are refused with RATE_LIMITED (and
 * still count), above twice `burst` the connection is cut. A client that keeps sending faster than
 * the rate is therefore cut in the end; one that bursts now and then only sees refusals.
 */
import type { IncomingMessage } from 'node:http';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { normalizeAddress, type AbuseLimits } from '../auth/config.js';

export type RateVerdict = 'ok' | 'limited' | 'cut';

/** The client's address: the socket peer, or the last X-Forwarded-For hop behind a trusted proxy. */
export function clientAddress(req: Pick<IncomingMessage, 'headers'> & { socket?: { remoteAddress?: string } }, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header[header.length - 1] : header;
    const last = value?.split(',').pop()?.trim();
    if (last) return normalizeAddress(last);
  }
  return normalizeAddress(req.socket?.remoteAddress ?? 'unknown');
}

export class ConnectionLimiter {
  private readonly limiter: RateLimiterAbstract | undefined;
  private readonly exempt: ReadonlySet<string>;

  constructor(
    private readonly limits: AbuseLimits,
    /** A cluster-wide limiter (e.g. RateLimiterRedis) with points = connectionsPerSecond, duration 1. */
    limiter?: RateLimiterAbstract,
  ) {
    this.exempt = new Set(limits.exempt.map(normalizeAddress));
    this.limiter =
      limits.connectionsPerSecond > 0
        ? (limiter ?? new RateLimiterMemory({ keyPrefix: 'conn', points: limits.connectionsPerSecond, duration: 1 }))
        : undefined;
  }

  /** At once (no promise) for an address that is not counted: the handshake goes on in the same turn. */
  check(address: string): RateVerdict | Promise<RateVerdict> {
    if (!this.limiter || this.exempt.has(address)) return 'ok';
    return this.counted(address, this.limiter);
  }

  private async counted(address: string, limiter: RateLimiterAbstract): Promise<RateVerdict> {
    let consumed: number;
    try {
      consumed = (await limiter.consume(address)).consumedPoints;
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) return 'ok'; // a store failure must not lock everyone out
      consumed = res.consumedPoints;
    }
    const points = this.limits.connectionsPerSecond;
    if (consumed <= points) return 'ok';
    return consumed <= 2 * points ? 'limited' : 'cut';
  }
}

/**
 * Cluster mode: one connection budget per address for the whole cluster, kept in Redis, so a
 * client cannot multiply its rate by the number of nodes. While Redis is unreachable each node
 * falls back to counting on its own (the insurance limiter) rather than letting everyone in.
 */
export function clusterConnectionLimiter(client: unknown, keyPrefix: string, perSecond: number): RateLimiterAbstract {
  return new RateLimiterRedis({
    storeClient: client,
    useRedisPackage: true,
    keyPrefix: `${keyPrefix}:conn-rate`,
    points: perSecond,
    duration: 1,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: 'conn', points: perSecond, duration: 1 }),
  });
}
