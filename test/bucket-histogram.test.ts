/**
 * lib/metrics/bucket-histogram.ts: the message path's histogram must expose exactly what
 * prom-client's own Histogram exposes for the same observations, in the text format and in JSON,
 * so a prom-client upgrade that changes how the registry reads metrics shows here.
 */
import { expect } from 'chai';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../lib/metrics/bucket-histogram.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const OBSERVED: [string, number][] = [
  ['/layout', 0.0005],
  ['/layout', 0.001],
  ['/layout', 0.05],
  ['/layout', 3],
  ['/bus', 0.2],
];

function both(): { ours: Registry; theirs: Registry; series: BucketHistogram } {
  const ours = new Registry();
  const theirs = new Registry();
  const series = new BucketHistogram({ name: 'h_seconds', help: 'h', labelName: 'namespace', buckets: BOUNDS, registry: ours });
  const reference = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['namespace'], buckets: BOUNDS, registers: [theirs] });
  for (const [ns, v] of OBSERVED) {
    series.labels(ns).observe(v);
    reference.observe({ namespace: ns }, v);
  }
  return { ours, theirs, series };
}

describe('bucket histogram (notify_publish_duration_seconds)', () => {
  it("exposes what prom-client's Histogram exposes for the same observations", async () => {
    const { ours, theirs } = both();
    expect(await ours.metrics()).to.equal(await theirs.metrics());
    // JSON (what the admin page's snapshots read): the same values; prom-client adds an empty exemplar.
    const values = async (r: Registry): Promise<unknown[]> => (await r.getMetricsAsJSON())[0]!.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName }));
    expect(await values(ours)).to.deep.equal(await values(theirs));
  });

  it('keeps one series per label value, made once, and resets with the registry', async () => {
    const { ours, series } = both();
    expect(series.labels('/layout')).to.equal(series.labels('/layout'));
    expect(series.labels('/layout').count).to.equal(4);
    ours.resetMetrics();
    expect(await ours.metrics()).not.to.include('h_seconds_count');
  });
});
