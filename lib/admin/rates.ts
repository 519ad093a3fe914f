/**
 * Publish and delivery rates of the whole cluster over the last minutes, for the page's chart: one
 * sample per tick in a ring of fixed size, so the chart has data as soon as the page opens and
 * memory stays bounded. A rate is the sum over nodes of each node's counter increase since the
 * previous sample: a node that appears counts from its second sample, one that goes (or restarts,
 * its counters back at zero) never makes a rate negative.
 */
import type { NodeSnapshot } from './snapshot.js';

export interface RateSeries {
  /** Sample times, seconds since the epoch (uPlot's x values), oldest first. */
  t: number[];
  /** Messages per second accepted for publication, and written to members. */
  published: number[];
  deliveries: number[];
}

/** Five minutes of one-second samples. */
export const RATE_SAMPLES = 300;

export class RateRing {
  private readonly t: Float64Array;
  private readonly published: Float64Array;
  private readonly deliveries: Float64Array;
  private head = 0;
  private size = 0;
  private last: { at: number; counters: Map<string, { published: number; deliveries: number }> } | undefined;

  constructor(readonly capacity = RATE_SAMPLES) {
    this.t = new Float64Array(capacity);
    this.published = new Float64Array(capacity);
    this.deliveries = new Float64Array(capacity);
  }

  /** A sample from the nodes' latest snapshots, read at `at` (ms). */
  add(nodes: readonly NodeSnapshot[], at: number): void {
    const counters = new Map(nodes.map((n) => [`${n.node}@${n.startedAt}`, { published: n.published, deliveries: n.deliveries }]));
    const previous = this.last;
    this.last = { at, counters };
    if (!previous || at <= previous.at) return;
    let published = 0;
    let deliveries = 0;
    for (const [key, now] of counters) {
      const before = previous.counters.get(key);
      if (!before) continue;
      published += Math.max(0, now.published - before.published);
      deliveries += Math.max(0, now.deliveries - before.deliveries);
    }
    const seconds = (at - previous.at) / 1000;
    this.push(at / 1000, published / seconds, deliveries / seconds);
  }

  private push(t: number, published: number, deliveries: number): void {
    const i = (this.head + this.size) % this.capacity;
    this.t[i] = t;
    this.published[i] = published;
    this.deliveries[i] = deliveries;
    if (this.size < this.capacity) this.size++;
    else this.head = (this.head + 1) % this.capacity;
  }

  series(): RateSeries {
    const out: RateSeries = { t: [], published: [], deliveries: [] };
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) % this.capacity;
      out.t.push(this.t[i]!);
      out.published.push(Math.round(this.published[i]! * 100) / 100);
      out.deliveries.push(Math.round(this.deliveries[i]! * 100) / 100);
    }
    return out;
  }
}
