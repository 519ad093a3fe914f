/**
 * Abuse limits in cluster mode: the per-address connection budget is one for the whole cluster
 * (kept in Redis), so spreading connections over nodes does not multiply it.
 */
import { expect } from 'chai';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { refusal } from './helpers/auth.js';
import { closeAll, connect } from './helpers/clients.js';
import { clusterNodesForSuite } from './helpers/cluster.js';
import type { Running } from './helpers/service.js';

describe('cluster: connection rate shared by the nodes', function () {
  // Loopback is exempt by default; the tests connect from loopback.
  const nodes = clusterNodesForSuite('limits', 2, { abuse: { ...defaultAbuseLimits(), connectionsPerSecond: 3, exempt: [] } });
  afterEach(closeAll);

  it('counts connections to every node against one budget per address', async () => {
    const [a, b] = nodes() as [Running, Running];
    // 3 per second in all: two on A and one on B use it up (each node alone would allow 3).
    await Promise.all([connect('v4', a.url, '/layout'), connect('v4', a.url, '/layout'), connect('v4', b.url, '/layout')]);
    expect(await refusal('v4', b.url, '/layout')).to.deep.equal({ code: 'RATE_LIMITED', message: 'too many new connections from this address: retry later' });
  });
});
