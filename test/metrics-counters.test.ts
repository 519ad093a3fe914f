/**
 * The metrics of rarer events, each provoked for real: rate limits, slow consumers, store writes
 * (a store that fails on demand), connection-state recoveries, and publications from /sock and
 * /chat with their deliveries.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import { io as ioV4, type Socket as ClientSocket } from 'socket.io-client';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { openMessageStore } from '../lib/storage/index.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { faultyStore, type FaultyStore } from './helpers/faulty-store.js';
import { dropTransport } from './helpers/history.js';
import { scrape, type Scrape } from './helpers/metrics.js';
import { tempDir } from './helpers/process.js';
import { serviceForSuite, startService, type Running } from './helpers/service.js';
import { closeSockets, openSock } from './helpers/sock.js';

const moved = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number => after.value(name, labels) - before.value(name, labels);

describe('metrics: rate limits', () => {
  const svc = serviceForSuite({ abuse: { ...defaultAbuseLimits(), eventsPerSecond: 20, eventBurst: 10 } });

  it('counts events refused over --event-rate as limit="events", and their RATE_LIMITED errors', async () => {
    const before = await scrape(svc.url);
    const a = await connect('v4', svc.url, '/layout');
    const replies = await Promise.all(Array.from({ length: 15 }, (_x, i) => request(a, 'NO_SUCH_EVENT', i)));
    const limited = replies.filter((r) => r.error?.code === 'RATE_LIMITED').length;
    expect(limited).to.be.greaterThan(0);
    const after = await scrape(svc.url);
    expect(moved(before, after, 'notify_rate_limited_total', { limit: 'events' })).to.equal(limited);
    expect(moved(before, after, 'notify_errors_total', { code: 'RATE_LIMITED' })).to.equal(limited);
  });
});

describe('metrics: slow consumers', () => {
  const svc = serviceForSuite({ maxPayload: 64 * 1024, abuse: { ...defaultAbuseLimits(), maxSendBuffer: 256 * 1024, bytesPerSecond: 0 } });
  afterEach(closeSockets);

  it('counts a /sock connection closed for not reading', async () => {
    const slow = await openSock(svc.url, '/sock?name=slow');
    slow.send({ action: 'subscribe', topic: 'firehose' });
    await slow.next('subscribe-topic');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const before = await scrape(svc.url);
    const chunk = JSON.stringify('x'.repeat(60 * 1024));
    let closed = false;
    void slow.closed.then(() => (closed = true));
    for (let i = 0; i < 2000 && !closed; i++) {
      const res = await fetch(`${svc.url}/publish/sock/firehose`, { method: 'POST', body: chunk });
      expect(res.status).to.equal(200);
      if ((await scrape(svc.url)).value('notify_slow_consumer_disconnects_total') > before.value('notify_slow_consumer_disconnects_total')) break;
    }
    const after = await scrape(svc.url);
    expect(moved(before, after, 'notify_slow_consumer_disconnects_total')).to.equal(1);
  });
});

describe('metrics: /sock and /chat publications', () => {
  const svc = serviceForSuite();
  afterEach(closeSockets);

  it('counts /sock frames as source="sock" and their deliveries as protocol="sock"', async () => {
    const [a, b] = await Promise.all([openSock(svc.url, '/sock?name=a'), openSock(svc.url, '/sock?name=b')]);
    for (const c of [a, b]) {
      c.send({ action: 'subscribe', topic: 't' });
      await c.next('subscribe-topic');
    }
    const before = await scrape(svc.url);
    a.send({ action: 'chat', topic: 't', payload: 1 });
    await b.next('chat');
    const after = await scrape(svc.url);
    const sock = { namespace: '/sock' };
    expect(moved(before, after, 'notify_messages_published_total', { ...sock, source: 'sock' })).to.equal(1);
    // /sock publishers get their own message too (the Awayto contract).
    expect(moved(before, after, 'notify_deliveries_total', { ...sock, protocol: 'sock' })).to.equal(2);
    expect(after.value('notify_rooms', sock)).to.equal(1);
    expect(after.value('notify_room_members', sock)).to.equal(2);
  });

  it('counts /chat messages as source="chat"', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/chat', { query: { name: 'a' } }), connect('v4', svc.url, '/chat', { query: { name: 'b' } })]);
    for (const c of [a, b]) {
      const subscribed = next(c, 'CHANNEL_SUBSCRIBED');
      c.emit('SUBSCRIBE_CHANNEL', { channel: { type: 'topic', _id: 'space' } });
      await subscribed;
    }
    const before = await scrape(svc.url);
    const got = next(b, 'MESSAGE_SENT');
    a.emit('SEND_MESSAGE', { category: 'chat', content: { bodyText: 'hi' }, topicId: 'space' });
    await got;
    const after = await scrape(svc.url);
    expect(moved(before, after, 'notify_messages_published_total', { namespace: '/chat', source: 'chat' })).to.equal(1);
    expect(moved(before, after, 'notify_messages_published_total', { namespace: '/chat', source: 'socket' })).to.equal(0);
  });
});

describe('metrics: message store writes', () => {
  let faulty: FaultyStore;
  let svc: Running;
  before(async () => {
    const inner = (await openMessageStore({ kind: 'sqlite', dataDir: join(tempDir('ns-metrics-store-'), 'data') }))!;
    faulty = faultyStore(inner);
    svc = await startService({}, { store: faulty.store });
  });
  after(() => svc?.close());
  afterEach(closeSockets);

  it('counts writes ok and failed, with their durations', async () => {
    const a = await openSock(svc.url, '/sock?name=a');
    a.send({ action: 'subscribe', topic: 's' });
    await a.next('subscribe-topic');
    const before = await scrape(svc.url);
    a.send({ action: 'kept', topic: 's', store: true, payload: 1 });
    await a.next('kept');
    faulty.fail.savePending = true;
    a.send({ action: 'kept', topic: 's', store: true, payload: 2 });
    expect((await a.next('error')).payload).to.deep.include({ code: 'STORE_FAILED' });
    faulty.fail.savePending = false;
    const after = await scrape(svc.url);
    // A store-first message: its pending row, then its placing.
    expect(moved(before, after, 'notify_store_writes_total', { result: 'ok' })).to.equal(2);
    expect(moved(before, after, 'notify_store_writes_total', { result: 'failed' })).to.equal(1);
    expect(moved(before, after, 'notify_store_write_duration_seconds_count')).to.equal(3);
    expect(moved(before, after, 'notify_errors_total', { code: 'STORE_FAILED' })).to.equal(1);
  });
});

describe('metrics: no store, no store metrics', () => {
  const svc = serviceForSuite();
  it('registers neither store metric', async () => {
    const s = await scrape(svc.url);
    expect(s.all('notify_store_writes_total')).to.deep.equal([]);
    expect(s.text).not.to.include('notify_store_write_duration_seconds');
    expect(s.text).not.to.include('notify_redis_up');
  });
});

describe('metrics: connection-state recoveries', () => {
  const svc = serviceForSuite();
  const opened: ClientSocket[] = [];
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    closeAll();
  });

  it('counts a dropped session that came back as recovered, an unknown one as failed', async () => {
    const before = await scrape(svc.url);
    const sub = ioV4(`${svc.url}/layout`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    opened.push(sub);
    await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
    // A session resumes from the last packet it got (its offset).
    expect(await sub.timeout(5000).emitWithAck('JOIN', { room: 'csr', name: 'tv' })).to.include({ ok: true });
    const got = new Promise((resolve) => sub.once('EVENT', resolve));
    const pub = await connect('v4', svc.url, '/layout');
    expect(await request(pub, 'NOTIFY', { room: 'csr', message: 1 })).to.include({ ok: true });
    await got;
    const reconnected = new Promise<void>((resolve) => sub.once('connect', () => resolve()));
    await dropTransport(svc, '/layout', sub.id!).gone;
    await reconnected;
    expect(sub.recovered).to.equal(true);
    await connect('v4', svc.url, '/layout', { extra: { auth: { pid: 'no-such-session', offset: 'x' } } });
    const after = await scrape(svc.url);
    expect(moved(before, after, 'notify_recoveries_total', { result: 'recovered' })).to.equal(1);
    expect(moved(before, after, 'notify_recoveries_total', { result: 'failed' })).to.equal(1);
  });
});

