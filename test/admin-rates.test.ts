/** The admin page's rate ring and cluster sums: bounded, per-node increases, never negative. */
import { expect } from 'chai';
import { aggregate } from '../lib/admin/aggregate.js';
import { RateRing } from '../lib/admin/rates.js';
import type { NodeSnapshot } from '../lib/admin/snapshot.js';

const node = (id: string, published: number, deliveries: number, extra: Partial<NodeSnapshot> = {}): NodeSnapshot => ({
  node: id, at: 0, startedAt: 1, ready: true, reasons: [], connections: [], eio: {}, rooms: {}, members: {},
  published, deliveries, errors: {}, slowConsumerDisconnects: 0, authFailures: 0, rateLimited: 0, memory: 0, lag: 0, ...extra,
});

describe('admin page: rates and sums', () => {
  it('a rate is the sum of each node\'s increase per second; a node that comes, goes or restarts never makes it negative', () => {
    const ring = new RateRing(10);
    ring.add([node('a', 10, 100)], 1000);
    ring.add([node('a', 20, 300), node('b', 50, 50)], 2000); // b new: counts from its next sample
    ring.add([node('a', 20, 300), node('b', 60, 70)], 4000); // two seconds
    ring.add([node('a', 0, 0, { startedAt: 2 }), node('b', 60, 70)], 5000); // a restarted: counters back at 0
    ring.add([node('b', 61, 71)], 6000);
    expect(ring.series()).to.deep.equal({ t: [2, 4, 5, 6], published: [10, 5, 0, 1], deliveries: [200, 10, 0, 1] });
  });

  it('keeps at most its capacity, the newest', () => {
    const ring = new RateRing(3);
    for (let i = 0; i <= 6; i++) ring.add([node('a', i * i, 0)], i * 1000);
    const { t, published } = ring.series();
    expect(t).to.deep.equal([4, 5, 6]);
    expect(published).to.deep.equal([7, 9, 11]);
  });

  it('sums connections by kind, client versions, memberships and errors over the nodes', () => {
    const totals = aggregate([
      node('a', 1, 2, { connections: [['/layout', 'socketio', 'websocket', 3], ['/sock', 'sock', 'websocket', 1]], eio: { '4': 3 }, errors: { FORBIDDEN: 2 }, slowConsumerDisconnects: 1 }),
      node('b', 3, 4, { connections: [['/layout', 'socketio', 'websocket', 2]], eio: { '3': 1, '4': 1 }, errors: { FORBIDDEN: 1, RATE_LIMITED: 5 }, members: { '/layout': 2 } }),
    ]);
    expect(totals).to.deep.include({ connections: 6, eio: { '3': 1, '4': 4 }, errors: { FORBIDDEN: 3, RATE_LIMITED: 5 }, members: { '/layout': 2 }, published: 4, deliveries: 6, slowConsumerDisconnects: 1 });
    expect(totals.byKind).to.deep.equal([
      { namespace: '/layout', protocol: 'socketio', transport: 'websocket', count: 5 },
      { namespace: '/sock', protocol: 'sock', transport: 'websocket', count: 1 },
    ]);
  });
});
