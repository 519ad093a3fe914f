/**
 * Cluster-mode metrics with two nodes on a private Redis: notify_cluster_nodes from the presence
 * heartbeats, notify_redis_up and notify_ready following Redis going away and coming back, and a
 * publication counted where it was published (publications, duration) and where it was delivered.
 */
import { expect } from 'chai';
import { clusterConfig } from '../lib/config/index.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { waitUntil } from './helpers/cluster.js';
import { CLUSTER_ONLY, scrape, type Scrape } from './helpers/metrics.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';
import { startService, type Running } from './helpers/service.js';

describe('metrics: cluster mode (2 nodes)', () => {
  let redis: RedisServer | undefined;
  let nodes: Running[] = [];
  const prefix = uniquePrefix('metrics');
  before(async function () {
    requireRedisOrSkip(this, true);
    redis = await useRedis(true);
    const cluster = clusterConfig(redis.url, { keyPrefix: prefix, presenceTtlMs: 1500 });
    nodes = [await startService({ cluster }), await startService({ cluster })];
  });
  after(async () => {
    closeAll();
    await Promise.allSettled(nodes.map((n) => n.close()));
    if (redis) await deletePrefix(redis.url, prefix).catch(() => undefined);
    await redis?.stop();
  });

  const scrapeUntil = async (node: Running, what: string, check: (s: Scrape) => boolean, ms = 10_000): Promise<Scrape> => {
    let last: Scrape | undefined;
    await waitUntil(what, async () => check((last = await scrape(node.url))), ms);
    return last!;
  };

  it('registers the cluster metrics, and each node sees both nodes', async () => {
    for (const node of nodes) {
      const s = await scrapeUntil(node, 'two nodes seen', (x) => x.get('notify_cluster_nodes') === 2);
      expect(s.get('notify_redis_up')).to.equal(1);
      expect(s.get('notify_ready')).to.equal(1);
      expect(s.value('notify_recoveries_total', { result: 'failed' })).to.equal(0);
      for (const name of CLUSTER_ONLY) expect(s.all(name), name).to.have.length(1);
      // Room history lives in Redis: no memory history gauges.
      expect(s.all('notify_history_bytes')).to.deep.equal([]);
    }
  });

  it('counts a publication on the node it was published on, its deliveries where its members are', async () => {
    const [a, b] = nodes as [Running, Running];
    const member = await connect('v4', b.url, '/layout');
    expect(await request(member, 'JOIN', { room: 'across', name: 'm' })).to.include({ ok: true });
    const publisher = await connect('v4', a.url, '/layout');
    const [beforeA, beforeB] = await Promise.all([scrape(a.url), scrape(b.url)]);
    const got = next(member, 'EVENT');
    expect(await request(publisher, 'NOTIFY', { room: 'across', message: 1 })).to.include({ ok: true, recipients: 1 });
    await got;
    // Its duration ends when node A has read it back from the cluster stream and written it here.
    const afterA = await scrapeUntil(a, 'the publication timed on node A', (s) => s.value('notify_publish_duration_seconds_count', { namespace: '/layout' }) > beforeA.value('notify_publish_duration_seconds_count', { namespace: '/layout' }));
    const afterB = await scrape(b.url);
    const layout = { namespace: '/layout' };
    const moved = (before: Scrape, after: Scrape, name: string, labels: Record<string, string>): number => after.value(name, labels) - before.value(name, labels);
    expect(moved(beforeA, afterA, 'notify_messages_published_total', { ...layout, source: 'socket' })).to.equal(1);
    expect(moved(beforeB, afterB, 'notify_messages_published_total', { ...layout, source: 'socket' })).to.equal(0);
    expect(moved(beforeA, afterA, 'notify_publish_duration_seconds_count', layout)).to.equal(1);
    expect(moved(beforeB, afterB, 'notify_deliveries_total', { ...layout, protocol: 'socketio' })).to.equal(1);
    expect(moved(beforeA, afterA, 'notify_deliveries_total', { ...layout, protocol: 'socketio' })).to.equal(0);
    expect(afterB.value('notify_rooms', layout)).to.equal(1);
  });

  it('notify_redis_up and notify_ready drop to 0 while Redis is away, and come back', async () => {
    const [a] = nodes as [Running];
    await redis!.kill();
    const down = await scrapeUntil(a, 'redis down', (s) => s.get('notify_redis_up') === 0);
    expect(down.get('notify_ready')).to.equal(0);
    await redis!.restart();
    const up = await scrapeUntil(a, 'redis back', (s) => s.get('notify_redis_up') === 1 && s.get('notify_ready') === 1, 15_000);
    expect(up.get('notify_cluster_nodes')).to.be.at.least(1);
  });
});
