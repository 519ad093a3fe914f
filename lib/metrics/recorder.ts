/**
 * What the message path records, per namespace: plain numbers that the registry turns into
 * prom-client values when scraped (lib/metrics/metrics.ts), so a publication costs one increment,
 * a delivery batch one addition and a publication's duration one histogram observation, with no
 * label lookup (the histogram's child is bound once, here).
 */
import type { Protocol, PublishSource } from '../core/types.js';

export type { PublishSource };

export const SOURCES: readonly PublishSource[] = ['socket', 'http', 'sock', 'chat'];
export const PROTOCOLS: readonly Protocol[] = ['socketio', 'sock', 'sse'];

export class NamespaceRecorder {
  readonly published: Record<PublishSource, number> = { socket: 0, http: 0, sock: 0, chat: 0 };
  readonly delivered: Record<Protocol, number> = { socketio: 0, sock: 0, sse: 0 };

  constructor(private readonly duration: { observe(seconds: number): void }) {}

  /** One publication accepted and written to this node's members `ms` after it was accepted. */
  publication(source: PublishSource, ms: number): void {
    this.published[source]++;
    this.duration.observe(ms / 1000);
  }
}
