/**
 * Cluster mode: three createService nodes joined by a real Redis. Every verb of every namespace
 * across nodes, exactly once; CLIENTS across nodes; HTTP publication on one node reaching all.
 */
import { expect } from 'chai';
import type { Running } from './helpers/service.js';
import { closeAll, collect, connect, next, recorder, request, type TestClient } from './helpers/clients.js';
import { readyz, startNodes, waitUntil } from './helpers/cluster.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';

describe('cluster: three nodes joined by Redis', function () {
  let redis: RedisServer | undefined;
  let nodes: Running[] = [];
  let A: string, B: string, C: string;
  const prefix = uniquePrefix('cluster');

  before(async function () {
    requireRedisOrSkip(this);
    redis = await useRedis();
    nodes = await startNodes(3, redis.url, prefix);
    [A, B, C] = nodes.map((n) => n.url) as [string, string, string];
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    if (redis) await deletePrefix(redis.url, prefix);
    await redis?.stop();
  });
  afterEach(closeAll);

  /** CLIENTS of `room` in `nsp` as seen from a fresh client on `url`, sorted. */
  async function clientsSeenFrom(url: string, nsp: string, room: string): Promise<string[]> {
    const probe = await connect('v4', url, nsp);
    try {
      const reply = await request(probe, 'CLIENTS', { room });
      return [...reply.clients].sort();
    } finally {
      probe.close();
    }
  }

  it('every node is ready and answers /readyz 200', async () => {
    for (const url of [A, B, C]) expect(await readyz(url)).to.equal(200);
  });

  for (const nsp of ['/layout', '/bus']) {
    it(`${nsp}: NOTIFY on node A reaches members on nodes B and C exactly once, never the sender`, async () => {
      const [pub, b1, b2, c1] = await Promise.all([
        connect('v4', A, nsp),
        connect('v4', B, nsp),
        connect('v2', B, nsp),
        connect('v1', C, nsp, { transport: 'polling' }),
      ]);
      await request(pub, 'JOIN', { room: 'x', name: 'publisher' });
      for (const [c, name] of [[b1, 'b1'], [b2, 'b2'], [c1, 'c1']] as const) await request(c, 'JOIN', JSON.stringify({ room: 'x', name }));
      const self = recorder(pub, 'EVENT');
      const all = [b1, b2, c1].map((c) => recorder(c, 'EVENT'));
      const count = 20;
      const got = [b1, b2, c1].map((c) => collect(c, 'EVENT', count));
      for (let i = 0; i < count; i++) pub.emit('NOTIFY', { room: 'x', message: { i, text: 'héllo ✓' } });
      for (const events of await Promise.all(got)) {
        expect(events.map((e) => e.message.i)).to.deep.equal([...Array(count).keys()]);
        expect(events[0]).to.deep.include({ sender: 'publisher', room: 'x', message: { i: 0, text: 'héllo ✓' } });
      }
      // A marker from B to everyone: anything duplicated before it would have arrived by then.
      const markers = [pub, b2, c1].map((c) => next(c, 'EVENT'));
      await request(b1, 'NOTIFY', { room: 'x', message: 'marker' });
      await Promise.all(markers);
      for (const r of all) expect(r.received.filter((e: any) => e.message !== 'marker')).to.have.length(count);
      expect(self.received.filter((e: any) => e.message !== 'marker')).to.be.empty;
    });
  }

  it('/layout CLIENTS lists the members of every node with their names; changes show everywhere within a second', async () => {
    const [a, b, c] = await Promise.all([connect('v4', A, '/layout'), connect('v2', B, '/layout'), connect('v4', C, '/layout')]);
    await request(a, 'JOIN', { room: 'who', name: 'tv' });
    await request(b, 'JOIN', { room: 'who', name: 'phone' });
    await request(c, 'JOIN', { room: 'who' });
    for (const url of [A, B, C]) expect(await clientsSeenFrom(url, '/layout', 'who')).to.deep.equal([c.id, 'phone', 'tv'].sort());
    const ack = await request(c, 'CLIENTS', { room: 'who' });
    expect([...ack.clients].sort()).to.deep.equal([c.id, 'phone', 'tv'].sort());

    await request(b, 'LEAVE', { room: 'who' });
    const leftIn = await waitUntil('B\'s LEAVE seen from A and C', async () =>
      (await clientsSeenFrom(A, '/layout', 'who')).join() === [c.id, 'tv'].sort().join() &&
      (await clientsSeenFrom(C, '/layout', 'who')).join() === [c.id, 'tv'].sort().join(), 1000);
    expect(leftIn).to.be.below(1000);

    const gone = next(a, 'disconnect');
    a.close();
    await gone.catch(() => undefined);
    await waitUntil('A\'s disconnect seen from B', async () => (await clientsSeenFrom(B, '/layout', 'who')).join() === c.id, 1000);
  });

  it('POST /bus-message/:room on one node reaches /bus members on every node and counts them cluster-wide', async () => {
    const members = await Promise.all([connect('v4', A, '/bus'), connect('v4', B, '/bus'), connect('v1', C, '/bus'), connect('v2', C, '/bus')]);
    for (const [i, m] of members.entries()) await request(m, 'JOIN', { room: 'devices', name: `d${i}` });
    const got = members.map((m) => next(m, 'EVENT'));
    const res = await fetch(`${B}/bus-message/devices`, { method: 'POST', body: JSON.stringify({ command: 'refresh' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ ok: true, room: 'devices', recipients: 4, offset: 1 });
    for (const event of await Promise.all(got)) expect(event).to.deep.include({ sender: 'POST', room: 'devices', message: { command: 'refresh' } });
  });

  it('/lobby: PEERS, JOINED, BROADCAST and LEFT across nodes', async () => {
    const a = await connect('v4', A, '/lobby', { query: { lobbyId: 'L' } });
    await request(a, 'JOIN', 'L');
    const joinedAtA = next(a, 'JOINED');
    const b = await connect('v2', B, '/lobby');
    const reply = await request(b, 'JOIN', 'L');
    expect(reply).to.deep.equal({ ok: true, lobby: 'L', id: b.id, peers: [a.id] });
    expect(await joinedAtA).to.equal(b.id);

    const [joinedA, joinedB] = [next(a, 'JOINED'), next(b, 'JOINED')];
    const c = await connect('v4', C, '/lobby');
    expect((await request(c, 'JOIN', 'L')).peers.sort()).to.deep.equal([a.id, b.id].sort());
    expect(await joinedA).to.equal(c.id);
    expect(await joinedB).to.equal(c.id);

    const [msgA, msgB] = [next(a, 'MESSAGE'), next(b, 'MESSAGE')];
    const self = recorder(c, 'MESSAGE');
    await request(c, 'BROADCAST', { message: { hi: 1 } });
    expect(await msgA).to.deep.include({ from: c.id, message: { hi: 1 } });
    expect(await msgB).to.deep.include({ from: c.id, message: { hi: 1 } });

    const [leftA, leftC] = [next(a, 'LEFT'), next(c, 'LEFT')];
    b.close();
    expect(await leftA).to.equal(b.id);
    expect(await leftC).to.equal(b.id);
    const leftAfterLeave = next(c, 'LEFT');
    expect(await request(a, 'LEAVE', 'L')).to.deep.equal({ ok: true, lobby: 'L' });
    expect(await leftAfterLeave).to.equal(a.id);
    expect(self.received).to.be.empty;
  });

  it('/lobby: RTCSIGNAL reaches a peer on another node, and only that peer', async () => {
    const a = await connect('v4', A, '/lobby', { query: { lobbyId: 'rtc' } });
    await request(a, 'JOIN', 'rtc');
    const b = await connect('v2', B, '/lobby', { query: { lobbyId: 'rtc' } });
    await request(b, 'JOIN', 'rtc');
    const c = await connect('v4', C, '/lobby', { query: { lobbyId: 'rtc' } });
    await request(c, 'JOIN', 'rtc');
    const bystander = recorder(c, 'RTCSIGNAL');
    const got = next(b, 'RTCSIGNAL');
    const signal = { to: b.id, type: 'offer', sdp: 'v=0', from: 'spoofed' };
    expect(await request(a, 'RTCSIGNAL', signal)).to.deep.equal({ ok: true, to: b.id });
    expect(await got).to.deep.equal({ ...signal, from: a.id });
    // Signals to a peer of another lobby on another node are refused.
    const outsider = await connect('v4', C, '/lobby', { query: { lobbyId: 'elsewhere' } });
    await request(outsider, 'JOIN', 'elsewhere');
    expect((await request(a, 'RTCSIGNAL', { to: outsider.id, type: 'offer' })).error.code).to.equal('PEER_NOT_FOUND');
    const marker = next(c, 'RTCSIGNAL');
    await request(b, 'RTCSIGNAL', { to: c.id, type: 'marker' });
    expect((await marker).from).to.equal(b.id);
    expect(bystander.received).to.have.length(1);
  });

  it('/trigger: EVENTS, UPDATES and STATUS reach the other members on every node exactly once', async () => {
    const clients: TestClient[] = await Promise.all([connect('v4', A, '/trigger'), connect('v2', B, '/trigger'), connect('v1', C, '/trigger')]);
    for (const c of clients) await request(c, 'JOIN', 'ctx-1');
    const [a, b, c] = clients as [TestClient, TestClient, TestClient];
    const self = recorder(a, 'STATUS');
    for (const [verb, event] of [['BROADCAST_EVENTS', 'EVENTS'], ['BROADCAST_UPDATES', 'UPDATES'], ['BROADCAST_STATUS', 'STATUS']] as const) {
      const got = [collect(b, event, 1), collect(c, event, 1)];
      expect(await request(a, verb, 'ctx-1', { verb })).to.include({ ok: true, room: 'ctx-1' }).and.have.property('offset');
      for (const events of await Promise.all(got)) expect(events).to.deep.equal([{ verb }]);
    }
    const bStatus = recorder(b, 'STATUS');
    const markers = [next(a, 'STATUS'), next(b, 'STATUS')];
    await request(c, 'BROADCAST_STATUS', 'ctx-1', 'marker');
    await Promise.all(markers);
    expect(bStatus.received).to.deep.equal(['marker']);
    expect(self.received).to.deep.equal(['marker']);
  });

  it('a node that closes takes its members out of presence at once', async () => {
    const extra = (await startNodes(1, redis!.url, prefix))[0]!;
    try {
      const d = await connect('v4', extra.url, '/layout');
      await request(d, 'JOIN', { room: 'bye', name: 'leaving' });
      expect(await clientsSeenFrom(A, '/layout', 'bye')).to.deep.equal(['leaving']);
      await extra.close();
      expect(await clientsSeenFrom(A, '/layout', 'bye')).to.deep.equal([]);
    } finally {
      await extra.close();
    }
  });
});
