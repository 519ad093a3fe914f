/**
 * Tickets shared by every node of a cluster: a ticket issued by one node can be redeemed on any
 * other, exactly once. Redis does both atomic steps (SET NX PX, GETDEL) and the expiry.
 */
import type { RedisClient } from '../cluster/redis-connection.js';
import type { TicketStore } from './tickets.js';

export class RedisTicketStore implements TicketStore {
  constructor(
    private readonly client: RedisClient,
    /** the cluster's key prefix, e.g. 'notify' */
    private readonly prefix: string,
  ) {}

  async put(id: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(`${this.prefix}:${id}`, value, { NX: true, PX: ttlMs })) === 'OK';
  }

  async take(id: string): Promise<string | undefined> {
    const value = await this.client.getDel(`${this.prefix}:${id}`);
    return typeof value === 'string' ? value : undefined;
  }

  /** The connection belongs to the cluster, which closes it. */
  async close(): Promise<void> {}
}
