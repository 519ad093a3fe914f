/**
 * What the message path records, per namespace: plain numbers that the registry turns into
 * prom-client values when scraped (lib/metrics/metrics.ts). A publication costs one increment and
 * one observation of the namespace's bound histogram series (about 0.7 µs: prom-client's public
 * API, no label lookup), a delivery batch one addition.
 */
import type { Protocol, PublishSource } from '../core/types.js';

export type { PublishSource };

export const SOURCES: readonly PublishSource[] = ['socket', 'http', 'sock', 'chat'];
export const PROTOCOLS: readonly Protocol[] = ['socketio', 'sock', 'sse'];

/** notify_publish_duration_seconds' bucket bounds, in seconds. */
export const PUBLISH_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export class NamespaceRecorder {
  readonly published: Record<PublishSource, number> = { socket: 0, http: 0, sock: 0, chat: 0 };
  readonly delivered: Record<Protocol, number> = { socketio: 0, sock: 0, sse: 0 };

  /** `observe`: the namespace's notify_publish_duration_seconds series, bound once (no label lookup per call). */
  constructor(private readonly observe: (seconds: number) => void) {}

  /**
   * One publication accepted and, with `ms`, written to this node's members `ms` after it was
   * accepted (cluster mode times it apart: `took`, lib/metrics/streamed-publications.ts).
   */
  publication(source: PublishSource, ms?: number): void {
    this.published[source]++;
    if (ms !== undefined) this.observe(ms / 1000);
  }

  /** A publication's duration, from accepted to its last local member written. */
  took(ms: number): void {
    this.observe(ms / 1000);
  }
}
