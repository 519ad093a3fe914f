/**
 * GET /metrics with real clients of every protocol: each metric of docs/METRICS.md moves as the
 * clients do (connections up then down, publications by source, deliveries by protocol, rooms,
 * errors by code, history), and label values stay bounded however many rooms are published to.
 */
import { expect } from 'chai';
import { closeAll, connect, next, request, type TestClient } from './helpers/clients.js';
import { waitUntil } from './helpers/cluster.js';
import { scrape, type Scrape } from './helpers/metrics.js';
import { serviceForSuite } from './helpers/service.js';
import { closeSockets, openSock } from './helpers/sock.js';
import { closeStreams, openSse } from './helpers/sse.js';

const LAYOUT = { namespace: '/layout' };

describe('metrics: GET /metrics', () => {
  const svc = serviceForSuite();
  afterEach(() => {
    closeSockets();
    closeStreams();
  });

  /** Waits until a scrape satisfies `check`; answers that scrape. */
  const scrapeUntil = async (what: string, check: (s: Scrape) => boolean): Promise<Scrape> => {
    let last: Scrape | undefined;
    await waitUntil(what, async () => check((last = await scrape(svc.url))));
    return last!;
  };

  it("answers Prometheus text with prom-client's content type, default process metrics included", async () => {
    const s = await scrape(svc.url);
    expect(s.status).to.equal(200);
    expect(s.contentType).to.match(/^text\/plain; version=0\.0\.4/);
    expect(s.get('process_resident_memory_bytes')).to.be.greaterThan(0);
    expect(s.all('nodejs_eventloop_lag_seconds')).to.have.length(1);
    expect(s.get('notify_ready')).to.equal(1);
  });

  it('counts socket.io connections by namespace, transport and Engine.IO revision, up then down', async () => {
    const before = await scrape(svc.url);
    const ws = await connect('v4', svc.url, '/layout', { transport: 'websocket' });
    const polling = await connect('v4', svc.url, '/layout', { transport: 'polling' });
    const legacy = await connect('v2', svc.url, '/layout', { transport: 'websocket' });
    const up = await scrape(svc.url);
    const open = (transport: string): number => up.value('notify_connections', { ...LAYOUT, protocol: 'socketio', transport });
    expect(open('websocket')).to.equal(2);
    expect(open('polling')).to.equal(1);
    expect(up.value('notify_client_protocol_connections', { eio: '4' })).to.equal(2);
    expect(up.value('notify_client_protocol_connections', { eio: '3' })).to.equal(1);
    const total = (s: Scrape): number => s.value('notify_connections_total', { ...LAYOUT, protocol: 'socketio' });
    expect(total(up) - total(before)).to.equal(3);
    for (const c of [ws, polling, legacy]) c.close();
    const down = await scrapeUntil('the connections are gone', (s) => s.value('notify_connections', { ...LAYOUT, protocol: 'socketio', transport: 'websocket' }) === 0);
    expect(down.value('notify_connections', { ...LAYOUT, protocol: 'socketio', transport: 'polling' })).to.equal(0);
    expect(total(down)).to.equal(total(up));
  });

  it('counts a connection that upgrades from long-polling under WebSocket once it has, and every transport while one is on polling', async () => {
    const ws = await connect('v4', svc.url, '/layout', { transport: 'websocket' });
    const upgrading = await connect('v4', svc.url, '/layout', { transport: 'polling', extra: { transports: ['polling', 'websocket'], upgrade: true } });
    const engine = upgrading.raw.io.engine as { transport: { name: string }; once(event: string, fn: () => void): void };
    if (engine.transport.name !== 'websocket') await new Promise<void>((resolve) => engine.once('upgrade', () => resolve()));
    const open = (s: Scrape, transport: string): number => s.value('notify_connections', { ...LAYOUT, protocol: 'socketio', transport });
    // Every connection on WebSocket now: counted without walking the sockets (lib/metrics/live-state.ts).
    const upgraded = await scrapeUntil('the upgrade is counted', (s) => open(s, 'websocket') === 2);
    expect(open(upgraded, 'polling')).to.equal(0);
    const polling = await connect('v4', svc.url, '/layout', { transport: 'polling' });
    const mixed = await scrape(svc.url);
    expect([open(mixed, 'websocket'), open(mixed, 'polling')]).to.deep.equal([2, 1]);
    for (const c of [ws, upgrading, polling]) c.close();
    const down = await scrapeUntil('the connections are gone', (s) => open(s, 'websocket') === 0 && open(s, 'polling') === 0);
    expect(down.value('notify_client_protocol_connections', { eio: '4' })).to.equal(0);
  });

  it('counts /sock and SSE connections', async () => {
    const sock = await openSock(svc.url, '/sock?name=a');
    const sse = await openSse(`${svc.url}/events/layout/sse-room`);
    expect(sse.status).to.equal(200);
    const up = await scrapeUntil('the stream counts', (s) => s.value('notify_connections', { ...LAYOUT, protocol: 'sse', transport: 'sse' }) === 1);
    expect(up.value('notify_connections', { namespace: '/sock', protocol: 'sock', transport: 'websocket' })).to.equal(1);
    expect(up.value('notify_connections_total', { namespace: '/sock', protocol: 'sock' })).to.be.at.least(1);
    expect(up.value('notify_connections_total', { ...LAYOUT, protocol: 'sse' })).to.be.at.least(1);
    sock.ws.close();
    sse.close();
    await scrapeUntil('both are gone', (s) => s.value('notify_connections', { namespace: '/sock', protocol: 'sock', transport: 'websocket' }) === 0 && s.value('notify_connections', { ...LAYOUT, protocol: 'sse', transport: 'sse' }) === 0);
  });

  it('counts publications by source, deliveries by protocol, their duration, rooms and members', async () => {
    const room = 'metrics-room';
    const members = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    for (const [i, m] of members.entries()) expect(await request(m, 'JOIN', { room, name: `m${i}` })).to.include({ ok: true });
    const sse = await openSse(`${svc.url}/events/layout/${room}`);
    const before = await scrapeUntil('the room has its 3 members', (s) => s.value('notify_room_members', LAYOUT) === 3);
    expect(before.value('notify_rooms', LAYOUT)).to.equal(1);

    const publisher = await connect('v4', svc.url, '/layout');
    const got = Promise.all(members.map((m) => next(m, 'EVENT')));
    expect(await request(publisher, 'NOTIFY', { room, message: { n: 1 } })).to.include({ ok: true, recipients: 3 });
    await got;
    await sse.next('EVENT');
    const res = await fetch(`${svc.url}/publish/layout/${room}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":2}' });
    expect(res.status).to.equal(200);
    await sse.next('EVENT');

    const after = await scrape(svc.url);
    const moved = (name: string, labels: Record<string, string> = {}): number => after.value(name, labels) - before.value(name, labels);
    expect(moved('notify_messages_published_total', { ...LAYOUT, source: 'socket' })).to.equal(1);
    expect(moved('notify_messages_published_total', { ...LAYOUT, source: 'http' })).to.equal(1);
    expect(moved('notify_deliveries_total', { ...LAYOUT, protocol: 'socketio' })).to.equal(4);
    expect(moved('notify_deliveries_total', { ...LAYOUT, protocol: 'sse' })).to.equal(2);
    expect(moved('notify_publish_duration_seconds_count', LAYOUT)).to.equal(2);
    expect(after.value('notify_publish_duration_seconds_sum', LAYOUT)).to.be.greaterThan(0);
    // Cumulative buckets, the last (+Inf) equal to the count.
    const buckets = after.all('notify_publish_duration_seconds_bucket').filter((x) => x.labels.namespace === '/layout');
    expect(buckets.map((x) => x.labels.le)).to.include.members(['0.0001', '1', '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).to.be.at.least(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.value).to.equal(after.value('notify_publish_duration_seconds_count', LAYOUT));
    expect(moved('notify_history_messages')).to.equal(2);
    expect(after.value('notify_history_bytes')).to.be.greaterThan(0);
  });

  it('counts coded errors by code, whatever the protocol', async () => {
    const before = await scrape(svc.url);
    const client: TestClient = await connect('v4', svc.url, '/layout');
    expect(await request(client, 'NO_SUCH_VERB', {})).to.deep.include({ ok: false });
    expect(await request(client, 'JOIN', { room: '' })).to.deep.include({ ok: false });
    const sock = await openSock(svc.url, '/sock?name=e');
    sock.send('not json');
    await sock.next('error');
    expect((await fetch(`${svc.url}/no-such-route`)).status).to.equal(404);
    const after = await scrape(svc.url);
    const moved = (code: string): number => after.value('notify_errors_total', { code }) - before.value('notify_errors_total', { code });
    expect(moved('UNKNOWN_EVENT')).to.equal(1);
    expect(moved('INVALID_ROOM')).to.equal(1);
    expect(moved('NOT_FOUND')).to.equal(1);
    expect(moved('INVALID_JSON') + moved('BAD_REQUEST')).to.equal(1);
  });

  it('adds no series per room or user: publishing to many rooms leaves the label sets as they were', async () => {
    const publisher = await connect('v4', svc.url, '/layout');
    const member = await connect('v4', svc.url, '/layout');
    expect(await request(member, 'JOIN', { room: 'warm-up', name: 'w' })).to.include({ ok: true });
    expect(await request(publisher, 'NOTIFY', { room: 'warm-up', message: 0 })).to.include({ ok: true });
    const series = (s: Scrape): number => s.samples.filter((x) => x.name.startsWith('notify_')).length;
    const before = await scrape(svc.url);
    for (let i = 0; i < 200; i++) {
      expect(await request(member, 'JOIN', { room: `room-${i}`, name: `user-${i}` })).to.include({ ok: true });
      expect(await request(publisher, 'NOTIFY', { room: `room-${i}`, message: i })).to.include({ ok: true });
      expect(await request(member, 'LEAVE', { room: `room-${i}` })).to.include({ ok: true });
    }
    const after = await scrape(svc.url);
    expect(series(after)).to.equal(series(before));
    expect(after.text).not.to.match(/room-\d|user-\d/);
  });
});

after(closeAll);

describe('metrics: the rooms walk', () => {
  const svc = serviceForSuite();

  it('walks each namespace’s rooms once per scrape, for notify_rooms and notify_room_members both', async () => {
    const hub = svc.service.core;
    const walk = hub.roomCounts.bind(hub);
    let walks = 0;
    hub.roomCounts = (ns: string) => (walks++, walk(ns));
    try {
      const first = await scrape(svc.url);
      expect(first.value('notify_rooms', { namespace: '/layout' })).to.equal(0);
      const perScrape = walks;
      expect(perScrape, 'one walk per namespace').to.be.greaterThan(0);
      await scrape(svc.url);
      expect(walks, 'a later scrape walks again, once').to.equal(2 * perScrape);
      const namespaces = new Set(first.all('notify_room_members').map((s) => s.labels.namespace)).size;
      expect(perScrape).to.equal(namespaces);
    } finally {
      hub.roomCounts = walk;
    }
  });
});
