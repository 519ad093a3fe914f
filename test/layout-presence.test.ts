/**
 * Presence notices in /layout and /bus rooms: a member that JOINs with `presence: true` gets
 * JOINED / LEFT {room, id, name} about the other members (socket.io of any version, SSE streams),
 * on any node; a dead node's members leave within the presence bound, once. Members that did not
 * ask get nothing new. "Nothing more" is asserted with a recorder and a later marker that went the
 * same way (a notice or a message of the same node, in the same cluster stream).
 */
import { expect } from 'chai';
import { closeAll, collect, connect, next, recorder, request, type TestClient } from './helpers/clients.js';
import { clusterNodesForSuite, FAILOVER_TTL_MS, MODES, nodesAndAProcess, waitUntil, inModeForSuite } from './helpers/cluster.js';
import type { Running } from './helpers/service.js';
import { openSse } from './helpers/sse.js';

const joinRoom = async (client: TestClient, room: string, name: string, presence?: unknown) => {
  const reply = await request(client, 'JOIN', presence === undefined ? { room, name } : { room, name, presence });
  expect(reply).to.include({ ok: true, room });
  return reply;
};

for (const mode of MODES) for (const nsp of ['/layout', '/bus']) {
  describe(`${nsp} presence notices${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
    const svc = inModeForSuite(mode);

    it('a watcher gets JOINED / LEFT {room, id, name} about the others (LEAVE, disconnect), none about itself or those already there', async () => {
      const [early, w, b, c, last] = await Promise.all([
        connect('v4', svc.url, nsp),
        connect('v4', svc.url, nsp),
        connect('v2', svc.url, nsp),
        connect('v4', svc.url, nsp),
        connect('v2', svc.url, nsp),
      ]);
      await joinRoom(early, 'p1', 'early');
      const joined = recorder(w, 'JOINED');
      const left = recorder(w, 'LEFT');
      expect(await request(w, 'JOIN', { room: 'p1', name: 'watcher', presence: true })).to.deep.equal({ ok: true, room: 'p1', name: 'watcher', presence: true });
      // Who was there already: CLIENTS, not notices.
      expect((await request(w, 'CLIENTS', { room: 'p1' })).clients.sort()).to.deep.equal(['early', 'watcher']);

      let got = next(w, 'JOINED');
      await joinRoom(b, 'p1', 'bob');
      expect(await got).to.deep.equal({ room: 'p1', id: b.id, name: 'bob' });
      got = next(w, 'JOINED');
      await joinRoom(c, 'p1', 'carol');
      expect(await got).to.deep.equal({ room: 'p1', id: c.id, name: 'carol' });
      // Joining again (a new name) is no new member.
      await joinRoom(c, 'p1', 'carol2');

      let gone = next(w, 'LEFT');
      expect(await request(b, 'LEAVE', { room: 'p1' })).to.include({ wasMember: true });
      expect(await gone).to.deep.equal({ room: 'p1', id: b.id, name: 'bob' });
      gone = next(w, 'LEFT');
      c.close();
      expect(await gone).to.deep.equal({ room: 'p1', id: c.id, name: 'carol2' });

      // The marker: one more member; before it nothing else came (no notice about the watcher, none twice).
      got = next(w, 'JOINED');
      await joinRoom(last, 'p1', 'last');
      await got;
      expect(joined.received).to.deep.equal([
        { room: 'p1', id: b.id, name: 'bob' },
        { room: 'p1', id: c.id, name: 'carol' },
        { room: 'p1', id: last.id, name: 'last' },
      ]);
      expect(left.received).to.deep.equal([
        { room: 'p1', id: b.id, name: 'bob' },
        { room: 'p1', id: c.id, name: 'carol2' },
      ]);
    });

    it('members that did not ask get no JOINED / LEFT, and a JOIN without the flag stops them', async () => {
      const [plain, w, other, publisher] = await Promise.all([connect('v4', svc.url, nsp), connect('v2', svc.url, nsp), connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
      await joinRoom(plain, 'p2', 'plain');
      expect(await request(w, 'JOIN', JSON.stringify({ room: 'p2', name: 'w', presence: true }))).to.include({ presence: true });
      const plainJoined = recorder(plain, 'JOINED');
      const plainLeft = recorder(plain, 'LEFT');
      const got = next(w, 'JOINED');
      await joinRoom(other, 'p2', 'other');
      await got;
      // Watching no more (the reply says nothing about presence then).
      expect(await request(w, 'JOIN', { room: 'p2', name: 'w' })).to.deep.equal({ ok: true, room: 'p2', name: 'w' });
      const wJoined = recorder(w, 'JOINED');
      const wLeft = recorder(w, 'LEFT');
      await request(other, 'LEAVE', { room: 'p2' });
      await joinRoom(other, 'p2', 'other');
      // Markers: a message published after the notices reaches both the same way.
      const markers = [next(plain, 'EVENT'), next(w, 'EVENT')];
      await request(publisher, 'NOTIFY', { room: 'p2', message: 'marker' });
      await Promise.all(markers);
      expect(plainJoined.received).to.deep.equal([]);
      expect(plainLeft.received).to.deep.equal([]);
      expect(wJoined.received).to.deep.equal([]);
      expect(wLeft.received).to.deep.equal([]);
    });

    it('rooms nobody watches cost no announcement: joins, leaves and disconnects announce nothing', async () => {
      type Announce = (envelope: { ns: string }, except: string | undefined) => unknown;
      const broker = (svc.service.core as unknown as { broker: { announce: Announce } }).broker;
      const original = broker.announce;
      const announced: string[] = [];
      broker.announce = function (this: unknown, envelope, except) {
        announced.push(envelope.ns);
        return original.call(this, envelope, except);
      };
      try {
        const [a, b, w, c] = await Promise.all([connect('v4', svc.url, nsp), connect('v2', svc.url, nsp), connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
        await joinRoom(a, 'quiet', 'a');
        await joinRoom(b, 'quiet', 'b');
        await request(b, 'LEAVE', { room: 'quiet' });
        a.close();
        // The spy sees a watched room's notice (and the checks of the quiet room's are done by then).
        await joinRoom(w, 'loud', 'w', true);
        const got = next(w, 'JOINED');
        await joinRoom(c, 'loud', 'c');
        await got;
        await svc.service.core.notices.settled();
        expect(announced).to.deep.equal([`${nsp}/presence`]);
      } finally {
        broker.announce = original;
      }
    });

    it('the watchers\' namespace is no namespace a client can connect to', async () => {
      const probe = await connect('v4', svc.url, `${nsp}/presence`, { expectError: true });
      expect(probe.raw.connected).to.equal(false);
    });

    it('refuses a presence flag that is not a boolean', async () => {
      const a = await connect('v4', svc.url, nsp);
      const reply = await request(a, 'JOIN', { room: 'p3', name: 'a', presence: 'yes' });
      expect(reply).to.deep.include({ ok: false });
      expect(reply.error.code).to.equal('INVALID_PAYLOAD');
    });

    it('an SSE stream of the room is announced too (joining and closing)', async () => {
      const w = await connect('v4', svc.url, nsp);
      await joinRoom(w, 'p4', 'w', true);
      const got = next(w, 'JOINED');
      const stream = await openSse(`${svc.url}/events/${nsp.slice(1)}/p4?name=viewer`);
      expect(stream.status).to.equal(200);
      const notice = await got;
      expect(notice).to.include({ room: 'p4', name: 'viewer' });
      expect(notice.id).to.be.a('string').and.not.equal(w.id);
      const gone = next(w, 'LEFT');
      stream.close();
      expect(await gone).to.deep.equal(notice);
    });
  });
}

const TTL_MS = FAILOVER_TTL_MS;


describe('presence notices across three nodes (one of them killed with SIGKILL)', function () {
  const suite = nodesAndAProcess('layout-presence', 2);

  it('watchers on every node hear of joins and leaves on any node; a dead node\'s members leave within the bound, once', async () => {
    const [A, B] = suite.nodes.map((n) => n.url) as [string, string];
    const proc = suite.proc!;
    const D = proc.url;
    const [wa, wb, plain] = await Promise.all([connect('v4', A, '/layout'), connect('v2', B, '/layout'), connect('v4', B, '/layout')]);
    await joinRoom(wa, 'x', 'wa', true);
    let atA = next(wa, 'JOINED');
    await joinRoom(plain, 'x', 'plain');
    expect(await atA).to.deep.equal({ room: 'x', id: plain.id, name: 'plain' });
    const plainJoined = recorder(plain, 'JOINED');
    const plainLeft = recorder(plain, 'LEFT');
    // wb joins after wa watches: wa hears of it.
    atA = next(wa, 'JOINED');
    await joinRoom(wb, 'x', 'wb', true);
    expect(await atA).to.deep.equal({ room: 'x', id: wb.id, name: 'wb' });

    // A member on the third node: both watchers, on the other two nodes, hear of it with its id.
    const [d, d2] = await Promise.all([connect('v4', D, '/layout'), connect('v2', D, '/layout')]);
    atA = next(wa, 'JOINED');
    let atB = next(wb, 'JOINED');
    await joinRoom(d, 'x', 'doomed');
    expect(await atA).to.deep.equal({ room: 'x', id: d.id, name: 'doomed' });
    expect(await atB).to.deep.equal({ room: 'x', id: d.id, name: 'doomed' });
    atA = next(wa, 'JOINED');
    await joinRoom(d2, 'x', 'doomed2');
    await atA;
    // A LEAVE on the third node.
    let leftA = next(wa, 'LEFT');
    await request(d2, 'LEAVE', { room: 'x' });
    expect(await leftA).to.deep.equal({ room: 'x', id: d2.id, name: 'doomed2' });
    await joinRoom(d2, 'x', 'doomed2');

    // The third node dies: its members leave for the watchers within TTL + TTL/3 (plus slack), once.
    const recA = recorder(wa, 'LEFT');
    const recB = recorder(wb, 'LEFT');
    const both = Promise.all([waitUntil('two LEFT at A', () => recA.received.length >= 2, 10_000), waitUntil('two LEFT at B', () => recB.received.length >= 2, 10_000)]);
    const killedAt = Date.now();
    proc.child.kill('SIGKILL');
    await proc.exited;
    await both;
    const bound = TTL_MS + TTL_MS / 3 + 1500;
    expect(Date.now() - killedAt).to.be.below(bound);
    const expected = [
      { room: 'x', id: d.id, name: 'doomed' },
      { room: 'x', id: d2.id, name: 'doomed2' },
    ].sort((p, q) => p.id.localeCompare(q.id));
    const sorted = (list: unknown[]) => [...(list as Array<{ id: string }>)].sort((p, q) => p.id.localeCompare(q.id));
    expect(sorted(recA.received)).to.deep.equal(expected);
    expect(sorted(recB.received)).to.deep.equal(expected);

    // Marker: a leave on B reaches A after anything the sweep sent; nothing more came before it.
    leftA = next(wa, 'LEFT');
    wb.close();
    expect(await leftA).to.deep.equal({ room: 'x', id: wb.id, name: 'wb' });
    expect(sorted(recA.received.slice(0, 2))).to.deep.equal(expected);
    expect(recA.received).to.have.length(3);
    expect(recB.received).to.have.length(2);
    // The member that did not ask heard nothing: a message after everything reaches it.
    const marker = next(plain, 'EVENT');
    await request(wa, 'NOTIFY', { room: 'x', message: 'marker' });
    await marker;
    expect(plainJoined.received).to.deep.equal([]);
    expect(plainLeft.received).to.deep.equal([]);
  });
});

describe('presence notices: a node frozen longer than the presence TTL (SIGSTOP, then SIGCONT)', function () {
  const suite = nodesAndAProcess('layout-presence-stop', 1);

  it('its members LEFT while it is taken for dead, JOINED once it is back', async () => {
    const proc = suite.proc!;
    const w = await connect('v4', suite.nodes[0]!.url, '/bus');
    await joinRoom(w, 'y', 'w', true);
    const f = await connect('v2', proc.url, '/bus');
    const joined = next(w, 'JOINED');
    await joinRoom(f, 'y', 'frozen');
    const notice = { room: 'y', id: f.id, name: 'frozen' };
    expect(await joined).to.deep.equal(notice);

    const left = next(w, 'LEFT', 10_000);
    proc.child.kill('SIGSTOP');
    let back: Promise<unknown>;
    try {
      expect(await left).to.deep.equal(notice);
      back = next(w, 'JOINED', 10_000);
    } finally {
      proc.child.kill('SIGCONT');
    }
    expect(await back).to.deep.equal(notice);
  });
});

describe('presence notices: a node stopped cleanly (close)', function () {
  const nodes = clusterNodesForSuite('layout-presence-close', 2);
  afterEach(closeAll);

  it('its members LEFT for the watchers on the other nodes, once each', async () => {
    const [A, B] = nodes() as [Running, Running];
    const w = await connect('v4', A.url, '/layout');
    await joinRoom(w, 'z', 'w', true);
    const members = await Promise.all([connect('v4', B.url, '/layout'), connect('v2', B.url, '/layout')]);
    const joined = collect(w, 'JOINED', 2);
    for (const [i, m] of members.entries()) await joinRoom(m, 'z', `m${i}`);
    await joined;
    const left = recorder(w, 'LEFT');
    await B.close();
    await waitUntil('both LEFT', () => left.received.length >= 2, 5000);
    // Marker: a member of A leaving comes after anything B sent.
    const last = await connect('v4', A.url, '/layout');
    await joinRoom(last, 'z', 'last');
    const marker = next(w, 'LEFT');
    last.close();
    await marker;
    const ids = (left.received as Array<{ id: string }>).map((n) => n.id);
    expect(ids.slice(0, 2).sort()).to.deep.equal(members.map((m) => m.id).sort());
    expect(ids).to.have.length(3);
  });
});
