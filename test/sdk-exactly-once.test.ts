/**
 * The client SDK (client/src) against a real service: every message once and in order across a
 * transport cut with messages published meanwhile (with socket.io's connection-state recovery,
 * and without it, where JOIN `since` fills the gap), a `reset` when the history no longer covers
 * the gap, and across a node killed in a 3-node cluster, the client coming back through a proxy.
 */
import { expect } from 'chai';
import { createClient, type NotifyClient, type ResetEvent } from '../client/src/index.js';
import { FAILOVER_TTL_MS, nodesAndAProcess, waitUntil } from './helpers/cluster.js';
import { dropTransport } from './helpers/history.js';
import { serviceForSuite, type Running } from './helpers/service.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

const clients: NotifyClient[] = [];
const FAST = { reconnect: { min: 50, max: 200 } };

function client(url: string, options: Parameters<typeof createClient>[1] = {}): NotifyClient {
  const c = createClient(url, { ...FAST, ...options });
  clients.push(c);
  return c;
}

/** The socket id of the subscriber: the one member of `room`, as the presence API lists it. */
async function memberId(svc: Running, room: string): Promise<string> {
  const { members } = (await (await fetch(`${svc.url}/rooms/layout/${room}/presence`)).json()) as { members: Array<{ id: string }> };
  expect(members, `members of ${room}`).to.have.length(1);
  return members[0]!.id;
}

const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe('client SDK: exactly once and in order across a transport cut', () => {
  const svc = serviceForSuite();

  for (const recovery of [true, false]) {
    it(`${recovery ? 'with' : 'without'} connection-state recovery: messages published during the cut arrive once, in order, then live ones`, async () => {
      const room = `cut-${recovery}`;
      // recoveryOffsets=0: the service sends no recovery ids, so only JOIN `since` can fill the gap.
      const sub = client(svc.url, recovery ? {} : { socketOptions: { query: { recoveryOffsets: '0' } } });
      const got: string[] = [];
      const resets: ResetEvent[] = [];
      const connects: boolean[] = [];
      sub.on('connect', (e) => connects.push(e.recovered));
      const subscription = sub.subscribe<string>(room, (m) => got.push(m.message));
      subscription.on('reset', (e) => resets.push(e));
      await subscription.ready;
      const pub = client(svc.url);
      for (const m of range(1, 3)) await pub.publish(room, m);
      await waitUntil('the first three', () => got.length === 3);

      // Two go out as the connection is cut under them, more while it is away (HTTP too).
      const sent = [pub.publish(room, 'm4'), pub.publish(room, 'm5')];
      const { gone } = dropTransport(svc, '/layout', await memberId(svc, room));
      await gone;
      await Promise.all(sent);
      await pub.publish(room, 'm6');
      await fetch(`${svc.url}/publish/layout/${room}`, { method: 'POST', body: JSON.stringify('m7') });
      await waitUntil('reconnected', () => connects.length === 2);
      expect(connects).to.deep.equal([false, recovery]);
      await pub.publish(room, 'm8');
      await waitUntil('all eight', () => got.length >= 8);
      expect(got).to.deep.equal(range(1, 8));
      expect(resets).to.deep.equal([]);
      expect(subscription.position?.offset).to.equal(8);
    });
  }

  it('the client\'s name in the rooms it joins; history and presence through the subscription', async () => {
    const c = client(svc.url, { name: 'tv-1' });
    const subscription = c.subscribe('named', () => undefined);
    await subscription.ready;
    expect(await subscription.presence()).to.deep.equal(['tv-1']);
    await client(svc.url).publish('named', { n: 1 });
    const [first] = await subscription.history({ limit: 5 });
    expect(first).to.deep.include({ room: 'named', message: { n: 1 } });
    expect(first!.meta.offset).to.equal(1);
  });

  it('a cut longer than the history: `reset` with TOO_OLD, then the live messages, none twice', async () => {
    // A service of its own that keeps 3 messages per room.
    const { startService } = await import('./helpers/service.js');
    const small = await startService({ history: { size: 3, ttlMs: 60_000 } });
    try {
      const room = 'short-memory';
      const sub = client(small.url, { socketOptions: { query: { recoveryOffsets: '0' } } });
      const got: string[] = [];
      const resets: ResetEvent[] = [];
      let connects = 0;
      sub.on('connect', () => connects++);
      const subscription = sub.subscribe<string>(room, (m) => got.push(m.message));
      subscription.on('reset', (e) => resets.push(e));
      await subscription.ready;
      const pub = client(small.url);
      await pub.publish(room, 'm1');
      await waitUntil('m1', () => got.length === 1);
      const { gone } = dropTransport(small, '/layout', await memberId(small, room));
      await gone;
      for (const m of range(2, 7)) await pub.publish(room, m);
      await waitUntil('reconnected', () => connects === 2);
      await waitUntil('the reset', () => resets.length === 1);
      expect(resets[0]).to.deep.include({ room, reason: 'TOO_OLD' });
      expect(resets[0]!.position?.offset).to.equal(7);
      await pub.publish(room, 'm8');
      await waitUntil('m8', () => got.includes('m8'));
      expect(got).to.deep.equal(['m1', 'm8']);
    } finally {
      for (const c of clients.splice(0)) c.close();
      await small.close();
    }
  });
});

describe('client SDK: exactly once through repeated cuts under a steady stream', () => {
  // History for the whole stream: how far the subscriber falls behind during a cut depends on the
  // machine, and a gap beyond the history is a `reset` (tested above), not what this test is about.
  const svc = serviceForSuite({ history: { size: 1000, ttlMs: 300_000 } });

  for (const recovery of [true, false]) {
    it(`200 messages published without pause while the transport is cut three times (${recovery ? 'with' : 'without'} recovery): each once, in order`, async () => {
      const room = `storm-${recovery}`;
      const sub = client(svc.url, recovery ? {} : { socketOptions: { query: { recoveryOffsets: '0' } } });
      const got: number[] = [];
      const resets: ResetEvent[] = [];
      let connects = 0;
      sub.on('connect', () => connects++);
      const subscription = sub.subscribe<number>(room, (m) => got.push(m.message));
      subscription.on('reset', (e) => resets.push(e));
      await subscription.ready;
      const pub = client(svc.url);
      const publishing = (async () => {
        for (let i = 1; i <= 200; i++) await pub.publish(room, i);
      })();
      for (let cut = 1; cut <= 3; cut++) {
        await waitUntil(`some messages before cut ${cut}`, () => got.length >= cut * 40, 10_000);
        const { gone } = dropTransport(svc, '/layout', await memberId(svc, room));
        await gone;
        await waitUntil(`back after cut ${cut}`, () => connects === cut + 1, 10_000);
      }
      await publishing;
      await waitUntil('all 200', () => got.length >= 200, 10_000);
      expect(got).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(resets).to.deep.equal([]);
    });
  }

});

describe('client SDK: exactly once across a node killed in a 3-node cluster', function () {
  const suite = nodesAndAProcess('sdk-kill', 2);
  let proxy: TcpProxy | undefined;
  after(() => proxy?.close());

  it('the subscriber on the killed node comes back on a survivor and gets what was published meanwhile, once, in order', async () => {
    const [A, B] = suite.nodes.map((n) => n.url) as [string, string];
    const doomed = suite.proc!.url;
    // The proxy sends new connections to the doomed node while it lives, then to A.
    proxy = await startTcpProxy([doomed, A]);
    const sub = client(proxy.url);
    const got: string[] = [];
    const resets: ResetEvent[] = [];
    let connects = 0;
    sub.on('connect', () => connects++);
    const room = 'failover';
    const subscription = sub.subscribe<string>(room, (m) => got.push(m.message));
    subscription.on('reset', (e) => resets.push(e));
    await subscription.ready;
    expect(await fetch(`${doomed}/rooms/layout/${room}/presence`).then((r) => r.json())).to.have.nested.property('members.length', 1);
    const pub = client(B);
    for (const m of range(1, 3)) await pub.publish(room, m);
    await waitUntil('the first three', () => got.length === 3);

    suite.proc!.child.kill('SIGKILL');
    await suite.proc!.exited;
    for (const m of range(4, 6)) await pub.publish(room, m);
    await waitUntil('reconnected through the proxy', () => connects === 2, 10_000);
    await pub.publish(room, 'm7');
    await waitUntil('all seven', () => got.length >= 7, FAILOVER_TTL_MS * 5);
    expect(got).to.deep.equal(range(1, 7));
    expect(resets).to.deep.equal([]);
  });
});
