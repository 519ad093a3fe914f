/**
 * /sock in cluster mode: three nodes on one Redis (tickets redeemed on another node than the one
 * that issued them, participants and publications across all three, each message once), and a
 * node killed with SIGKILL (its participants leave within the presence bound).
 */
import { expect } from 'chai';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { clusterNodesForSuite, startNodes } from './helpers/cluster.js';
import { startCli, type RunningProcess } from './helpers/process.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';
import type { Running } from './helpers/service.js';
import { closeSockets, openSock, refusedUpgrade, type SockClient } from './helpers/sock.js';

const TTL_MS = 1000;

async function subscribed(client: SockClient, topic: string): Promise<void> {
  client.send({ action: 'subscribe', topic });
  for (;;) if ((await client.next('subscribe-topic')).sender === client.connectionId) return;
}

async function ticket(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(res.status).to.equal(200);
  return ((await res.json()) as { ticket: string }).ticket;
}

describe('/sock on three nodes (Redis)', function () {
  this.timeout(20_000);
  const nodes = clusterNodesForSuite('sock3', 3, { auth: secretAuth() });
  afterEach(closeSockets);

  it('tickets work on any node; participants and publications span all three, each message arrives once', async () => {
    const [one, two, three] = nodes() as [Running, Running, Running];
    const alice = { sub: 'u-alice', name: 'Alice', role: 'host', rooms: ALL_ROOMS };
    const bob = { sub: 'u-bob', name: 'Bob', rooms: ALL_ROOMS };
    const issued = await ticket(one.url, await hsToken(alice));
    const a = await openSock(three.url, `/sock/${issued}`);
    expect((await refusedUpgrade(two.url, `/sock/${issued}`)).status).to.equal(401);
    const b = await openSock(two.url, `/sock?token=${await hsToken(bob)}`);
    const a2 = await openSock(one.url, `/sock?ticket=${encodeURIComponent(await ticket(two.url, await hsToken(alice)))}`);
    for (const client of [a, b, a2]) await subscribed(client, 'tri');

    b.send({ action: 'load-subscribers', topic: 'tri' });
    const list = (await b.next('existing-subscribers')).payload as Array<{ scid: string; cids: string[]; name: string; role: string }>;
    expect(list.map((p) => [p.scid, p.name, p.role, p.cids.sort()]).sort()).to.deep.equal([
      ['u-alice', 'Alice', 'host', [a.connectionId, a2.connectionId].sort()],
      ['u-bob', 'Bob', '', [b.connectionId]],
    ]);

    for (const [i, sender] of [a, b, a2].entries()) sender.send({ action: 'chat', topic: 'tri', payload: i });
    const got = await Promise.all([a, b, a2].map(async (c) => [await c.next('chat'), await c.next('chat'), await c.next('chat')]));
    // Every node delivers the topic's messages in the same order, offsets 1..3, once each.
    for (const frames of got) expect(frames).to.deep.equal(got[0]);
    expect(got[0]!.map((f) => f.meta!.offset)).to.deep.equal([1, 2, 3]);
    expect(got[0]!.map((f) => f.payload).sort()).to.deep.equal([0, 1, 2]);

    a2.ws.close();
    expect(await b.next('unsubscribe-topic')).to.include({ sender: a2.connectionId, payload: a2.connectionId });
    expect(await a.next('unsubscribe-topic')).to.include({ sender: a2.connectionId });
    // A marker after the departure: no frame arrived twice meanwhile.
    b.send({ action: 'marker', topic: 'tri' });
    await a.next('marker');
    expect(a.frames.filter((f) => f.action === 'chat')).to.have.length(3);
  });
});

describe('/sock: a node frozen (SIGSTOP, SIGCONT), then killed (SIGKILL)', function () {
  this.timeout(20_000);
  const prefix = uniquePrefix('sock-kill');
  let redis: RedisServer | undefined;
  let node: Running | undefined;
  let proc: RunningProcess | undefined;
  before(async function () {
    requireRedisOrSkip(this);
    redis = await useRedis();
    [node] = await startNodes(1, redis.url, prefix, {}, TTL_MS);
    proc = await startCli(['--redis', redis.url, '--redis-prefix', prefix, '--presence-ttl', `${TTL_MS}ms`]);
  });
  after(async () => {
    closeSockets();
    proc?.child.kill('SIGKILL');
    await proc?.exited;
    await node?.close();
    if (redis) await deletePrefix(redis.url, prefix);
    await redis?.stop();
  });

  it('frozen longer than the presence TTL its participants leave; running again they are announced back', async () => {
    const a = await openSock(node!.url, '/sock?name=ann');
    const f = await openSock(proc!.url, '/sock?name=frozen');
    await subscribed(a, 'z');
    await subscribed(f, 'z');
    await a.next('subscribe-topic');
    proc!.child.kill('SIGSTOP');
    try {
      expect(await a.next('unsubscribe-topic', 10_000)).to.include({ sender: f.connectionId });
    } finally {
      proc!.child.kill('SIGCONT');
    }
    const back = await a.next('subscribe-topic', 10_000);
    expect(back).to.deep.include({ topic: 'z', sender: f.connectionId, payload: [{ scid: 'frozen', cids: [f.connectionId], name: 'frozen', role: '', online: true }] });
    // Its connection stayed open through it all.
    a.send({ action: 'welcome', topic: 'z' });
    expect((await f.next('welcome')).sender).to.equal(a.connectionId);
    f.ws.close();
    await a.next('unsubscribe-topic');
  });

  it("killed, its participants leave: unsubscribe-topic to the others within 4/3 of --presence-ttl, once", async () => {
    const a = await openSock(node!.url, '/sock?name=ann');
    const d = await openSock(proc!.url, '/sock?name=doomed');
    await subscribed(a, 'k');
    await subscribed(d, 'k');
    await a.next('subscribe-topic');
    const killedAt = Date.now();
    proc!.child.kill('SIGKILL');
    await proc!.exited;
    const left = await a.next('unsubscribe-topic', 10_000);
    expect(left).to.include({ topic: 'k', sender: d.connectionId, payload: d.connectionId });
    expect(Date.now() - killedAt).to.be.below(TTL_MS + TTL_MS / 3 + 1500);
    a.send({ action: 'load-subscribers', topic: 'k' });
    expect((await a.next('existing-subscribers')).payload.map((p: { scid: string }) => p.scid)).to.deep.equal(['ann']);
    expect(a.frames.filter((f) => f.action === 'unsubscribe-topic')).to.have.length(1);
  });
});
