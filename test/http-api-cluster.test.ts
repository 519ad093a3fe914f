/**
 * The server HTTP API across three nodes on one Redis: presence and rooms list every node's
 * connections, and POST /users/:user/disconnect on one node closes the user's socket.io, /sock
 * and SSE connections on all three and keeps it out of every node, one started later included.
 */
import { expect } from 'chai';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { clusterNodesForSuite, startNodes, waitUntil } from './helpers/cluster.js';
import { hsToken, refusal, secretAuth, withToken } from './helpers/auth.js';
import { closeSockets, openSock } from './helpers/sock.js';
import { closeStreams, openSse } from './helpers/sse.js';

const KEY = { 'x-api-key': 'k' };
const auth = secretAuth({ apiKeys: ['k'] });
const rooms = { subscribe: ['*'], publish: ['*'] };

const get = async (url: string): Promise<any> => (await fetch(url, { headers: KEY })).json();

describe('server HTTP API on three nodes', () => {
  const nodes = clusterNodesForSuite('api3', 3, { auth });
  afterEach(() => {
    closeAll();
    closeSockets();
    closeStreams();
  });

  it("presence lists each node's connections with that node's id; /rooms counts them all", async () => {
    const [a, b, c] = nodes();
    const token = await hsToken({ sub: 'ann', rooms });
    const onA = await connect('v4', a!.url, '/layout', withToken('v4', token));
    await request(onA, 'JOIN', { room: 'cp', name: 'x' });
    const onB = await connect('v4', b!.url, '/layout', withToken('v4', token));
    await request(onB, 'JOIN', { room: 'cp', name: 'x' });
    let members: any[] = [];
    await waitUntil('both in presence', async () => (members = (await get(`${c!.url}/rooms/layout/cp/presence`)).members).length === 2);
    const nodeOf = Object.fromEntries(members.map((m) => [m.id, m.node]));
    expect(nodeOf[onA.id]).to.equal(a!.service.cluster!.nodeId);
    expect(nodeOf[onB.id]).to.equal(b!.service.cluster!.nodeId);
    expect((await get(`${c!.url}/rooms?namespace=layout&prefix=cp`)).rooms).to.deep.equal([{ namespace: 'layout', room: 'cp', members: 2 }]);
  });

  it('a user is disconnected on every node (socket.io, /sock, SSE), blocked on every node, one started later included', async () => {
    const [a, b, c] = nodes();
    const eve = await hsToken({ sub: 'eve', rooms });
    const ann = await hsToken({ sub: 'ann', rooms });
    const ioA = await connect('v4', a!.url, '/layout', withToken('v4', eve));
    const ioC = await connect('v4', c!.url, '/trigger', withToken('v4', eve));
    const sockB = await openSock(b!.url, `/sock?token=${eve}`);
    const sseC = await openSse(`${c!.url}/events/layout/x1`, { authorization: `Bearer ${eve}` });
    const annB = await connect('v4', b!.url, '/layout', withToken('v4', ann));
    const errors = [next(ioA, 'ERROR'), next(ioC, 'ERROR')];
    const gone = [next(ioA, 'disconnect'), next(ioC, 'disconnect')];
    const res = await fetch(`${a!.url}/users/eve/disconnect`, { method: 'POST', headers: KEY, body: '{"block": "1h"}' });
    expect(await res.json()).to.deep.equal({ ok: true, disconnected: 4 });
    for (const e of await Promise.all(errors)) expect(e).to.include({ code: 'DISCONNECTED_BY_SERVER' });
    await Promise.all(gone);
    expect((await sockB.next('error')).payload).to.include({ code: 'DISCONNECTED_BY_SERVER' });
    expect(await sockB.closed).to.equal(4002);
    expect((await sseC.next('disconnect')).json).to.deep.equal({ code: 'DISCONNECTED_BY_SERVER' });
    await sseC.ended;
    expect(await request(annB, 'JOIN', { room: 'ok', name: 'x' })).to.have.property('room', 'ok');
    for (const node of [a!, b!, c!]) {
      const refused = await refusal('v4', node.url, '/layout', withToken('v4', eve));
      expect(refused, node.url).to.include({ code: 'UNAUTHORIZED' });
      expect(refused.message).to.match(/blocked/);
    }
    // A node that starts after the block reads it from Redis.
    const redisUrl = a!.service.config.cluster!.redisUrl;
    const [late] = await startNodes(1, redisUrl, a!.service.config.cluster!.keyPrefix, { auth });
    try {
      expect(await refusal('v4', late!.url, '/layout', withToken('v4', eve))).to.include({ code: 'UNAUTHORIZED' });
      await connect('v4', late!.url, '/layout', withToken('v4', ann));
    } finally {
      closeAll();
      await late!.close();
    }
  });
});
