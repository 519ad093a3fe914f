/**
 * Cluster mode when things die: a node killed with SIGKILL (its members vanish within the
 * presence bound, lobby peers get LEFT once, the others keep working), and Redis itself killed and
 * restarted (readiness 503 then 200, local rooms served meanwhile, then delivery across nodes again
 * for old and new clients). Short presence TTL so the bounds are short.
 */
import { expect } from 'chai';
import { createClient } from 'redis';
import { closeAll, collect, connect, next, recorder, request } from './helpers/clients.js';
import { FAILOVER_TTL_MS, nodesAndAProcess, readyz, startNodes, waitUntil } from './helpers/cluster.js';
import { requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';
import type { Running } from './helpers/service.js';
import { ALL_ROOMS, SECRET, hsToken, secretAuth } from './helpers/auth.js';

const TTL_MS = FAILOVER_TTL_MS;

async function clients(url: string, nsp: string, room: string): Promise<string[]> {
  const probe = await connect('v4', url, nsp);
  try {
    return [...(await request(probe, 'CLIENTS', { room })).clients].sort();
  } finally {
    probe.close();
  }
}


describe('cluster: a node killed with SIGKILL', function () {
  const suite = nodesAndAProcess('sigkill', 2, {});

  it('its members vanish from CLIENTS and lobbies within the bound, lobby peers get LEFT exactly once, the others keep working', async () => {
    const [A, B] = suite.nodes.map((n) => n.url) as [string, string];
    const D = suite.proc!.url;
    // Members on the doomed node and on the survivors, in /layout and in a lobby.
    const [a, b, d] = await Promise.all([connect('v4', A, '/layout'), connect('v2', B, '/layout'), connect('v4', D, '/layout')]);
    await request(a, 'JOIN', { room: 'r', name: 'a' });
    await request(b, 'JOIN', { room: 'r', name: 'b' });
    await request(d, 'JOIN', { room: 'r', name: 'doomed' });
    const la = await connect('v4', A, '/lobby', { query: { lobbyId: 'L' } });
    await request(la, 'JOIN', 'L');
    const lb = await connect('v1', B, '/lobby', { query: { lobbyId: 'L' } });
    const lbId = (await request(lb, 'JOIN', 'L')).id as string;
    const ld = await connect('v4', D, '/lobby', { query: { lobbyId: 'L' } });
    const peers = (await request(ld, 'JOIN', 'L')).peers as string[];
    expect(peers.sort()).to.deep.equal([la.id, lbId].sort());
    expect(await clients(A, '/layout', 'r')).to.deep.equal(['a', 'b', 'doomed']);

    const leftA = recorder(la, 'LEFT');
    const leftB = recorder(lb, 'LEFT');
    const firstLeft = Promise.all([next(la, 'LEFT', 10_000), next(lb, 'LEFT', 10_000)]);
    const killedAt = Date.now();
    suite.proc!.child.kill('SIGKILL');
    await suite.proc!.exited;

    // Bound: TTL + one sweep period (TTL/3), plus scheduling slack.
    const bound = TTL_MS + TTL_MS / 3 + 1500;
    await waitUntil('doomed member gone from CLIENTS on A', async () => (await clients(A, '/layout', 'r')).join() === 'a,b', bound);
    expect(await clients(B, '/layout', 'r')).to.deep.equal(['a', 'b']);
    expect(await firstLeft).to.deep.equal([ld.id, ld.id]);
    expect(Date.now() - killedAt).to.be.below(bound);

    // A new lobby member sees only the survivors.
    const lc = await connect('v4', B, '/lobby');
    expect(((await request(lc, 'JOIN', 'L')).peers as string[]).sort()).to.deep.equal([la.id, lbId].sort());

    // The survivors keep working across nodes; the marker also proves no second LEFT was on its way.
    const got = collect(b, 'EVENT', 1);
    await request(a, 'NOTIFY', { room: 'r', message: 'still here' });
    expect((await got)[0].message).to.equal('still here');
    const markers = [next(la, 'MESSAGE'), next(lb, 'MESSAGE')];
    await request(lc, 'BROADCAST', { message: 'marker' });
    await Promise.all(markers);
    expect(leftA.received).to.deep.equal([ld.id]);
    expect(leftB.received).to.deep.equal([ld.id]);
    // Nothing of the dead node is left in Redis.
    const r = createClient({ url: suite.redis!.url });
    await r.connect();
    try {
      expect(await r.sCard(`${suite.prefix}:nodes`)).to.equal(2);
      expect(await r.keys(`${suite.prefix}:node:*`)).to.have.length.at.most(2);
    } finally {
      r.destroy();
    }
  });
});

describe('cluster: a node frozen longer than the presence TTL (SIGSTOP, then SIGCONT)', function () {
  const suite = nodesAndAProcess('sigstop', 1, {});

  it('is swept (peers get LEFT), and once it runs again its members are back and announced with JOINED', async () => {
    const A = suite.nodes[0]!.url;
    const F = suite.proc!.url;
    const la = await connect('v4', A, '/lobby', { query: { lobbyId: 'L' } });
    await request(la, 'JOIN', 'L');
    const lf = await connect('v4', F, '/lobby', { query: { lobbyId: 'L' } });
    expect((await request(lf, 'JOIN', 'L')).peers).to.deep.equal([la.id]);
    const f = await connect('v4', F, '/layout');
    await request(f, 'JOIN', { room: 'r', name: 'frozen' });

    const left = next(la, 'LEFT', 10_000);
    suite.proc!.child.kill('SIGSTOP');
    try {
      expect(await left).to.equal(lf.id);
      expect(await clients(A, '/layout', 'r')).to.deep.equal([]);
    } finally {
      suite.proc!.child.kill('SIGCONT');
    }
    expect(await next(la, 'JOINED', 10_000)).to.equal(lf.id);
    await waitUntil('the frozen node\'s member listed again', async () => (await clients(A, '/layout', 'r')).join() === 'frozen', 5000);
    const lc = await connect('v4', A, '/lobby');
    expect(((await request(lc, 'JOIN', 'L')).peers as string[]).sort()).to.deep.equal([la.id, lf.id].sort());
    // Its clients stayed connected through it all.
    const got = next(lf, 'MESSAGE');
    await request(la, 'BROADCAST', { message: 'welcome back' });
    expect((await got).message).to.equal('welcome back');
  });
});

describe('cluster with --auth jwt: a frozen node\'s subscribe-only lobby member is announced again', function () {
  const suite = nodesAndAProcess('sigstop-auth', 1, { auth: secretAuth() }, ['--auth', 'jwt'], { JWT_SECRET: SECRET });

  it('JOINED needs no publish right: every member of the node, subscribe-only ones first, is announced', async () => {
    const A = suite.nodes[0]!.url;
    const F = suite.proc!.url;
    const auth = async (sub: string, rooms: unknown) => ({ extra: { auth: { token: await hsToken({ sub, rooms }) } } });
    const la = await connect('v4', A, '/lobby', await auth('u-a', ALL_ROOMS));
    await request(la, 'JOIN', 'L');
    // Joined first on the frozen node, so on main its FORBIDDEN also lost the member after it.
    const watcher = await connect('v4', F, '/lobby', await auth('u-watcher', { subscribe: ['L'], publish: [] }));
    await request(watcher, 'JOIN', 'L');
    const talker = await connect('v4', F, '/lobby', await auth('u-talker', ALL_ROOMS));
    await request(talker, 'JOIN', 'L');

    const left = collect(la, 'LEFT', 2, 10_000);
    suite.proc!.child.kill('SIGSTOP');
    let joined: Promise<string[]>;
    try {
      expect((await left).sort()).to.deep.equal([watcher.id, talker.id].sort());
      joined = collect(la, 'JOINED', 2, 10_000);
    } finally {
      suite.proc!.child.kill('SIGCONT');
    }
    expect((await joined).sort()).to.deep.equal([watcher.id, talker.id].sort());
  });
});

describe('cluster: Redis killed and restarted', function () {
  let redis: RedisServer | undefined;
  let nodes: Running[] = [];

  before(async function () {
    requireRedisOrSkip(this, true);
    redis = await useRedis(true);
    nodes = await startNodes(2, redis.url, uniquePrefix('restart'), {}, TTL_MS);
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis?.stop();
  });
  afterEach(closeAll);

  it('readiness goes 503 and back to 200; clients stay connected; local rooms work meanwhile; then delivery across nodes resumes for old and new clients', async () => {
    const [A, B] = nodes.map((n) => n.url) as [string, string];
    const [a1, a2, b1] = await Promise.all([connect('v4', A, '/layout'), connect('v1', A, '/layout', { transport: 'polling' }), connect('v2', B, '/layout')]);
    await request(a1, 'JOIN', { room: 'r', name: 'a1' });
    await request(a2, 'JOIN', { room: 'r', name: 'a2' });
    await request(b1, 'JOIN', { room: 'r', name: 'b1' });
    const la = await connect('v4', A, '/lobby', { query: { lobbyId: 'L' } });
    await request(la, 'JOIN', 'L');
    const lb = await connect('v4', B, '/lobby', { query: { lobbyId: 'L' } });
    await request(lb, 'JOIN', 'L');
    const disconnects = [a1, a2, b1, la, lb].map((c) => recorder(c, 'disconnect'));

    await redis!.kill();
    await waitUntil('both nodes report not ready', async () => (await readyz(A)) === 503 && (await readyz(B)) === 503, 30_000);
    expect((await fetch(`${A}/healthcheck`)).status).to.equal(200);

    // Local rooms keep working, for connected and for new clients.
    const a3 = await connect('v4', A, '/layout');
    expect(await request(a3, 'JOIN', { room: 'r', name: 'a3' })).to.include({ ok: true });
    const got = [collect(a2, 'EVENT', 1), collect(a3, 'EVENT', 1)];
    expect(await request(a1, 'NOTIFY', { room: 'r', message: 'during outage' })).to.include({ ok: true });
    const outage = await Promise.all(got);
    for (const events of outage) expect(events[0].message).to.equal('during outage');
    expect(await clients(A, '/layout', 'r')).to.deep.equal(['a1', 'a2', 'a3']);
    // The shared history cannot be read: JOIN since says so, and joins all the same.
    const resumer = await connect('v4', A, '/layout');
    expect(await request(resumer, 'JOIN', { room: 'r', name: 'x', since: outage[0]![0].meta })).to.deep.include({ ok: true, recovered: false, reason: 'UNAVAILABLE' });
    expect((await request(resumer, 'HISTORY', { room: 'r' })).error.code).to.equal('NOT_READY');
    resumer.close();

    await redis!.restart();
    const recovered = await waitUntil('both nodes ready again', async () => (await readyz(A)) === 200 && (await readyz(B)) === 200, 30_000);
    expect(recovered).to.be.below(30_000);

    // Presence was written back by both nodes into the empty Redis.
    await waitUntil('every member listed again from B', async () => (await clients(B, '/layout', 'r')).join() === 'a1,a2,a3,b1', 5000);

    // Old and new clients, across nodes, both ways.
    const b2 = await connect('v4', B, '/layout');
    await request(b2, 'JOIN', { room: 'r', name: 'b2' });
    const fromA = [a2, a3, b1, b2].map((c) => collect(c, 'EVENT', 1));
    await request(a1, 'NOTIFY', { room: 'r', message: 'after restart' });
    for (const events of await Promise.all(fromA)) expect(events[0].message).to.equal('after restart');
    // A position from the outage was this node's own: it cannot be resumed anywhere, and says so.
    const late = await connect('v4', B, '/layout');
    expect(await request(late, 'JOIN', { room: 'r', name: 'late', since: outage[0]![0].meta })).to.deep.include({ ok: true, recovered: false, reason: 'EPOCH_CHANGED', offset: 1 });
    const fromB = [a1, a2, a3].map((c) => collect(c, 'EVENT', 1));
    await request(b2, 'NOTIFY', { room: 'r', message: 'from b2' });
    for (const events of await Promise.all(fromB)) expect(events[0].message).to.equal('from b2');
    const signal = next(lb, 'RTCSIGNAL');
    await request(la, 'RTCSIGNAL', { to: lb.id, type: 'offer' });
    expect((await signal).from).to.equal(la.id);

    for (const r of disconnects) expect(r.received).to.be.empty;
  });
});
