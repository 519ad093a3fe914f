/**
 * Numbers: a mergeable latency histogram (workers fill one each, the coordinator adds them up) and
 * the median [min-max] summaries the report prints.
 */

/** Log-scale buckets, 1% wide, from 1 µs to ~60 s: fixed memory however many samples, 1% precision. */
const GROWTH = Math.log(1.01);
export const HISTOGRAM_BUCKETS = 1800;

export class LatencyHistogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(HISTOGRAM_BUCKETS);
  }

  add(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(HISTOGRAM_BUCKETS - 1, Math.ceil(Math.log(us) / GROWTH));
    this.counts[i]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  merge(other: { counts: Float64Array; count: number; max: number }): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    if (other.max > this.max) this.max = other.max;
  }

  /** The q-quantile in ms (upper edge of its bucket, so never optimistic by more than 1%). */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.exp(i * GROWTH) / 1000);
    }
    return this.max;
  }
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const v = values.filter(Number.isFinite);
  return { median: median(v), min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN, n: v.length };
}

/** Per-round ratios value/baseline (rounds where either is missing are skipped). */
export function ratios(values: readonly number[], baseline: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const a = values[i];
    const b = baseline[i];
    if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0) out.push(a / b);
  }
  return out;
}
