/**
 * The single-node broker: offsets and history from a memory history store, and every message
 * delivered on this node as it is published, in the same synchronous block (so a JOIN `since`
 * replay and the live messages after it cannot cross).
 */
import type { Envelope, MessageMeta, Position } from '../core/types.js';
import { attachMeta, type HistoryEntry, type HistoryStore, type Recovery, type RecoveryReader } from '../history/types.js';
import type { Broker, Deliver } from './types.js';

export class MemoryBroker implements Broker {
  private deliver: Deliver = () => undefined;

  constructor(private readonly history: HistoryStore) {}

  onDeliver(deliver: Deliver): void {
    this.deliver = deliver;
  }

  publish(ns: string, room: string, event: string, args: unknown[], except: string | undefined): MessageMeta {
    const meta = this.history.append(ns, room, event, args);
    attachMeta(event, args, meta);
    this.deliver({ ns, room, event, args, meta }, except, undefined);
    return meta;
  }

  announce(envelope: Envelope, except: string | undefined): void {
    this.deliver(envelope, except, undefined);
  }

  since(ns: string, room: string, since: Position): Recovery | Promise<RecoveryReader> {
    return this.history.since(ns, room, since);
  }

  page(ns: string, room: string, limit: number, before?: Position): HistoryEntry[] | Promise<HistoryEntry[]> {
    return this.history.page(ns, room, limit, before);
  }

  close(): void {
    this.history.close();
  }
}
