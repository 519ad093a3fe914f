/**
 * The hub is transport-neutral: a member that is not a socket.io socket (a Subscriber with no
 * group, held by the hub, as a plain WebSocket or an SSE response would be) is in the same rooms as
 * real socket.io-client 4 members and gets what they get, once, with the same meta, from every
 * publication path (a socket.io NOTIFY, POST /bus-message, a held member's own publication, lobby
 * notices), and a JOIN `since` replay before the live messages.
 *
 * Run on a single node and on a cluster of two nodes on one Redis: there, publications are made
 * on node A and the held subscribers are on node B, so they reach them through the cluster stream.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { RoomNames } from '../lib/core/room-names.js';
import type { Envelope, MessageMeta, Protocol, Subscriber } from '../lib/core/types.js';
import { closeAll, collect, connect, next, request, type TestClient } from './helpers/clients.js';
import { clusterNodesForSuite } from './helpers/cluster.js';
import { startService, type Running } from './helpers/service.js';

/** A member the hub holds and writes to itself (no group): it records what it is sent. */
class HeldSubscriber implements Subscriber {
  readonly id = `held-${randomUUID()}`;
  readonly protocol: Protocol = 'sse';
  readonly auth = undefined;
  readonly trusted = false;
  readonly group = undefined;
  readonly rooms = new RoomNames();
  connected = true;
  /** Throws from send instead of recording (a member whose transport failed). */
  broken = false;
  readonly got: Envelope[] = [];
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

  constructor(readonly ns: string) {}

  send(envelope: Envelope): void {
    if (this.broken) throw new Error('this subscriber cannot write');
    this.got.push(envelope);
    this.waiters = this.waiters.filter((w) => {
      if (!w.done()) return true;
      w.resolve();
      return false;
    });
  }

  unsentBytes(): number {
    return 0;
  }

  /** Resolves once `done()` holds (checked at each envelope sent); fails after 5 s. */
  until(what: string, done: () => boolean, ms = 5000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`held subscriber: ${what} not within ${ms} ms (got ${this.got.length})`)), ms);
      this.waiters.push({
        done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Resolves once it has been sent `count` envelopes. */
  count(count: number): Promise<void> {
    return this.until(`${count} envelopes`, () => this.got.length >= count);
  }

  /** Resolves once it was sent an EVENT whose message is `message`. */
  sawMessage(message: unknown): Promise<void> {
    return this.until(`EVENT ${JSON.stringify(message)}`, () => this.messages().some((m) => JSON.stringify(m) === JSON.stringify(message)));
  }

  /** The `message` of every EVENT it was sent. */
  messages(): unknown[] {
    return this.got.filter((e) => e.event === 'EVENT').map((e) => (e.args[0] as { message: unknown }).message);
  }
}

interface EventPayload {
  sender: string;
  room: string;
  message: unknown;
  meta: MessageMeta;
}

/** One node for the suite, as a one-element list like a cluster's. */
function singleNodeForSuite(): () => Running[] {
  let node: Running | undefined;
  before(async () => {
    node = await startService();
  });
  after(() => node?.close());
  return () => [node!];
}

const SETUPS = [
  { name: 'a single node', nodes: () => singleNodeForSuite() },
  { name: 'a cluster of two nodes on one Redis: published on node A, held on node B', nodes: () => clusterNodesForSuite('hub', 2) },
] as const;

for (const setup of SETUPS) {
  describe(`hub: a held subscriber and socket.io members in the same rooms (${setup.name})`, function () {
    const nodes = setup.nodes();
    /** Where publications are made, and where the held subscribers are (the same node on a single node). */
    const A = (): Running => nodes()[0]!;
    const B = (): Running => nodes()[nodes().length - 1]!;
    let held: HeldSubscriber[] = [];
    let rooms = 0;
    /** A room of this case's own. */
    const room = (): string => `room-${++rooms}`;

    /** A held subscriber of `ns` on node B. */
    const subscriber = (ns: string): HeldSubscriber => {
      const s = new HeldSubscriber(ns);
      held.push(s);
      return s;
    };
    /** A socket.io-client 4 member of `ns` on `node`, in `r` under `name`. */
    const member = async (node: Running, ns: string, r: string, name: string): Promise<TestClient> => {
      const c = await connect('v4', node.url, ns);
      expect(await request(c, 'JOIN', { room: r, name })).to.include({ ok: true });
      return c;
    };

    afterEach(async () => {
      closeAll();
      for (const s of held.splice(0)) {
        s.connected = false;
        await B().service.core.detach(s);
      }
    });

    it('a NOTIFY on /layout reaches socket.io members and the held subscriber exactly once, with the same meta; never its publisher', async () => {
      const r = room();
      const sub = subscriber('/layout');
      expect(await B().service.core.join(sub, r, 'held')).to.deep.equal({ name: 'held', recovery: undefined });
      const [publisher, onA, onB] = [await member(A(), '/layout', r, 'publisher'), await member(A(), '/layout', r, 'a'), await member(B(), '/layout', r, 'b')];
      // Presence is the hub's, whoever the member: CLIENTS lists the held subscriber too.
      expect([...(await request(onA, 'CLIENTS', { room: r })).clients].sort()).to.deep.equal(['a', 'b', 'held', 'publisher']);
      const own: unknown[] = [];
      publisher.on('EVENT', (e: unknown) => own.push(e));
      const count = 5;
      const got = [onA, onB].map((c) => collect<EventPayload>(c, 'EVENT', count));
      for (let i = 0; i < count; i++) {
        expect(await request(publisher, 'NOTIFY', { room: r, message: { i } })).to.deep.include({ ok: true, offset: i + 1, recipients: 3 });
      }
      const [fromA, fromB] = await Promise.all(got);
      await sub.count(count);
      for (let i = 0; i < count; i++) {
        const envelope = sub.got[i]!;
        expect(envelope).to.deep.include({ ns: '/layout', room: r, event: 'EVENT' });
        expect(envelope.meta).to.include({ offset: i + 1 });
        // What the socket.io members got, meta and all, is what the held subscriber was sent.
        expect(envelope.args[0]).to.deep.equal({ sender: 'publisher', room: r, message: { i }, meta: envelope.meta });
        expect(fromA![i]).to.deep.equal(envelope.args[0]);
        expect(fromB![i]).to.deep.equal(envelope.args[0]);
      }
      // A marker from another member: anything doubled before it would have come by then.
      const marker = next<EventPayload>(publisher, 'EVENT');
      await request(onB, 'NOTIFY', { room: r, message: 'marker' });
      await sub.sawMessage('marker');
      expect((await marker).message).to.equal('marker');
      expect(sub.messages()).to.deep.equal([...Array.from({ length: count }, (_, i) => ({ i })), 'marker']);
      expect(own.map((e) => (e as EventPayload).message), 'the publisher got its own').to.deep.equal(['marker']);
    });

    it('POST /bus-message/:room reaches /bus socket.io members and the held subscriber exactly once, with the same meta', async () => {
      const r = room();
      const sub = subscriber('/bus');
      await B().service.core.join(sub, r, 'held');
      const [onA, onB] = [await member(A(), '/bus', r, 'a'), await member(B(), '/bus', r, 'b')];
      const got = [onA, onB].map((c) => collect<EventPayload>(c, 'EVENT', 2));
      const post = async (message: unknown) => {
        const res = await fetch(`${A().url}/bus-message/${encodeURIComponent(r)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
        expect(res.status).to.equal(200);
        return (await res.json()) as { ok: boolean; offset: number; recipients: number };
      };
      expect(await post({ command: 'refresh', text: 'déjà ✓' })).to.deep.equal({ ok: true, room: r, recipients: 3, offset: 1 });
      expect(await post('second')).to.include({ offset: 2 });
      const received = await Promise.all(got);
      await sub.count(2);
      expect(sub.got.map((e) => e.args[0])).to.deep.equal([
        { sender: 'POST', room: r, message: { command: 'refresh', text: 'déjà ✓' }, meta: sub.got[0]!.meta },
        { sender: 'POST', room: r, message: 'second', meta: sub.got[1]!.meta },
      ]);
      expect(sub.got.map((e) => e.meta?.offset)).to.deep.equal([1, 2]);
      for (const events of received) expect(events).to.deep.equal(sub.got.map((e) => e.args[0]));
      // A marker: nothing came twice.
      await request(onB, 'NOTIFY', { room: r, message: 'marker' });
      await sub.sawMessage('marker');
      expect(sub.messages()).to.have.length(3);
    });

    it("a held subscriber's own publication reaches the socket.io members and the other held subscribers, never itself", async () => {
      const r = room();
      const [publisher, other] = [subscriber('/layout'), subscriber('/layout')];
      await B().service.core.join(publisher, r, 'held publisher');
      await B().service.core.join(other, r, 'other');
      const [onA, onB] = [await member(A(), '/layout', r, 'a'), await member(B(), '/layout', r, 'b')];
      const got = [onA, onB].map((c) => next<EventPayload>(c, 'EVENT'));
      const published = B().service.core.publish(publisher, r, 'EVENT', { sender: 'held publisher', room: r, message: 'from held' });
      const receipt = await B().service.core.receipt(published, false, {});
      expect(receipt).to.deep.equal({ offset: 1, recipients: 3 });
      const [atA, atB] = await Promise.all(got);
      await other.sawMessage('from held');
      expect(atA).to.deep.equal(other.got[0]!.args[0]);
      expect(atB).to.deep.equal(other.got[0]!.args[0]);
      await request(onB, 'NOTIFY', { room: r, message: 'marker' });
      await Promise.all([publisher.sawMessage('marker'), other.sawMessage('marker')]);
      expect(publisher.messages()).to.deep.equal(['marker']);
      expect(other.messages()).to.deep.equal(['from held', 'marker']);
    });

    it('leave and detach stop deliveries, and take the member out of the presence', async () => {
      const [r, r2] = [room(), room()];
      const [leaving, detached] = [subscriber('/layout'), subscriber('/layout')];
      const core = B().service.core;
      for (const s of [leaving, detached]) await core.join(s, r, s.id);
      await core.join(detached, r2, 'detached');
      const publisher = await connect('v4', A().url, '/layout');
      // Seen on node B: by the time a member there has a message, B's hub has written it to the held members too.
      const observer = await member(B(), '/layout', r, 'observer');
      const observer2 = await member(B(), '/layout', r2, 'observer');
      const notify = async (to: TestClient, r: string, message: string) => {
        const seen = next<EventPayload>(to, 'EVENT');
        await request(publisher, 'NOTIFY', { room: r, message });
        expect((await seen).message).to.equal(message);
      };
      await notify(observer, r, 'one');
      expect(await core.leave(leaving, r)).to.equal(true);
      expect(await core.leave(leaving, r)).to.equal(false);
      expect(await A().service.core.isMember('/layout', r, leaving.id)).to.equal(false);
      await notify(observer, r, 'two');
      detached.connected = false;
      await core.detach(detached);
      expect(detached.rooms.size).to.equal(0);
      expect(await A().service.core.isMember('/layout', r, detached.id)).to.equal(false);
      expect(await A().service.core.isMember('/layout', r2, detached.id)).to.equal(false);
      await notify(observer, r, 'three');
      await notify(observer2, r2, 'elsewhere');
      expect(leaving.messages()).to.deep.equal(['one']);
      expect(detached.messages()).to.deep.equal(['one', 'two']);
    });

    it('a member closed while its join waits for authorization is not left in the room (held or socket.io)', async () => {
      const r = room();
      const core = B().service.core;
      // Authorization that answers when the test says, as --authorize-url does when its backend is slow.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let asked!: () => void;
      const bothAsked = new Promise<void>((resolve) => {
        let n = 0;
        asked = () => ++n === 2 && resolve();
      });
      const access = core.access;
      core.access = {
        authorize: () => {
          asked();
          return gate;
        },
      };
      // Every join made meanwhile (the socket's through its JOIN verb), to wait for them to finish.
      const join = core.join;
      const joins: Array<Promise<unknown>> = [];
      core.join = (...args) => {
        const joining = join.apply(core, args);
        joins.push(Promise.resolve(joining));
        return joining;
      };
      const sub = subscriber('/layout');
      const client = await connect('v4', B().url, '/layout');
      const socketId = client.id;
      const nsp = B().service.io.of('/layout');
      try {
        void core.join(sub, r, 'late');
        client.emit('JOIN', { room: r, name: 'late socket' });
        await bothAsked;
        // Both go away before the answer: the held one is detached by its owner, the socket disconnects.
        sub.connected = false;
        await core.detach(sub);
        const gone = new Promise((resolve) => nsp.sockets.get(socketId)!.once('disconnect', resolve));
        client.close();
        await gone;
        release();
        await Promise.allSettled(joins);
      } finally {
        core.access = access;
        core.join = join;
      }
      expect(nsp.adapter.rooms.get(`r:${r}`), 'the socket.io room').to.equal(undefined);
      expect(core.localCount('/layout', r), 'members of the room on this node').to.equal(0);
      expect(await core.members('/layout', r)).to.deep.equal([]);
      const observer = await member(B(), '/layout', r, 'observer');
      const publisher = await connect('v4', A().url, '/layout');
      const seen = next<EventPayload>(observer, 'EVENT');
      expect(await request(publisher, 'NOTIFY', { room: r, message: 'after' })).to.include({ ok: true, recipients: 1 });
      await seen;
      expect(sub.got).to.deep.equal([]);
    });

    it('JOIN since: the held subscriber gets what it missed, in order, before the live messages, none twice', async () => {
      const r = room();
      const core = B().service.core;
      const publisher = await connect('v4', A().url, '/layout');
      const observer = await member(A(), '/layout', r, 'observer');
      const first = collect<EventPayload>(observer, 'EVENT', 4);
      for (let i = 1; i <= 4; i++) await request(publisher, 'NOTIFY', { room: r, message: i });
      const epoch = (await first)[0]!.meta.epoch;
      const sub = subscriber('/layout');
      // Live messages while it joins: published before the join finishes, delivered after its replay.
      const live = Array.from({ length: 4 }, (_, i) => request(publisher, 'NOTIFY', { room: r, message: 5 + i }));
      const joined = await core.join(sub, r, 'held', { offset: 1, epoch });
      expect(joined.recovery).to.deep.include({ recovered: true });
      await Promise.all(live);
      await sub.until('offset 8', () => sub.got.some((e) => e.meta?.offset === 8));
      // A position the room never gave: told so, nothing replayed, joined all the same.
      const stranger = subscriber('/layout');
      expect((await core.join(stranger, r, 'stranger', { offset: 3, epoch: 'not-this-one' })).recovery).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
      await request(observer, 'NOTIFY', { room: r, message: 'marker' });
      await Promise.all([sub.sawMessage('marker'), stranger.sawMessage('marker')]);
      expect(sub.got.map((e) => e.meta?.offset)).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9]);
      expect(sub.messages()).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 'marker']);
      for (const e of sub.got) expect(e.meta?.epoch).to.equal(epoch);
      expect(stranger.messages()).to.deep.equal(['marker']);
    });

    it('a held subscriber whose send throws does not stop delivery to the others', async () => {
      const r = room();
      const core = B().service.core;
      const [broken, good] = [subscriber('/layout'), subscriber('/layout')];
      broken.broken = true;
      // Joined first: the hub meets it before the good one.
      await core.join(broken, r, 'broken');
      await core.join(good, r, 'good');
      const publisher = await connect('v4', A().url, '/layout');
      const onB = await member(B(), '/layout', r, 'b');
      const got = collect<EventPayload>(onB, 'EVENT', 3);
      for (let i = 0; i < 3; i++) await request(publisher, 'NOTIFY', { room: r, message: i });
      expect((await got).map((e) => e.message)).to.deep.equal([0, 1, 2]);
      await good.count(3);
      expect(good.messages()).to.deep.equal([0, 1, 2]);
      expect(broken.got).to.deep.equal([]);
    });

    it('lobby notices (JOINED, LEFT) and messages of socket.io members on node A reach a held subscriber on node B, each once', async () => {
      const lobby = room();
      const sub = subscriber('/lobby');
      await B().service.core.join(sub, lobby, sub.id);
      const first = await connect('v4', A().url, '/lobby');
      expect(await request(first, 'JOIN', lobby)).to.deep.include({ ok: true, peers: [sub.id] });
      await sub.count(1);
      expect(sub.got[0]).to.deep.equal({ ns: '/lobby', room: lobby, event: 'JOINED', args: [first.id], meta: undefined });
      expect(await request(first, 'BROADCAST', { message: { hello: 'lobby' } })).to.include({ ok: true, offset: 1 });
      expect(await request(first, 'LEAVE', lobby)).to.include({ ok: true });
      // Joined by its ?lobbyId= (PEERS comes once its JOINED went out), then gone.
      let peers!: (ids: string[]) => void;
      const joinedSecond = new Promise<string[]>((resolve) => (peers = resolve));
      const second = await connect('v4', A().url, '/lobby', { query: { lobbyId: lobby }, listeners: { PEERS: (ids: string[]) => peers(ids) } });
      expect(await joinedSecond).to.deep.equal([sub.id]);
      second.close();
      // LEFT at the disconnect is the last one: everything before it has come by then.
      await sub.until('LEFT of the second member', () => sub.got.some((e) => e.event === 'LEFT' && e.args[0] === second.id));
      expect(sub.got.map((e) => [e.event, e.args[0]])).to.deep.equal([
        ['JOINED', first.id],
        ['MESSAGE', { from: first.id, message: { hello: 'lobby' }, meta: sub.got[1]!.meta }],
        ['LEFT', first.id],
        ['JOINED', second.id],
        ['LEFT', second.id],
      ]);
      expect(sub.got[1]!.meta).to.include({ offset: 1 });
      expect(sub.got.filter((e) => e.event !== 'MESSAGE').map((e) => e.meta)).to.deep.equal([undefined, undefined, undefined, undefined]);
    });
  });
}
