/**
 * docs/METRICS.md lists exactly the service's notify_* metrics: those a node registers (single
 * node with a store and recovery on; cluster mode adds its two, checked by
 * test/metrics-cluster.test.ts) and no other.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { openMessageStore } from '../lib/storage/index.js';
import { CLUSTER_ONLY } from './helpers/metrics.js';
import { tempDir } from './helpers/process.js';
import { startService } from './helpers/service.js';

const DOC = readFileSync(new URL('../../docs/METRICS.md', import.meta.url), 'utf8');
/** The names in the first column of the metrics table. */
function documentedMetrics(): string[] {
  return [...DOC.matchAll(/^\| `(notify_[a-z_]+)` \|/gm)].map((m) => m[1]!).sort();
}

describe('docs/METRICS.md', () => {
  it("lists exactly the registry's notify_* metrics", async () => {
    const store = await openMessageStore({ kind: 'sqlite', dataDir: join(tempDir('ns-metrics-docs-'), 'data') });
    const svc = await startService({}, { store });
    try {
      const registered = (await svc.service.metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('notify_'));
      const documented = documentedMetrics();
      expect(documented.length).to.be.greaterThan(15);
      expect(documented.filter((n) => !CLUSTER_ONLY.includes(n))).to.deep.equal([...registered].sort());
      for (const name of CLUSTER_ONLY) expect(documented).to.include(name);
    } finally {
      await svc.close();
    }
  });
});
