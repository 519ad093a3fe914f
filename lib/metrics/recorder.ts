/**
 * What the message path records, per namespace: plain numbers that the registry turns into
 * prom-client values when scraped (lib/metrics/metrics.ts). A publication costs one increment and
 * one bucket increment (a short scan of the bounds), a delivery batch one addition: no label
 * lookup, no hashing, no allocation (prom-client's own `observe` showed in profiles).
 */
import type { Protocol, PublishSource } from '../core/types.js';

export type { PublishSource };

export const SOURCES: readonly PublishSource[] = ['socket', 'http', 'sock', 'chat'];
export const PROTOCOLS: readonly Protocol[] = ['socketio', 'sock', 'sse'];

/** notify_publish_duration_seconds' bucket bounds, in seconds. */
export const PUBLISH_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** The same in milliseconds, as the hub measures. */
const BOUNDS_MS = PUBLISH_BUCKETS.map((s) => s * 1000);

export class NamespaceRecorder {
  readonly published: Record<PublishSource, number> = { socket: 0, http: 0, sock: 0, chat: 0 };
  readonly delivered: Record<Protocol, number> = { socketio: 0, sock: 0, sse: 0 };
  /** Publications per duration bucket (not cumulative; those over the last bound only in `count`). */
  readonly buckets: number[] = PUBLISH_BUCKETS.map(() => 0);
  /** Sum of the durations, in seconds, and how many. */
  sum = 0;
  count = 0;

  /** One publication accepted and written to this node's members `ms` after it was accepted. */
  publication(source: PublishSource, ms: number): void {
    this.published[source]++;
    this.count++;
    this.sum += ms / 1000;
    const bounds = BOUNDS_MS;
    for (let i = 0; i < bounds.length; i++) {
      if (ms <= bounds[i]!) {
        this.buckets[i]!++;
        return;
      }
    }
  }
}
