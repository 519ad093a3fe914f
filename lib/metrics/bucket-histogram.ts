/**
 * A Prometheus histogram for the message path: each series is a few plain numbers, observed with a
 * short scan of the bounds (no label lookup, hashing or allocation per call: prom-client's own
 * `observe` validates and hashes its labels every time, ~130 ms of an 11 s profile of 1000 rooms × 5).
 * The registry reads it through the public `get()` every prom-client metric has, as it reads its
 * own histograms; `test/metrics.test.ts` reads the exposition it gives.
 */
import type { Metric, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';

/** One series: observations per bucket (not cumulative; those over the last bound only in `count`), their sum and count. */
export class HistogramSeries {
  readonly perBucket: number[];
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.perBucket = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.perBucket[i]!++;
        return;
      }
    }
  }
}

export interface BucketHistogramOptions {
  name: string;
  help: string;
  /** The one label its series differ by (a bounded set of values). */
  labelName: string;
  /** Upper bounds, ascending. */
  buckets: readonly number[];
  registry: Registry;
}

export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  private readonly series = new Map<string, HistogramSeries>();

  constructor(private readonly options: BucketHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** The series of label value `value`, made once: the caller keeps it. */
  labels(value: string): HistogramSeries {
    let series = this.series.get(value);
    if (!series) this.series.set(value, (series = new HistogramSeries(this.options.buckets)));
    return series;
  }

  /** What the registry formats: cumulative `_bucket` values with `le`, then `_sum` and `_count`, per series. */
  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const { name, labelName, buckets } = this.options;
    const values: MetricValueWithName<string>[] = [];
    for (const [value, series] of this.series) {
      let cumulative = 0;
      buckets.forEach((bound, i) => {
        cumulative += series.perBucket[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le: bound, [labelName]: value }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', [labelName]: value }, value: series.count });
      values.push({ metricName: `${name}_sum`, labels: { [labelName]: value }, value: series.sum });
      values.push({ metricName: `${name}_count`, labels: { [labelName]: value }, value: series.count });
    }
    // prom-client's types declare `type` a numeric enum; its metrics give (and its registry prints) the name.
    const type = 'histogram' as unknown as MetricObjectWithValues<never>['type'];
    return { name, help: this.help, type, aggregator: 'sum', collect: () => undefined, values };
  }

  /** registry.resetMetrics(): every series back to zero. */
  reset(): void {
    this.series.clear();
  }
}
