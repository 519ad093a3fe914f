/**
 * /sock: Awayto-style topics on a plain WebSocket, with the real `ws` client. Connecting, the
 * subscribe / participants / publish / unsubscribe flow (the sender gets its own publication, with
 * meta), rooms apart from socket.io's, bad input for every action, limits (1009, rates), auth
 * refusals before the handshake, stored messages, and two nodes on Redis.
 */
import { faultyStore, type FaultyStore } from './helpers/faulty-store.js';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { openMessageStore } from '../lib/storage/index.js';
import { ALL_ROOMS, hsToken, secretAuth, TestHttpServer } from './helpers/auth.js';
import { connect, next, request } from './helpers/clients.js';
import { clusterNodesForSuite } from './helpers/cluster.js';
import { captureLogger } from './helpers/logs.js';
import { tempDir } from './helpers/process.js';
import { serviceForSuite, startService, type Running } from './helpers/service.js';
import { closeSockets, openSock, refusedUpgrade, type SockClient, type SockFrameIn } from './helpers/sock.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function subscribe(client: SockClient, topic: string): Promise<SockFrameIn> {
  client.send({ action: 'subscribe', topic });
  return client.next('subscribe-topic');
}

/** The next error frame must have `code` (frames of other actions before it are skipped). */
async function expectError(client: SockClient, code: string, topic?: string): Promise<SockFrameIn> {
  const frame = await client.next('error');
  expect(frame.action, JSON.stringify(frame)).to.equal('error');
  expect(frame.payload.code).to.equal(code);
  expect(frame.payload.message).to.be.a('string');
  expect(frame.timestamp).to.match(ISO);
  if (topic !== undefined) expect(frame.topic).to.equal(topic);
  return frame;
}

/** The connection is still open and served: a subscribe is answered. */
async function stillServed(client: SockClient): Promise<void> {
  const topic = `alive-${Math.random()}`;
  const frame = await subscribe(client, topic);
  expect(frame.topic).to.equal(topic);
}

describe('/sock (plain WebSocket)', () => {
  afterEach(closeSockets);

  describe('with --auth none', () => {
    const svc = serviceForSuite();

    it('answers the open with connected {connectionId}, an id unlike any socket.io id', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      const first = a.frames[0]!;
      expect(first.action).to.equal('connected');
      expect(first.timestamp).to.match(ISO);
      expect(a.connectionId).to.match(/^ws-[\w-]{22}$/);
      expect(a.connectionId).to.not.equal(b.connectionId);
    });

    it('subscribe: the newcomer learns the others, every participant (the newcomer too) gets subscribe-topic', async () => {
      const a = await openSock(svc.url, '/sock?name=alice');
      const b = await openSock(svc.url, '/sock?name=bob');
      const own = await subscribe(a, 'room1');
      expect(own).to.include({ action: 'subscribe-topic', topic: 'room1', sender: a.connectionId });
      expect(own.payload).to.deep.equal([{ scid: 'alice', cids: [a.connectionId], name: 'alice', role: '', online: true }]);
      expect(a.frames.map((f) => f.action)).to.deep.equal(['connected', 'subscribe-topic']); // alone: no existing list

      b.send({ action: 'subscribe', topic: 'room1' });
      expect(await b.next()).to.include({ action: 'subscribers-existing', topic: 'room1' });
      const existing = await b.next();
      expect(existing).to.include({ action: 'existing-subscribers', topic: 'room1', sender: b.connectionId });
      expect(existing.payload).to.deep.equal([{ scid: 'alice', cids: [a.connectionId], name: 'alice', role: '', online: true }]);
      const joined = await b.next();
      expect(joined).to.include({ action: 'subscribe-topic', topic: 'room1', sender: b.connectionId });
      expect(joined.payload).to.deep.equal([{ scid: 'bob', cids: [b.connectionId], name: 'bob', role: '', online: true }]);
      const told = await a.next();
      expect(told).to.deep.include({ action: 'subscribe-topic', topic: 'room1', sender: b.connectionId, payload: joined.payload });
    });

    it('a user with two connections is one participant listing both; anonymous connections are their own scid', async () => {
      const a1 = await openSock(svc.url, '/sock?name=carol');
      const a2 = await openSock(svc.url, '/sock?name=carol');
      const anon = await openSock(svc.url);
      await subscribe(a1, 'multi');
      const second = await subscribe(a2, 'multi');
      expect(second.payload).to.have.length(1);
      expect(second.payload[0].scid).to.equal('carol');
      expect(second.payload[0].cids).to.have.members([a1.connectionId, a2.connectionId]);
      await subscribe(anon, 'multi');
      anon.send({ action: 'load-subscribers', topic: 'multi' });
      const list = await anon.next('existing-subscribers');
      expect(list.sender).to.equal(undefined);
      expect(list.payload).to.have.deep.members([
        { scid: 'carol', cids: second.payload[0].cids, name: 'carol', role: '', online: true },
        { scid: anon.connectionId, cids: [anon.connectionId], name: anon.connectionId, role: '', online: true },
      ]);
    });

    it('publishes any other action to every subscriber, the sender included, with store and meta', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      const outsider = await openSock(svc.url);
      await subscribe(a, 'pub');
      await subscribe(b, 'pub');
      await subscribe(outsider, 'elsewhere');
      b.send({ action: 'normal-message', topic: 'pub', payload: { message: 'hi' } });
      const [toA, toB] = await Promise.all([a.next('normal-message'), b.next('normal-message')]);
      expect(toA).to.deep.equal(toB);
      expect(toA).to.deep.include({ sender: b.connectionId, action: 'normal-message', topic: 'pub', payload: { message: 'hi' }, store: false });
      expect(toA.timestamp).to.match(ISO);
      expect(toA.meta!.offset).to.equal(1);
      expect(toA.meta!.epoch).to.be.a('string');
      expect(toA.meta!.ts).to.be.a('number');
      a.send({ action: 'x', topic: 'pub' });
      const second = await b.next('x');
      expect(second.payload).to.equal(null);
      expect(second.meta!.offset).to.equal(2);
      expect(outsider.frames.some((f) => f.topic === 'pub' && f.action !== 'subscribe-topic')).to.equal(false);
    });

    it('unsubscribe and disconnect tell the others unsubscribe-topic; a second unsubscribe is NOT_SUBSCRIBED', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      const c = await openSock(svc.url);
      await subscribe(a, 'leave');
      await subscribe(b, 'leave');
      await subscribe(c, 'leave');
      b.send({ action: 'unsubscribe', topic: 'leave' });
      expect(await a.next('unsubscribe-topic')).to.include({ topic: 'leave', sender: b.connectionId, payload: b.connectionId });
      expect(await c.next('unsubscribe-topic')).to.include({ sender: b.connectionId });
      b.send({ action: 'unsubscribe', topic: 'leave' });
      await expectError(b, 'NOT_SUBSCRIBED', 'leave');
      c.ws.close();
      expect(await a.next('unsubscribe-topic')).to.include({ topic: 'leave', sender: c.connectionId, payload: c.connectionId });
      a.send({ action: 'load-subscribers', topic: 'leave' });
      expect((await a.next('existing-subscribers')).payload.map((p: { scid: string }) => p.scid)).to.deep.equal([a.connectionId]);
    });

    it('subscribing again is harmless: one membership, no new notice to the others', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      await subscribe(a, 'twice');
      await subscribe(b, 'twice');
      await a.next('subscribe-topic');
      await subscribe(b, 'twice');
      b.send({ action: 'load-subscribers', topic: 'twice' });
      expect((await b.next('existing-subscribers')).payload).to.have.length(2);
      // The next thing a sees is the publication, not a second notice.
      b.send({ action: 'm', topic: 'twice' });
      expect((await a.next()).action).to.equal('m');
    });

    it('socket.io rooms and /sock topics of the same name are apart', async () => {
      const io = await connect('v4', svc.url, '/layout');
      await request(io, 'JOIN', { room: 'shared' });
      const s = await openSock(svc.url);
      await subscribe(s, 'shared');
      let toSocketIo = 0;
      io.on('EVENT', () => toSocketIo++);
      s.send({ action: 'chat', topic: 'shared', payload: 'from sock' });
      await s.next('chat');
      await request(io, 'NOTIFY', { room: 'shared', message: 'from socket.io' });
      // Published after, received in order: had the /sock message crossed over, it would have come first.
      const other = await connect('v4', svc.url, '/layout');
      await request(other, 'JOIN', { room: 'shared' });
      const seen = next(io, 'EVENT');
      await request(other, 'NOTIFY', { room: 'shared', message: 'barrier' });
      expect((await seen).message).to.equal('barrier');
      expect(toSocketIo).to.equal(1);
      s.send({ action: 'load-subscribers', topic: 'shared' });
      const list = await s.next('existing-subscribers');
      expect(list.payload).to.have.length(1);
      expect(s.frames.filter((f) => f.action === 'chat')).to.have.length(1);
    });

    it('bad frames are BAD_REQUEST (or NOT_SUBSCRIBED), and the connection is kept', async () => {
      const s = await openSock(svc.url);
      await subscribe(s, 'mine');
      const cases: Array<[unknown, string]> = [
        ['not json', 'BAD_REQUEST'],
        ['[1,2]', 'BAD_REQUEST'],
        ['42', 'BAD_REQUEST'],
        ['null', 'BAD_REQUEST'],
        [{ topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 5, topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: '', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'subscribe' }, 'BAD_REQUEST'],
        [{ action: 'subscribe', topic: 7 }, 'BAD_REQUEST'],
        [{ action: 'subscribe', topic: '' }, 'BAD_REQUEST'],
        [{ action: 'subscribe', topic: 'x'.repeat(10_000) }, 'BAD_REQUEST'],
        [{ action: 'unsubscribe', topic: {} }, 'BAD_REQUEST'],
        [{ action: 'load-subscribers' }, 'BAD_REQUEST'],
        [{ action: 'load-messages', topic: 'mine', payload: 'page 1' }, 'BAD_REQUEST'],
        [{ action: 'load-messages', topic: 'mine', payload: { page: 0 } }, 'BAD_REQUEST'],
        [{ action: 'load-messages', topic: 'mine', payload: { pageSize: 101 } }, 'BAD_REQUEST'],
        [{ action: 'load-messages', topic: 'mine', payload: { page: 1.5 } }, 'BAD_REQUEST'],
        [{ action: 'load-messages', topic: 'mine', payload: { page: 11, pageSize: 100 } }, 'BAD_REQUEST'],
        [{ action: 'chat', topic: 'mine', store: 'yes' }, 'BAD_REQUEST'],
        [{ action: 'connected', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'error', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'subscribe-topic', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'unsubscribe-topic', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'subscribers-existing', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'existing-subscribers', topic: 'mine' }, 'BAD_REQUEST'],
        [{ action: 'has-more-messages', topic: 'mine' }, 'BAD_REQUEST'],
        ['{"action":"chat","topic":"mine","payload":' + '['.repeat(100) + ']'.repeat(100) + '}', 'BAD_REQUEST'],
        [{ action: 'chat', topic: 'not-mine' }, 'NOT_SUBSCRIBED'],
        [{ action: 'unsubscribe', topic: 'not-mine' }, 'NOT_SUBSCRIBED'],
        [{ action: 'load-subscribers', topic: 'not-mine' }, 'NOT_SUBSCRIBED'],
        [{ action: 'load-messages', topic: 'not-mine' }, 'NOT_SUBSCRIBED'],
      ];
      const before = s.frames.length;
      for (const [frame, code] of cases) {
        s.send(frame);
        await expectError(s, code);
      }
      s.ws.send(Buffer.from('{"action":"subscribe","topic":"bin"}'));
      await expectError(s, 'BAD_REQUEST');
      // One error per bad frame, and nothing else.
      expect(s.frames.slice(before).map((f) => f.action)).to.deep.equal(new Array(cases.length + 1).fill('error'));
      await stillServed(s);
    });

    it('store: true without a message store is STORE_FAILED and delivers nothing', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      await subscribe(a, 'nostore');
      await subscribe(b, 'nostore');
      await a.next('subscribe-topic');
      b.send({ action: 'kept', topic: 'nostore', store: true, payload: 1 });
      await expectError(b, 'STORE_FAILED', 'nostore');
      b.send({ action: 'live', topic: 'nostore' });
      const live = await a.next();
      expect(live.action).to.equal('live');
      expect(live.meta!.offset, 'the refused message took no offset').to.equal(1);
    });

    it('load-messages without a message store: nothing stored, has-more-messages false', async () => {
      const s = await openSock(svc.url);
      await subscribe(s, 'empty');
      s.send({ action: 'load-messages', topic: 'empty' });
      expect(await s.next()).to.include({ action: 'has-more-messages', topic: 'empty', payload: false });
    });

    it('upgrades of other paths get 404; socket.io still connects beside /sock', async () => {
      const refused = await refusedUpgrade(svc.url, '/other');
      expect(refused.status).to.equal(404);
      expect(refused.body.error.code).to.equal('NOT_FOUND');
      expect((await refusedUpgrade(svc.url, '/sock/a/b')).status).to.equal(404);
      expect((await refusedUpgrade(svc.url, '/sock/%E0%A4%A')).status).to.equal(404); // unreadable: refused, no crash
      const io = await connect('v4', svc.url, '/layout', { transport: 'websocket' });
      expect(await request(io, 'JOIN', { room: 'r' })).to.include({ ok: true });
    });
  });

  describe('limits', () => {
    const svc = serviceForSuite({ maxPayload: 2048, abuse: { ...defaultAbuseLimits(), eventsPerSecond: 2, eventBurst: 4 } });

    it('a frame over --max-payload closes the connection with 1009', async () => {
      const s = await openSock(svc.url);
      s.send({ action: 'subscribe', topic: 'big', payload: 'x'.repeat(4096) });
      expect(await s.closed).to.equal(1009);
    });

    it('over the event rate frames are refused with RATE_LIMITED, far over it the connection is closed with 1008', async () => {
      const s = await openSock(svc.url);
      for (let i = 0; i < 12; i++) s.send({ action: 'subscribe', topic: `r${i}` });
      expect(await s.closed).to.equal(1008);
      expect(s.frames.some((f) => f.action === 'error' && f.payload.code === 'RATE_LIMITED')).to.equal(true);
    });
  });

  describe('repeat offenders', () => {
    const svc = serviceForSuite({ maxPayload: 1024, abuse: { ...defaultAbuseLimits(), violationsPerMinute: 1, exempt: [] } });

    it('connections closed for oversize frames count against the address: past --violation-limit its upgrades get 429', async () => {
      for (let i = 0; i < 2; i++) {
        const s = await openSock(svc.url);
        s.send({ action: 'subscribe', topic: 'x', payload: 'x'.repeat(2048) });
        expect(await s.closed).to.equal(1009);
      }
      const refused = await refusedUpgrade(svc.url, '/sock');
      expect(refused.status).to.equal(429);
      expect(refused.body.error.code).to.equal('RATE_LIMITED');
    });
  });

  describe('pings', () => {
    const svc = serviceForSuite({}, { wsPingIntervalMs: 200 });

    it('the server pings; a connection that answers no ping is terminated', async () => {
      const live = await openSock(svc.url);
      await new Promise((resolve) => live.ws.once('ping', resolve));
      const mute = await openSock(svc.url, '/sock', { autoPong: false });
      expect(await mute.closed).to.equal(1006);
    });
  });

  describe('slow consumers', () => {
    const LIMIT = 1024 * 1024;
    const logs = captureLogger('info');
    const svc = serviceForSuite({ maxPayload: 64 * 1024, abuse: { ...defaultAbuseLimits(), maxSendBuffer: LIMIT, bytesPerSecond: 0 } }, { logger: logs.logger });

    it('a subscriber that stops reading is dropped once its unsent data would pass --max-send-buffer; the others go on', async function () {
      this.timeout(30_000);
      const slow = await openSock(svc.url);
      const publisher = await openSock(svc.url);
      const watcher = await openSock(svc.url);
      await subscribe(slow, 'firehose');
      await subscribe(publisher, 'firehose');
      await subscribe(watcher, 'firehose');
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const chunk = 'x'.repeat(60 * 1024);
      let sent = 0;
      let cut = false;
      void watcher.next('unsubscribe-topic', 30_000).then((f) => (cut = f.sender === slow.connectionId));
      while (!cut && sent < 2000) {
        publisher.send({ action: 'chunk', topic: 'firehose', payload: chunk });
        await publisher.next('chunk');
        sent++;
      }
      expect(cut, `cut after ${sent} messages`).to.equal(true);
      const warning = logs.entries.find((e) => e.message === 'slow consumer disconnected' && e.conn === slow.connectionId);
      expect(warning, 'the slow-consumer warning').to.not.equal(undefined);
      expect(warning!.unsentBytes as number).to.be.at.most(LIMIT);
      publisher.send({ action: 'last', topic: 'firehose' });
      expect((await watcher.next('last')).sender).to.equal(publisher.connectionId);
      expect(svc.service.core.localCount('/sock', 'firehose')).to.equal(2);
    });
  });

  describe('frames waiting behind a slow authorization', () => {
    let backend: TestHttpServer;
    const svc = {} as Running;
    before(async () => {
      // Publications wait a second for the backend's answer; subscriptions are answered at once.
      backend = await new TestHttpServer((body) => {
        const q = JSON.parse(body) as { action: string };
        return q.action === 'publish' ? { json: { allow: true }, delayMs: 1000 } : { json: { allow: true } };
      }).start('/authorize');
      Object.assign(svc, await startService({ auth: secretAuth({ authorize: { url: backend.url, cacheTtlMs: 60_000, timeoutMs: 5000 } }) }));
    });
    after(async () => {
      await svc.close();
      await backend.close();
    });

    it('at most 256 frames wait per connection: the ones beyond are refused at once with RATE_LIMITED, the others handled in order', async () => {
      const s = await openSock(svc.url, `/sock?token=${await hsToken({ sub: 'u', rooms: ALL_ROOMS })}`);
      await subscribe(s, 'q');
      for (let i = 0; i < 300; i++) s.send({ action: 'm', topic: 'q', payload: i });
      for (let i = 0; i < 300 - 256; i++) await expectError(s, 'RATE_LIMITED');
      const got = [];
      for (let i = 0; i < 256; i++) got.push((await s.next('m')).payload);
      expect(got).to.deep.equal([...Array(256).keys()]);
      expect(s.frames.filter((f) => f.action === 'error')).to.have.length(44);
    });
  });

  describe('token expiry', () => {
    const svc = serviceForSuite({ auth: secretAuth() });

    it('the connection gets TOKEN_EXPIRED and is closed with 4001 when its token expires', async () => {
      const s = await openSock(svc.url, `/sock?token=${await hsToken({ sub: 'u', rooms: ALL_ROOMS }, { expiresIn: 0.5 })}`);
      await expectError(s, 'TOKEN_EXPIRED');
      expect(await s.closed).to.equal(4001);
    });
  });

  describe('stored messages', () => {
    const svc = serviceForSuite({ storage: { kind: 'sqlite', dataDir: join(tempDir('ns-sock-'), 'data') } });

    it('store: true is stored; load-messages pages newest first, oldest first within a page, historical', async () => {
      const a = await openSock(svc.url);
      await subscribe(a, 'kept');
      for (let i = 1; i <= 5; i++) {
        a.send({ action: 'note', topic: 'kept', payload: { i }, store: true });
        await a.next('note');
      }
      a.send({ action: 'note', topic: 'kept', payload: { i: 'live only' } });
      await a.next('note');
      const b = await openSock(svc.url);
      await subscribe(b, 'kept');
      b.send({ action: 'load-messages', topic: 'kept', payload: { page: 1, pageSize: 2 } });
      const page1 = [await b.next('note'), await b.next('note')];
      expect(page1.map((f) => f.payload.i)).to.deep.equal([4, 5]);
      expect(page1[0]).to.deep.include({ sender: a.connectionId, action: 'note', topic: 'kept', store: true, historical: true });
      expect(page1[0]!.meta!.offset).to.equal(4);
      expect(await b.next()).to.include({ action: 'has-more-messages', topic: 'kept', payload: true });
      b.send({ action: 'load-messages', topic: 'kept', payload: { page: 3, pageSize: 2 } });
      expect((await b.next()).payload).to.deep.equal({ i: 1 });
      expect(await b.next()).to.include({ action: 'has-more-messages', payload: false });
      b.send({ action: 'load-messages', topic: 'kept' });
      const all = [];
      for (let i = 0; i < 5; i++) all.push((await b.next('note')).payload.i);
      expect(all).to.deep.equal([1, 2, 3, 4, 5]);
      expect(await b.next()).to.include({ action: 'has-more-messages', payload: false });
    });
  });

  describe('store-first (store: true is written before it is delivered)', () => {
    let faulty: FaultyStore;
    let svc: Running;
    before(async () => {
      const inner = (await openMessageStore({ kind: 'sqlite', dataDir: join(tempDir('ns-sock-first-'), 'data') }))!;
      faulty = faultyStore(inner);
      svc = await startService({}, { store: faulty.store });
    });
    after(() => svc?.close());
    afterEach(() => {
      faulty.fail.savePending = false;
      faulty.fail.place = false;
    });

    it('a store that cannot write: STORE_FAILED to the sender, nothing delivered to anyone, no offset taken', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      await subscribe(a, 'fails');
      await subscribe(b, 'fails');
      await a.next('subscribe-topic');
      faulty.fail.savePending = true;
      const tried = faulty.pendingSaves;
      b.send({ action: 'kept', topic: 'fails', store: true, payload: 'lost' });
      const error = await expectError(b, 'STORE_FAILED', 'fails');
      expect(error.payload.message).to.include('not sent');
      expect(error.payload.details, 'no offset: nothing went out').to.equal(undefined);
      expect(faulty.pendingSaves).to.equal(tried + 1);
      faulty.fail.savePending = false;
      // The next messages get the offsets the lost one would have had; nobody got the lost one.
      b.send({ action: 'live', topic: 'fails', payload: 1 });
      b.send({ action: 'kept', topic: 'fails', store: true, payload: 2 });
      for (const client of [a, b]) {
        const live = await client.next('live');
        expect(live.meta!.offset).to.equal(1);
        const kept = await client.next('kept');
        expect(kept.payload).to.equal(2);
        expect(kept.meta!.offset).to.equal(2);
        expect(client.frames.filter((f) => f.action === 'kept')).to.have.length(1);
      }
      expect(a.frames.some((f) => f.action === 'error')).to.equal(false);
      // Only the message that was stored is read back. Asked by the sender: its frames are handled
      // in order, so its stored message is placed by then (a subscriber may ask before it is).
      b.send({ action: 'load-messages', topic: 'fails' });
      const loaded = await b.next('kept');
      expect(loaded).to.deep.include({ payload: 2, historical: true, sender: b.connectionId });
      expect(loaded.meta!.offset).to.equal(2);
      expect(await b.next()).to.include({ action: 'has-more-messages', payload: false });
    });

    it('a good store: delivered with its meta, and load-messages returns it at the same position', async () => {
      const a = await openSock(svc.url);
      await subscribe(a, 'good');
      a.send({ action: 'note', topic: 'good', store: true, payload: { n: 1 } });
      const live = await a.next('note');
      a.send({ action: 'load-messages', topic: 'good' });
      const stored = await a.next('note');
      expect(stored).to.deep.equal({ ...live, historical: true });
      expect(await a.next()).to.include({ action: 'has-more-messages', payload: false });
    });

    it('placing fails after delivery: delivered, STORE_FAILED with {offset, recipients} to the sender, not readable', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      await subscribe(a, 'unplaced');
      await subscribe(b, 'unplaced');
      await a.next('subscribe-topic');
      faulty.fail.place = true;
      b.send({ action: 'kept', topic: 'unplaced', store: true, payload: 'out' });
      const got = await a.next('kept');
      expect(got.meta!.offset).to.equal(1);
      const error = await expectError(b, 'STORE_FAILED', 'unplaced');
      // Both subscribers got it (the sender's copy counts: /sock senders receive their own messages).
      expect(error.payload.details).to.deep.equal({ offset: 1, recipients: 2 });
      faulty.fail.place = false;
      a.send({ action: 'load-messages', topic: 'unplaced' });
      expect(await a.next()).to.include({ action: 'has-more-messages', payload: false });
    });

    it('POST /publish/sock/:topic?store=true is stored first too: 500 STORE_FAILED and not delivered when it cannot be stored', async () => {
      const a = await openSock(svc.url);
      await subscribe(a, 'http');
      const post = (body: string) => fetch(`${svc.url}/publish/sock/http?store=true`, { method: 'POST', body });
      faulty.fail.savePending = true;
      const refused = await post('"lost"');
      expect(refused.status).to.equal(500);
      const body = (await refused.json()) as { error: { code: string; details?: unknown } };
      expect(body.error.code).to.equal('STORE_FAILED');
      expect(body.error.details).to.equal(undefined);
      faulty.fail.savePending = false;
      const ok = await post('"kept"');
      expect(await ok.json()).to.deep.equal({ ok: true, recipients: 1, offset: 1 });
      const got = await a.next('message');
      expect(got).to.deep.include({ sender: 'POST', payload: 'kept', store: true });
      expect(a.frames.filter((f) => f.action === 'message')).to.have.length(1);
      // Answered once placed: readable now.
      a.send({ action: 'load-messages', topic: 'http' });
      expect(await a.next('message')).to.deep.include({ payload: 'kept', historical: true });
    });

    it('a slow store holds back only its message: others go out meanwhile, offsets stay in wire order', async () => {
      const a = await openSock(svc.url);
      const b = await openSock(svc.url);
      const c = await openSock(svc.url);
      for (const client of [a, b, c]) await subscribe(client, 'order');
      const held = faulty.hold();
      a.send({ action: 'slow', topic: 'order', store: true, payload: 'stored' });
      await held.started;
      b.send({ action: 'fast', topic: 'order', payload: 'live' });
      const fast = await c.next('fast');
      expect(fast.meta!.offset, 'the held message took no offset').to.equal(1);
      held.release();
      const slow = await c.next('slow');
      expect(slow.meta!.offset).to.equal(2);
      await Promise.all([a.next('slow'), b.next('slow')]);
      for (const client of [a, b, c]) {
        expect(client.frames.filter((f) => f.meta).map((f) => [f.action, f.meta!.offset])).to.deep.equal([
          ['fast', 1],
          ['slow', 2],
        ]);
      }
    });
  });

  describe('store-first on two nodes (Redis, one shared store)', () => {
    const nodes = clusterNodesForSuite('sock-store', 2, { storage: { kind: 'sqlite', dataDir: join(tempDir('ns-sock-cluster-'), 'data') } });

    it('a stored message from one node reaches the other once, in order with live ones, and is read back there', async () => {
      const [one, two] = nodes();
      const a = await openSock(one!.url);
      const b = await openSock(two!.url);
      await subscribe(a, 'shared');
      await subscribe(b, 'shared');
      await a.next('subscribe-topic');
      a.send({ action: 'note', topic: 'shared', store: true, payload: 1 });
      b.send({ action: 'note', topic: 'shared', payload: 2 });
      a.send({ action: 'note', topic: 'shared', store: true, payload: 3 });
      const onB = [await b.next('note'), await b.next('note'), await b.next('note')];
      const onA = [await a.next('note'), await a.next('note'), await a.next('note')];
      expect(onB).to.deep.equal(onA);
      expect(onA.map((f) => f.meta!.offset)).to.deep.equal([1, 2, 3]);
      expect(onA.map((f) => f.payload)).to.have.members([1, 2, 3]);
      // The sender's frames are handled in order: once it is answered, its stored messages are placed.
      a.send({ action: 'load-messages', topic: 'shared' });
      expect(await a.next('has-more-messages')).to.include({ payload: false });
      b.send({ action: 'load-messages', topic: 'shared' });
      const stored = [await b.next('note'), await b.next('note')];
      expect(stored.map((f) => f.payload)).to.deep.equal([1, 3]);
      expect(stored.map((f) => f.meta!.offset)).to.deep.equal(onA.filter((f) => f.store).map((f) => f.meta!.offset));
      expect(await b.next()).to.include({ action: 'has-more-messages', payload: false });
      expect(b.frames.filter((f) => f.action === 'note' && !f.historical)).to.have.length(3);
    });
  });

  describe('with --auth jwt', () => {
    const alice = { sub: 'u-alice', name: 'Alice', role: 'host', rooms: ALL_ROOMS };
    const reader = { sub: 'u-reader', name: 'Reader', rooms: { subscribe: ['open*'], publish: [] } };
    const svc = serviceForSuite({ auth: secretAuth(), corsOrigin: ['https://app.example'] });

    const ticket = async (token: string): Promise<string> => {
      const res = await fetch(`${svc.url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { ticket: string }).ticket;
    };

    it('refuses before the handshake: 401 without or with bad credentials, 403 for an origin not allowed', async () => {
      for (const path of ['/sock', '/sock?token=nonsense', '/sock/nonsense', '/sock?ticket=a:b']) {
        const refused = await refusedUpgrade(svc.url, path);
        expect(refused.status, path).to.equal(401);
        expect(refused.body.error.code).to.equal('UNAUTHORIZED');
        expect(refused.body.error.message).to.be.a('string');
      }
      const expired = await hsToken(alice, { expiresIn: -10 });
      expect((await refusedUpgrade(svc.url, '/sock', { headers: { authorization: `Bearer ${expired}` } })).status).to.equal(401);
      const token = await hsToken(alice);
      const foreign = await refusedUpgrade(svc.url, `/sock?token=${token}`, { headers: { origin: 'https://evil.example' } });
      expect(foreign.status).to.equal(403);
      expect(foreign.body.error.code).to.equal('FORBIDDEN');
      await openSock(svc.url, `/sock?token=${token}`, { headers: { origin: 'https://app.example' } });
    });

    it('a ticket in the path or query connects once; ?token= and Bearer connect; the identity is the token\'s', async () => {
      const token = await hsToken(alice);
      const inPath = await ticket(token);
      const a = await openSock(svc.url, `/sock/${inPath}`);
      expect((await refusedUpgrade(svc.url, `/sock/${inPath}`)).status).to.equal(401);
      const inQuery = await ticket(token);
      await openSock(svc.url, `/sock?ticket=${encodeURIComponent(inQuery)}`);
      expect((await refusedUpgrade(svc.url, `/sock?ticket=${encodeURIComponent(inQuery)}`)).status).to.equal(401);
      const b = await openSock(svc.url, '/sock', { headers: { authorization: `Bearer ${token}` } });
      await openSock(svc.url, `/sock?name=mallory&token=${token}`);
      const own = await subscribe(a, 'team');
      expect(own.payload).to.deep.equal([{ scid: 'u-alice', cids: [a.connectionId], name: 'Alice', role: 'host', online: true }]);
      const second = await subscribe(b, 'team');
      expect(second.payload[0].cids).to.have.members([a.connectionId, b.connectionId]);
    });

    it('rights: subscribe without the right is FORBIDDEN; a publication without the right is FORBIDDEN and delivered to nobody', async () => {
      const r = await openSock(svc.url, `/sock?token=${await hsToken(reader)}`);
      const a = await openSock(svc.url, `/sock?token=${await hsToken(alice)}`);
      r.send({ action: 'subscribe', topic: 'closed' });
      await expectError(r, 'FORBIDDEN', 'closed');
      await subscribe(r, 'open-1');
      await subscribe(a, 'open-1');
      r.send({ action: 'chat', topic: 'open-1', payload: 'no right' });
      await expectError(r, 'FORBIDDEN', 'open-1');
      r.send({ action: 'chat', topic: 'open-1', payload: 'kept', store: true });
      await expectError(r, 'FORBIDDEN', 'open-1');
      a.send({ action: 'chat', topic: 'open-1', payload: 'allowed' });
      const got = await r.next('chat');
      expect(got.payload).to.equal('allowed');
      expect(got.meta!.offset).to.equal(1);
    });
  });

  describe('two nodes on Redis', () => {
    const nodes = clusterNodesForSuite('sock', 2);

    it('participants, publications and departures span the nodes; each message arrives once', async () => {
      const [one, two] = nodes();
      const a = await openSock(one!.url, '/sock?name=ann');
      const b = await openSock(two!.url, '/sock?name=ben');
      await subscribe(a, 'across');
      b.send({ action: 'subscribe', topic: 'across' });
      expect(await b.next()).to.include({ action: 'subscribers-existing' });
      expect((await b.next()).payload).to.deep.equal([{ scid: 'ann', cids: [a.connectionId], name: 'ann', role: '', online: true }]);
      await b.next('subscribe-topic');
      expect(await a.next('subscribe-topic')).to.include({ sender: b.connectionId });
      b.send({ action: 'chat', topic: 'across', payload: 1 });
      a.send({ action: 'chat', topic: 'across', payload: 2 });
      const onA = [await a.next('chat'), await a.next('chat')];
      const onB = [await b.next('chat'), await b.next('chat')];
      expect(onA.map((f) => f.meta!.offset)).to.deep.equal([1, 2]);
      expect(onB).to.deep.equal(onA);
      b.ws.close();
      expect(await a.next('unsubscribe-topic')).to.include({ sender: b.connectionId });
      a.send({ action: 'load-subscribers', topic: 'across' });
      expect((await a.next('existing-subscribers')).payload).to.have.length(1);
      // Nothing arrived twice.
      expect(a.frames.filter((f) => f.action === 'chat')).to.have.length(2);
    });

    it('socket.io clients cannot join the /sock namespace', async () => {
      const [one] = nodes();
      const { refusal } = await import('./helpers/auth.js');
      expect((await refusal('v4', one!.url, '/sock')).code).to.equal('NOT_FOUND');
    });
  });
});
