/**
 * The admin page's figures across a cluster (three nodes on a Redis of their own): each node writes its
 * snapshot into one Redis hash every second, and either node's overview shows both, summed; a node
 * that closes leaves at once, a stale entry is ignored and an old one removed.
 */
import { expect } from 'chai';
import { REMOVE_MS, STALE_MS } from '../lib/admin/cluster-stats.js';
import { hsToken, secretAuth, withToken } from './helpers/auth.js';
import { ADMIN_PASSWORD, API_KEY, adminGet } from './helpers/admin.js';
import { connect, request } from './helpers/clients.js';
import { clusterNodesForSuite, closeClients, waitUntil } from './helpers/cluster.js';

const rooms = { subscribe: ['*'], publish: ['*'] };
const overview = async (url: string): Promise<any> => (await adminGet(`${url}/admin/api/overview`)).json;

describe('admin page on three nodes', () => {
  const nodes = clusterNodesForSuite('admin2', 3, { auth: secretAuth({ apiKeys: [API_KEY], adminPassword: ADMIN_PASSWORD }) });
  afterEach(closeClients);

  it("either node's overview lists every node, ready, itself first, with Redis up", async () => {
    const [a, b, c] = nodes();
    const ids = [a, b, c].map((n) => n!.service.cluster!.nodeId);
    for (const node of [a!, b!]) {
      await waitUntil('all three nodes listed', async () => (await overview(node.url)).nodes.length === 3);
      const o = await overview(node.url);
      expect(o.redis).to.equal('up');
      expect(o.nodes[0].node).to.equal(o.self).and.equal(node.service.cluster!.nodeId);
      expect(o.nodes.map((n: any) => n.node)).to.have.members(ids);
      for (const n of o.nodes) expect(n).to.include({ ready: true });
    }
  });

  it("connections are summed over the nodes, and a publication on one node moves the others' rate chart", async () => {
    const [a, b, c] = nodes();
    const token = await hsToken({ sub: 'eve', rooms });
    for (const node of [a!, b!, b!]) await request(await connect('v4', node.url, '/layout', withToken('v4', token)), 'JOIN', { room: 'admin-rates', name: 'Eve' });
    await waitUntil('three connections on the overview of the third node', async () => (await overview(c!.url)).totals.connections === 3);
    const o = await overview(c!.url);
    expect(o.totals.byKind).to.deep.equal([{ namespace: '/layout', protocol: 'socketio', transport: 'websocket', count: 3 }]);
    expect(o.totals.eio).to.deep.equal({ '4': 3 });
    expect(o.nodes.find((n: any) => n.node === b!.service.cluster!.nodeId).connections).to.equal(2);

    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${b!.url}/publish/layout/admin-rates`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).to.equal(200);
    }
    // Ten publications, each delivered to three members (on two nodes): seen from the third node.
    await waitUntil('the rates on the third node', async () => {
      const { rates, totals } = await overview(c!.url);
      return Math.max(...rates.published) > 0 && Math.max(...rates.deliveries) > 0 && totals.deliveries >= 30;
    });
  });

  it('rooms and members are the whole cluster\'s; a room of another node shows its members with their node', async () => {
    const [a, b] = nodes();
    const token = await hsToken({ sub: 'dee', rooms });
    const onB = await connect('v4', b!.url, '/layout', withToken('v4', token));
    await request(onB, 'JOIN', { room: 'admin-cluster-room', name: 'Dee' });
    const page = (await adminGet(`${a!.url}/admin/api/rooms?prefix=admin-cluster-`)).json;
    expect(page.rooms).to.deep.equal([{ namespace: 'layout', room: 'admin-cluster-room', members: 1 }]);
    const room = (await adminGet(`${a!.url}/admin/api/rooms/layout/admin-cluster-room`)).json;
    expect(room.members).to.have.length(1);
    expect(room.members[0]).to.include({ user: 'dee', node: b!.service.cluster!.nodeId });
  });

  it('a stale entry is left out and an old one removed; a node that closes leaves at once', async () => {
    const [a, , c] = nodes();
    const client = a!.service.cluster!.connection.client;
    const key = `${a!.service.config.cluster!.keyPrefix}:admin:nodes`;
    const fake = async (node: string, age: number): Promise<string> => JSON.stringify({ ...JSON.parse((await client.hGet(key, a!.service.cluster!.nodeId))!), node, at: Date.now() - age });
    await client.hSet(key, { stale: await fake('stale', STALE_MS + 1000), old: await fake('old', REMOVE_MS + 1000) });
    await waitUntil('the old entry removed', async () => (await client.hExists(key, 'old')) === 0);
    expect(await client.hExists(key, 'stale')).to.equal(1);
    expect((await overview(a!.url)).nodes.map((n: any) => n.node)).to.not.include('stale');
    await client.hDel(key, 'stale');

    await c!.close();
    expect(await client.hExists(key, c!.service.cluster!.nodeId)).to.equal(0);
    await waitUntil('two nodes listed', async () => (await overview(a!.url)).nodes.length === 2);
  });
});
