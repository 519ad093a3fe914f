/**
 * The shared history of cluster mode (lib/history/redis.ts): one offset sequence per room whichever
 * node publishes, the same order on every node, JOIN `since` on another node than the one a client
 * lost, HISTORY from any node, and the answers when the gap cannot be filled.
 */
import { expect } from 'chai';
import { createClient } from 'redis';
import { io as ioV4, type Socket as ClientSocket } from 'socket.io-client';
import { serverPublisher } from '../lib/core/hub.js';
import { MAX_MESSAGES, publishCallCount } from '../lib/history/publish-batches.js';
import type { MessageMeta } from '../lib/history/types.js';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { closeAll, collect, connect, next, request, type TestClient } from './helpers/clients.js';
import { clusterNodesForSuite, waitUntil } from './helpers/cluster.js';
import { dropTransport } from './helpers/history.js';
import type { Running } from './helpers/service.js';

interface Envelope {
  sender: string;
  room: string;
  message: unknown;
  meta: MessageMeta;
}

/** Every EVENT of `room` a client gets, in arrival order. */
function events(client: TestClient, room: string): Envelope[] {
  const got: Envelope[] = [];
  client.on('EVENT', (e: Envelope) => {
    if (e.room === room) got.push(e);
  });
  return got;
}

/** Resolves once `list` holds `count` entries (checked on each EVENT of the client). */
function until(client: TestClient, list: unknown[], count: number, ms = 10_000): Promise<void> {
  if (list.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('EVENT', check);
      reject(new Error(`got ${list.length}/${count} events within ${ms} ms`));
    }, ms);
    const check = (): void => {
      // The recording listener was added first, so it has run by now.
      if (list.length < count) return;
      clearTimeout(timer);
      client.off('EVENT', check);
      resolve();
    };
    client.on('EVENT', check);
  });
}

const offsets = (list: Envelope[]): number[] => list.map((e) => e.meta.offset);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

type Cursor = NonNullable<Running['service']['cluster']>['cursor'];

/**
 * Holds a node's reader of the cluster stream for a namespace: the entries it reads wait, in
 * order, until release(), as if the node were behind. `releaseWhenWaited` lets go the first time
 * the node waits for its cursor (DeliveryCursor.reached).
 */
function holdReader(node: Running, nsp: string): { release(): void; releaseWhenWaited(cursor: Cursor): void } {
  const adapter = node.service.io.of(nsp).adapter as unknown as { onMessage(message: unknown, offset?: string): void };
  const onMessage = adapter.onMessage;
  const held: [unknown, string | undefined][] = [];
  adapter.onMessage = (message, offset) => void held.push([message, offset]);
  let restoreCursor = (): void => undefined;
  const release = (): void => {
    restoreCursor();
    if (adapter.onMessage === onMessage) return;
    adapter.onMessage = onMessage;
    for (const [message, offset] of held.splice(0)) onMessage.call(adapter, message, offset);
  };
  return {
    release,
    releaseWhenWaited: (cursor) => {
      const reached = cursor.reached;
      cursor.reached = function (this: Cursor, ...args: Parameters<Cursor['reached']>) {
        const result = reached.apply(this, args);
        release();
        return result;
      };
      restoreCursor = () => {
        cursor.reached = reached;
      };
    },
  };
}

describe('history in cluster mode: shared offsets and resume on another node (Redis)', function () {
  const nodes = clusterNodesForSuite('history-cluster', 2, { history: { size: 100, ttlMs: 5 * 60_000 } });
  afterEach(closeAll);

  it('concurrent publishers on two nodes: one offset sequence per room, the same order for every subscriber', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'concurrent';
    const subs = await Promise.all([connect('v4', a.url, '/layout'), connect('v2', b.url, '/layout'), connect('v1', b.url, '/layout')]);
    for (const [i, s] of subs.entries()) await request(s, 'JOIN', { room, name: `sub${i}` });
    const got = subs.map((s) => events(s, room));
    const [pa, pb] = await Promise.all([connect('v4', a.url, '/layout'), connect('v4', b.url, '/layout')]);
    const per = 60;
    const acks = await Promise.all(
      [pa, pb].map(async (p, n) => {
        // Each publisher keeps 10 in flight: the two streams of publications interleave.
        const sent: Promise<{ ok: boolean; offset: number }>[] = [];
        for (let i = 0; i < per; i++) sent.push(request(p, 'NOTIFY', { room, message: `${n}:${i}` }));
        return Promise.all(sent);
      }),
    );
    const acked = acks.flat().map((ack) => ack.offset).sort((x, y) => x - y);
    expect(acked).to.deep.equal(range(1, 2 * per));
    await Promise.all(subs.map((s, i) => until(s, got[i]!, 2 * per)));
    for (const list of got) expect(offsets(list)).to.deep.equal(range(1, 2 * per));
    const order = got[0]!.map((e) => e.message);
    for (const list of got.slice(1)) expect(list.map((e) => e.message)).to.deep.equal(order);
    // Each publisher's own messages in the order it sent them.
    for (const n of [0, 1]) expect(order.filter((m) => String(m).startsWith(`${n}:`))).to.deep.equal(range(0, per - 1).map((i) => `${n}:${i}`));
  });

  it(`a burst of publications on one node reaches Redis in one call per ${MAX_MESSAGES} messages: offsets in order, every subscriber on both nodes gets each once, in order`, async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'burst';
    const subs = await Promise.all([connect('v4', a.url, '/layout'), connect('v4', b.url, '/layout')]);
    for (const [i, s] of subs.entries()) await request(s, 'JOIN', { room, name: `sub${i}` });
    const got = subs.map((s) => events(s, room));
    const count = MAX_MESSAGES + 6;
    const before = publishCallCount();
    // One synchronous loop: the publications of one event.
    const published = Array.from({ length: count }, (_, i) => a.service.core.publish(serverPublisher('/layout'), room, 'EVENT', { sender: 'server', room, message: i }));
    expect(publishCallCount() - before, 'calls before the tick ends: the full batch').to.equal(1);
    const metas = (await Promise.all(published)).map((p) => p.entry.meta!.offset);
    expect(publishCallCount() - before, 'calls: a full batch and the rest').to.equal(2);
    expect(metas).to.deep.equal(range(1, count));
    await Promise.all(subs.map((s, i) => until(s, got[i]!, count)));
    for (const list of got) {
      expect(list.map((e) => e.message)).to.deep.equal(range(0, count - 1));
      expect(offsets(list)).to.deep.equal(range(1, count));
    }
  });

  it('a client that lost its transport on node A resumes on node B with since: exactly the missed messages, in order, then live ones', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'resume';
    const sub = await connect('v4', a.url, '/layout');
    await request(sub, 'JOIN', { room, name: 'tv' });
    const before = events(sub, room);
    const pub = await connect('v4', b.url, '/layout');
    for (let i = 1; i <= 3; i++) await request(pub, 'NOTIFY', { room, message: `m${i}` });
    await until(sub, before, 3);
    await dropTransport(a, '/layout', sub.id).gone;
    for (let i = 4; i <= 7; i++) await request(pub, 'NOTIFY', { room, message: `m${i}` });

    const back = await connect('v4', b.url, '/layout');
    const after = events(back, room);
    const ack = await request(back, 'JOIN', { room, name: 'tv', since: before[2]!.meta });
    expect(ack).to.deep.include({ ok: true, recovered: true, replayed: 4, offset: 7, epoch: before[2]!.meta.epoch });
    for (let i = 8; i <= 9; i++) await request(pub, 'NOTIFY', { room, message: `m${i}` });
    await until(back, after, 6);
    expect(after.map((e) => e.message)).to.deep.equal(['m4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    expect(offsets(after)).to.deep.equal(range(4, 9));
    expect(after.every((e) => e.meta.epoch === before[0]!.meta.epoch)).to.equal(true);
  });

  it('resuming while a publisher keeps publishing: no gap and no duplicate, on either node', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'busy';
    const pub = await connect('v4', a.url, '/layout');
    const total = 400;
    let published = 0;
    // 20 in flight at any time: node B is always a few messages behind Redis, the race a resume must win.
    const publishing = (async () => {
      for (let i = 0; i < total; i += 20) {
        const acks = await Promise.all(range(i + 1, i + 20).map((n) => request(pub, 'NOTIFY', { room, message: n })));
        published = Math.max(published, ...acks.map((ack) => ack.offset as number));
      }
    })();
    // Learn the epoch from a live message, then resume from several positions while messages keep coming.
    const watcher = await connect('v4', b.url, '/layout');
    await request(watcher, 'JOIN', { room, name: 'watcher' });
    const epoch = (await next<Envelope>(watcher, 'EVENT')).meta.epoch;
    const resumers: { client: TestClient; got: Envelope[]; from: number }[] = [];
    for (const [i, node] of [a, b, a, b, b, a, b, b, a, b].entries()) {
      const client = await connect(i % 2 ? 'v2' : 'v4', node.url, '/layout');
      const got = events(client, room);
      const from = Math.max(1, published - 3 - i);
      const ack = await request(client, 'JOIN', { room, name: `r${i}`, since: { offset: from, epoch } });
      expect(ack, `resumer ${i}: ${JSON.stringify(ack)}`).to.include({ ok: true, recovered: true });
      resumers.push({ client, got, from });
    }
    await publishing;
    for (const [i, r] of resumers.entries()) {
      await until(r.client, r.got, total - r.from);
      expect(offsets(r.got), `resumer ${i} from ${r.from}`).to.deep.equal(range(r.from + 1, total));
    }
  });

  it('a client that saw more than this node has delivered: the resume waits for the node, nothing it saw comes again', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'ahead';
    const pub = await connect('v4', a.url, '/layout');
    const onA = await connect('v4', a.url, '/layout');
    await request(onA, 'JOIN', { room, name: 'on-a' });
    const seenOnA = events(onA, room);
    for (let n = 1; n <= 5; n++) await request(pub, 'NOTIFY', { room, message: n });
    await until(onA, seenOnA, 5);
    const epoch = seenOnA[0]!.meta.epoch;
    // Node B's reader is held: it has delivered the stream up to message 5, and no further.
    const hold = holdReader(b, '/layout');
    try {
      for (let n = 6; n <= 10; n++) await request(pub, 'NOTIFY', { room, message: n });
      await until(onA, seenOnA, 10);
      // The client saw up to 8 on node A, and resumes on node B. B is let go once it waits for
      // the message at 8 (or, without that wait, once the JOIN has been answered).
      hold.releaseWhenWaited(b.service.cluster!.cursor);
      const client = await connect('v4', b.url, '/layout');
      const got = events(client, room);
      const ack = await request(client, 'JOIN', { room, name: 'moved', since: { offset: 8, epoch } });
      hold.release();
      expect(ack).to.include({ ok: true, recovered: true });
      for (let n = 11; n <= 12; n++) await request(pub, 'NOTIFY', { room, message: n });
      await until(client, got, 4);
      expect(offsets(got), 'after 8, each once, in order').to.deep.equal([9, 10, 11, 12]);
    } finally {
      hold.release();
    }
  });

  it('trigger events (meta as a trailing argument) and HTTP publications share the offsets and resume on the other node', async () => {
    const [a, b] = nodes() as [Running, Running];
    // /trigger: STATUS data meta
    const watcher = await connect('v2', b.url, '/trigger');
    await request(watcher, 'JOIN', 't-shared');
    const statuses: [unknown, MessageMeta][] = [];
    watcher.on('STATUS', (data: unknown, meta: MessageMeta) => statuses.push([data, meta]));
    const publisher = await connect('v4', a.url, '/trigger');
    for (let n = 1; n <= 3; n++) expect(await request(publisher, 'BROADCAST_STATUS', 't-shared', { n })).to.include({ ok: true, offset: n });
    await waitUntil('three STATUS on node B', () => statuses.length === 3);
    const epoch = statuses[0]![1].epoch;
    const late = await connect('v4', a.url, '/trigger');
    const replayed: [unknown, MessageMeta][] = [];
    late.on('STATUS', (data: unknown, meta: MessageMeta) => replayed.push([data, meta]));
    expect(await request(late, 'JOIN', 't-shared', { since: { offset: 1, epoch } })).to.include({ ok: true, recovered: true, replayed: 2 });
    expect(replayed.map(([data, meta]) => [data, meta.offset])).to.deep.equal([[{ n: 2 }, 2], [{ n: 3 }, 3]]);

    // POST /bus-message on A, resumed on B's /bus
    const offsetsFromHttp: number[] = [];
    for (let n = 1; n <= 3; n++) {
      const res = await fetch(`${a.url}/bus-message/b-shared`, { method: 'POST', body: JSON.stringify({ n }) });
      offsetsFromHttp.push(((await res.json()) as { offset: number }).offset);
    }
    expect(offsetsFromHttp).to.deep.equal([1, 2, 3]);
    const device = await connect('v1', b.url, '/bus');
    const history = await request(device, 'HISTORY', { room: 'b-shared' });
    expect(history.messages.map((m: Envelope) => [m.sender, m.message, m.meta.offset])).to.deep.equal([['POST', { n: 1 }, 1], ['POST', { n: 2 }, 2], ['POST', { n: 3 }, 3]]);
    const missed = collect<Envelope>(device, 'EVENT', 2);
    expect(await request(device, 'JOIN', { room: 'b-shared', name: 'dev', since: history.messages[0].meta })).to.include({ ok: true, recovered: true, replayed: 2 });
    expect((await missed).map((m) => m.message)).to.deep.equal([{ n: 2 }, { n: 3 }]);
  });

  it('HISTORY on any node reads the shared recent history, as live subscribers got it, and pages with before', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'paged';
    const sub = await connect('v4', b.url, '/layout');
    await request(sub, 'JOIN', { room, name: 'sub' });
    const live = collect<Envelope>(sub, 'EVENT', 5);
    const pub = await connect('v4', a.url, '/layout');
    for (let i = 1; i <= 5; i++) await request(pub, 'NOTIFY', { room, message: { n: i } });
    const got = await live;
    const reader = await connect('v2', b.url, '/layout');
    const page1 = await request(reader, 'HISTORY', { room, limit: 3 });
    expect(page1).to.deep.equal({ ok: true, room, messages: got.slice(2) });
    const page2 = await request(reader, 'HISTORY', { room, limit: 3, before: got[2]!.meta });
    expect(page2.messages).to.deep.equal(got.slice(0, 2));
    expect((await request(reader, 'HISTORY', { room, before: got[0]!.meta })).messages).to.deep.equal([]);
    // Without an ack: a HISTORY event, from the other node.
    const onA = await connect('v4', a.url, '/layout');
    const event = next(onA, 'HISTORY');
    onA.emit('HISTORY', { room, limit: 1 });
    expect(await event).to.deep.equal({ room, messages: got.slice(4) });
  });

  it('the gap cannot be filled: TOO_OLD beyond --history-size, UNKNOWN_OFFSET, EPOCH_CHANGED once Redis lost the room; the socket is joined all the same', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'bounded';
    const pub = await connect('v4', a.url, '/layout');
    let last: { offset: number } = { offset: 0 };
    for (let i = 1; i <= 105; i++) last = await request(pub, 'NOTIFY', { room, message: i });
    expect(last.offset).to.equal(105);
    const probe = await connect('v4', b.url, '/layout');
    const head = await request(probe, 'JOIN', { room, name: 'p', since: { offset: 105, epoch: 'x' } });
    expect(head).to.deep.include({ ok: true, recovered: false, reason: 'EPOCH_CHANGED', offset: 105 });
    const epoch = head.epoch as string;

    const late = await connect('v4', b.url, '/layout');
    expect(await request(late, 'JOIN', { room, name: 'l', since: { offset: 4, epoch } })).to.deep.include({ ok: true, recovered: false, reason: 'TOO_OLD' });
    // 100 kept: from offset 5 on everything is there.
    const edge = await connect('v4', a.url, '/layout');
    const replayed = collect<Envelope>(edge, 'EVENT', 100);
    expect(await request(edge, 'JOIN', { room, name: 'e', since: { offset: 5, epoch } })).to.deep.include({ ok: true, recovered: true, replayed: 100 });
    expect(offsets(await replayed)).to.deep.equal(range(6, 105));
    const ahead = await connect('v4', b.url, '/layout');
    expect(await request(ahead, 'JOIN', { room, name: 'x', since: { offset: 106, epoch } })).to.deep.include({ ok: true, recovered: false, reason: 'UNKNOWN_OFFSET' });
    // Joined all the same: live messages reach it.
    const liveOne = next<Envelope>(late, 'EVENT');
    await request(pub, 'NOTIFY', { room, message: 'live' });
    expect((await liveOne).meta).to.include({ offset: 106, epoch });

    // Redis loses the room (a flush, a failover to an empty replica): the next message starts a new epoch.
    const redis = createClient({ url: a.service.config.cluster!.redisUrl });
    await redis.connect();
    const prefix = a.service.config.cluster!.keyPrefix;
    await redis.del([`${prefix}:hm:/layout|${room}`, `${prefix}:hs:/layout|${room}`]);
    await redis.close();
    const fresh = await request(pub, 'NOTIFY', { room, message: 'new epoch' });
    expect(fresh.offset).to.equal(1);
    const again = await connect('v4', b.url, '/layout');
    const answer = await request(again, 'JOIN', { room, name: 'g', since: { offset: 106, epoch } });
    expect(answer).to.deep.include({ ok: true, recovered: false, reason: 'EPOCH_CHANGED', offset: 1 });
    expect(answer.epoch).to.not.equal(epoch);
  });
});

/** A v4 client's recovery credentials: what socket.io-client sends when it reconnects (private fields). */
function sessionOf(socket: ClientSocket): { pid: string; offset: string } {
  const s = socket as unknown as { _pid?: string; _lastOffset?: string };
  if (!s._pid || !s._lastOffset) throw new Error('no session to recover: connection-state recovery is off, or no packet came yet');
  return { pid: s._pid, offset: s._lastOffset };
}

/**
 * The same v4 client coming back on another node: socket.io-client reconnects to the URL it has,
 * so the test opens the other node's URL with the session it kept, as a load balancer that moved
 * the client would make it do.
 */
function comeBack(url: string, session: { pid: string; offset: string }, got: Envelope[] = [], token?: string): Promise<ClientSocket> {
  const socket = ioV4(`${url}/layout`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { ...session, ...(token ? { token } : {}) } });
  opened.push(socket);
  // Before the connection: the missed messages may follow it at once.
  socket.on('EVENT', (e: Envelope) => got.push(e));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}
const opened: ClientSocket[] = [];

function v4(url: string, token?: string): Promise<ClientSocket> {
  const socket = ioV4(`${url}/layout`, { transports: ['websocket'], forceNew: true, reconnection: false, ...(token ? { auth: { token } } : {}) });
  opened.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/**
 * A v4 subscriber of `room` on node `a` that got one message from a publisher on `pubNode`, then
 * lost its transport: what every cross-node recovery test starts from.
 */
async function lostOnA(a: Running, pubNode: Running, room: string, drop = true): Promise<{ sub: ClientSocket; id: string; pub: TestClient }> {
  const sub = await v4(a.url);
  const id = sub.id!;
  expect(await sub.timeout(5000).emitWithAck('JOIN', { room, name: 'tv' })).to.include({ ok: true });
  const pub = await connect('v4', pubNode.url, '/layout');
  const first = new Promise<Envelope>((resolve) => sub.once('EVENT', resolve));
  await request(pub, 'NOTIFY', { room, message: 'm1' });
  expect((await first).message).to.equal('m1');
  if (drop) await dropTransport(a, '/layout', id).gone;
  return { sub, id, pub };
}

describe('connection-state recovery in cluster mode: back on another node', function () {
  const nodes = clusterNodesForSuite('csr-cluster', 2);
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    closeAll();
  });

  it('a v4 client that lost node A comes back on node B: same socket id, rooms and name, the missed messages in order, then live ones', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'csr';
    const { sub, id, pub } = await lostOnA(a, b, room);
    for (const m of ['m2', 'm3', 'm4']) await request(pub, 'NOTIFY', { room, message: m });

    const got: Envelope[] = [];
    const back = await comeBack(b.url, sessionOf(sub), got);
    expect(back.id).to.equal(id);
    await request(pub, 'NOTIFY', { room, message: 'm5' });
    await until(back as unknown as TestClient, got, 4);
    expect(got.map((e) => e.message)).to.deep.equal(['m2', 'm3', 'm4', 'm5']);
    expect(offsets(got)).to.deep.equal([2, 3, 4, 5]);
    expect((await request(pub, 'CLIENTS', { room })).clients).to.deep.equal(['tv']);
    // It publishes under its restored name, and is not sent its own message.
    const heard = next<Envelope>(pub, 'EVENT');
    await request(pub, 'JOIN', { room, name: 'pub' });
    expect(await back.timeout(5000).emitWithAck('NOTIFY', { room, message: 'from tv' })).to.include({ ok: true });
    expect(await heard).to.include({ sender: 'tv', message: 'from tv' });
  });

  it('missed messages are exact while a publisher keeps publishing during the restore', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'csr-busy';
    const { sub, pub } = await lostOnA(a, a, room);
    // 100 missed, then 400 more sent without waiting: node B delivers them while the restore runs.
    await Promise.all(range(2, 101).map((n) => request(pub, 'NOTIFY', { room, message: n })));
    const total = 501;
    const flood = Promise.all(range(102, total).map((n) => request(pub, 'NOTIFY', { room, message: n })));
    const got: Envelope[] = [];
    const back = await comeBack(b.url, sessionOf(sub), got);
    await flood;
    await until(back as unknown as TestClient, got, total - 1);
    expect(offsets(got)).to.deep.equal(range(2, total));
  });

  it('a client that got more on node A than node B has delivered: the restore waits for B, nothing comes twice', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'csr-ahead';
    const { sub, pub } = await lostOnA(a, a, room, false);
    // Node B's reader is held: it has delivered the stream up to m1, and no further.
    const hold = holdReader(b, '/layout');
    try {
      const more = new Promise<void>((resolve) => sub.on('EVENT', (e: Envelope) => e.message === 'm5' && resolve()));
      for (const m of ['m2', 'm3', 'm4', 'm5']) await request(pub, 'NOTIFY', { room, message: m });
      await more;
      await dropTransport(a, '/layout', sub.id!).gone;
      await request(pub, 'NOTIFY', { room, message: 'm6' });
      // B is let go once the restore waits for the client's offset (or, without that wait, once it is back).
      hold.releaseWhenWaited(b.service.cluster!.cursor);
      const got: Envelope[] = [];
      const back = await comeBack(b.url, sessionOf(sub), got);
      hold.release();
      await request(pub, 'NOTIFY', { room, message: 'm7' });
      await until(back as unknown as TestClient, got, 2);
      expect(got.map((e) => e.message), 'after m5, each once, in order').to.deep.equal(['m6', 'm7']);
    } finally {
      hold.release();
    }
  });

  it('a lobby member restored on the other node is in its lobby again: peers get LEFT, then JOINED once, and its BROADCASTs reach them', async () => {
    const [a, b] = nodes() as [Running, Running];
    const lobby = 'csr-lobby';
    const member = ioV4(`${a.url}/lobby`, { transports: ['websocket'], forceNew: true, reconnection: false });
    opened.push(member);
    await new Promise((resolve) => member.once('connect', () => resolve(undefined)));
    const id = member.id!;
    expect(await member.timeout(5000).emitWithAck('JOIN', lobby)).to.include({ ok: true });
    const peer = await connect('v4', b.url, '/lobby');
    await request(peer, 'JOIN', lobby);
    const heard = new Promise((resolve) => member.once('MESSAGE', resolve));
    await request(peer, 'BROADCAST', { message: 'hello' });
    await heard; // the member has a packet to resume from
    const notices: [string, string][] = [];
    peer.on('JOINED', (who: string) => notices.push(['JOINED', who]));
    peer.on('LEFT', (who: string) => notices.push(['LEFT', who]));
    const left = next(peer, 'LEFT');
    await dropTransport(a, '/lobby', id).gone;
    await left;

    const joined = next(peer, 'JOINED');
    const back = ioV4(`${b.url}/lobby`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: sessionOf(member) });
    opened.push(back);
    await new Promise((resolve) => back.once('connect', () => resolve(undefined)));
    expect(back.id).to.equal(id);
    expect(await joined).to.equal(id);
    const message = next<{ from: string; message: unknown }>(peer, 'MESSAGE');
    expect(await back.timeout(5000).emitWithAck('BROADCAST', { message: 'back' })).to.include({ ok: true });
    expect(await message).to.include({ from: id, message: 'back' });
    expect(notices).to.deep.equal([['LEFT', id], ['JOINED', id]]);
  });

  it('when the missed messages cannot be read, the node closes the restored connection and the client, retrying by itself, gets them', async () => {
    const [a, b] = nodes() as [Running, Running];
    const room = 'csr-unreadable';
    const { sub, id, pub } = await lostOnA(a, b, room);
    await request(pub, 'NOTIFY', { room, message: 'm2' });
    // Redis fails once between the session's restore and the read of what it missed.
    const restore = (b.service.io.of('/layout').adapter as unknown as { streamRestore: { read(after: string): Promise<unknown[]> } }).streamRestore;
    const read = restore.read;
    let failures = 0;
    restore.read = (after) => (failures++ === 0 ? Promise.reject(new Error('connection lost')) : read.call(restore, after));
    try {
      const got: Envelope[] = [];
      const socket = ioV4(`${b.url}/layout`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, auth: sessionOf(sub) });
      opened.push(socket);
      socket.on('EVENT', (e: Envelope) => got.push(e));
      const connects: (string | undefined)[] = [];
      const twice = new Promise<void>((resolve) =>
        socket.on('connect', () => {
          connects.push(socket.id);
          if (connects.length === 2) resolve();
        }),
      );
      await twice;
      expect(connects).to.deep.equal([id, id]);
      await until(socket as unknown as TestClient, got, 1);
      await request(pub, 'NOTIFY', { room, message: 'm3' });
      await until(socket as unknown as TestClient, got, 2);
      expect(got.map((e) => e.message)).to.deep.equal(['m2', 'm3']);
      expect(failures).to.equal(2);
    } finally {
      restore.read = read;
    }
  });

  it('an unknown session or a client that had no packet yet connects as a new socket', async () => {
    const [, b] = nodes() as [Running, Running];
    const fresh = await comeBack(b.url, { pid: 'no-such-session', offset: '1-0' });
    expect(fresh.recovered).to.equal(false);
    const bad = await comeBack(b.url, { pid: 'x', offset: 'not an offset' });
    expect(bad.connected).to.equal(true);
  });
});

describe('connection-state recovery in cluster mode, with authentication', function () {
  const nodes = clusterNodesForSuite('csr-auth', 2, { auth: secretAuth() });
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    closeAll();
  });

  it('the restored socket passes the middlewares on the new node: only the rooms its current token allows, and only their missed messages', async () => {
    const [a, b] = nodes() as [Running, Running];
    const sub = await v4(a.url, await hsToken({ sub: 'alice', rooms: { subscribe: ['x', 'y'], publish: [] } }));
    const id = sub.id!;
    for (const room of ['x', 'y']) expect(await sub.timeout(5000).emitWithAck('JOIN', { room })).to.include({ ok: true });
    const pub = await connect('v4', b.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'bob', rooms: ALL_ROOMS }) } } });
    const first = new Promise<Envelope>((resolve) => sub.once('EVENT', resolve));
    await request(pub, 'NOTIFY', { room: 'x', message: 'x0' });
    await first;
    await dropTransport(a, '/layout', id).gone;
    await request(pub, 'NOTIFY', { room: 'x', message: 'x1' });
    await request(pub, 'NOTIFY', { room: 'y', message: 'y1' });

    const narrower = await hsToken({ sub: 'alice', rooms: { subscribe: ['x'], publish: [] } });
    const got: Envelope[] = [];
    const back = await comeBack(b.url, sessionOf(sub), got, narrower);
    expect(back.id).to.equal(id);
    await request(pub, 'NOTIFY', { room: 'y', message: 'y2' });
    await request(pub, 'NOTIFY', { room: 'x', message: 'x2' });
    await until(back as unknown as TestClient, got, 2);
    expect((await back.timeout(5000).emitWithAck('HISTORY', { room: 'x', limit: 1 })).ok).to.equal(true);
    expect(got.map((e) => e.message)).to.deep.equal(['x1', 'x2']);
    expect((await request(pub, 'CLIENTS', { room: 'y' })).clients).to.deep.equal([]);
    expect((await request(pub, 'CLIENTS', { room: 'x' })).clients).to.deep.equal(['alice']);
  });
});
