/**
 * GET /events/:namespace/:room: Server-Sent Events streams as hub members beside socket.io and
 * /sock members (one node and cluster mode), resumption with Last-Event-ID, reset, keep-alive,
 * shutdown, refusals, and auth.
 */
import { expect } from 'chai';
import net from 'node:net';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { scrape } from './helpers/metrics.js';
import { connect, next, request } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';
import { hsToken, secretAuth } from './helpers/auth.js';
import { serviceForSuite, startService, type Running } from './helpers/service.js';
import { openSock } from './helpers/sock.js';
import { closeStreams, openSse, type SseClient } from './helpers/sse.js';

const post = (url: string, body: unknown, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', body: JSON.stringify(body), headers });
const errorOf = async (res: Response): Promise<{ status: number; code: string }> => ({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code });

/** Waits until the hub counts `n` members of the room on this node (a stream has joined once it is counted). */
async function members(svc: Running, ns: string, room: string, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (svc.service.core.localCount(ns, room) < n) {
    if (Date.now() > deadline) throw new Error(`${ns} ${room}: ${svc.service.core.localCount(ns, room)} members, not ${n}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

for (const mode of MODES) {
  describe(`GET /events/:namespace/:room${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
    const svc = inModeForSuite(mode);

    it('streams a /layout room: every EVENT once, with id <epoch>:<offset>, beside socket.io members, publisher excluded', async () => {
      const stream = await openSse(`${svc.url}/events/layout/r1`);
      expect(stream.status).to.equal(200);
      expect(stream.headers.get('content-type')).to.match(/^text\/event-stream/);
      expect(stream.headers.get('cache-control')).to.include('no-cache');
      const [publisher, member] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
      await request(publisher, 'JOIN', { room: 'r1', name: 'pub' });
      await request(member, 'JOIN', { room: 'r1', name: 'm' });
      await members(svc, '/layout', 'r1', 3);
      const live = next(member, 'EVENT');
      const ack = await request(publisher, 'NOTIFY', { room: 'r1', message: { hello: 'sse' } });
      expect(ack).to.include({ ok: true, offset: 1, recipients: 2 });
      const event = await stream.next('EVENT');
      const viaSocket = await live;
      expect(event.json).to.deep.equal(viaSocket);
      expect(event.json).to.deep.include({ sender: 'pub', room: 'r1', message: { hello: 'sse' } });
      expect(event.id).to.equal(`${viaSocket.meta.epoch}:1`);
      expect(stream.retry).to.be.a('number').and.greaterThan(0);
      // An HTTP publication reaches the stream and the socket.io members once each.
      const both = [next(member, 'EVENT'), next(publisher, 'EVENT')];
      expect(await (await post(`${svc.url}/publish/layout/r1`, 'x')).json()).to.deep.equal({ ok: true, recipients: 3, offset: 2 });
      expect((await stream.next('EVENT')).json).to.deep.include({ sender: 'POST', message: 'x' });
      await Promise.all(both);
      await request(publisher, 'NOTIFY', { room: 'r1', message: 'end' });
      expect((await stream.next('EVENT')).json.message).to.equal('end');
      expect(stream.events.filter((e) => e.event === 'EVENT')).to.have.length(3);
    });

    it('streams a /sock topic: each frame under its action, beside /sock members', async () => {
      const stream = await openSse(`${svc.url}/events/sock/t1`);
      const ws = await openSock(svc.url);
      ws.send({ action: 'subscribe', topic: 't1' });
      await ws.next('subscribe-topic');
      await members(svc, '/sock', 't1', 2);
      ws.send({ action: 'chat-line', topic: 't1', payload: { text: 'hi' } });
      const own = await ws.next('chat-line');
      const event = await stream.next('chat-line');
      expect(event.json).to.deep.equal(own);
      expect(event.id).to.equal(`${own.meta!.epoch}:${own.meta!.offset}`);
      await post(`${svc.url}/publish/sock/t1`, { n: 2 });
      expect((await stream.next('message')).json).to.deep.include({ sender: 'POST', payload: { n: 2 } });
    });

    it('follows several rooms with ?room=, each event from its own room', async () => {
      const stream = await openSse(`${svc.url}/events/bus/a?room=b&room=a`);
      await members(svc, '/bus', 'b', 1);
      await post(`${svc.url}/bus-message/a`, 1);
      await post(`${svc.url}/bus-message/b`, 2);
      const first = await stream.next('EVENT');
      const second = await stream.next('EVENT');
      expect([first.json.room, second.json.room]).to.deep.equal(['a', 'b']);
      expect(svc.service.core.localCount('/bus', 'a')).to.equal(1);
    });

    it('resumes with Last-Event-ID after 20 missed messages: every one in order, then live, no gap and no duplicate', async () => {
      const first = await openSse(`${svc.url}/events/layout/resume`);
      await members(svc, '/layout', 'resume', 1);
      await post(`${svc.url}/publish/layout/resume`, 0);
      const seen = await first.next('EVENT');
      first.close();
      for (let i = 1; i <= 20; i++) await post(`${svc.url}/publish/layout/resume`, i);
      const again = await openSse(`${svc.url}/events/layout/resume`, { 'last-event-id': seen.id! });
      const replayed: number[] = [];
      for (let i = 0; i < 20; i++) replayed.push((await again.next('EVENT')).json.message);
      expect(replayed).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
      await post(`${svc.url}/publish/layout/resume`, 21);
      expect((await again.next('EVENT')).json.message).to.equal(21);
      expect(again.events.map((e) => e.event)).to.not.include('reset');
      // ?lastEventId= does the same (EventSource cannot set headers on a first connection).
      const viaQuery = await openSse(`${svc.url}/events/layout/resume?lastEventId=${encodeURIComponent(seen.id!)}`);
      expect((await viaQuery.next('EVENT')).json.message).to.equal(1);
    });

    it('starts with event: reset when the position cannot be resumed: another epoch, beyond the last offset, not a position', async () => {
      await post(`${svc.url}/publish/layout/gone`, 1);
      const cases: Array<[string, string]> = [
        ['0000000aa-notthisroom:1', 'epoch_changed'],
        ['garbage', 'unknown_position'],
      ];
      for (const [id, reason] of cases) {
        const stream = await openSse(`${svc.url}/events/layout/gone`, { 'last-event-id': id });
        const reset = await stream.next();
        expect(reset.event, id).to.equal('reset');
        expect(reset.json, id).to.deep.equal({ reason, room: 'gone' });
        stream.close();
      }
      const live = await openSse(`${svc.url}/events/layout/gone`);
      await members(svc, '/layout', 'gone', 1);
      await post(`${svc.url}/publish/layout/gone`, 2);
      const { id } = await live.next('EVENT');
      const [epoch] = id!.split(':');
      const beyond = await openSse(`${svc.url}/events/layout/gone`, { 'last-event-id': `${epoch}:99` });
      expect((await beyond.next()).json).to.deep.equal({ reason: 'unknown_position', room: 'gone' });
      await post(`${svc.url}/publish/layout/gone`, 3);
      expect((await beyond.next('EVENT')).json.message).to.equal(3);
    });

    it('refuses before the stream starts: unknown namespace 404, bad room 400, other methods 405, too many rooms 400', async () => {
      expect(await errorOf(await fetch(`${svc.url}/events/nothing/r`))).to.deep.equal({ status: 404, code: 'NOT_FOUND' });
      expect(await errorOf(await fetch(`${svc.url}/events/layout/${'x'.repeat(300)}`))).to.deep.equal({ status: 400, code: 'INVALID_ROOM' });
      expect(await errorOf(await fetch(`${svc.url}/events/layout/r`, { method: 'POST' }))).to.deep.equal({ status: 405, code: 'METHOD_NOT_ALLOWED' });
      const many = Array.from({ length: 1000 }, (_, i) => `room=r${i}`).join('&');
      expect(await errorOf(await fetch(`${svc.url}/events/layout/r?${many}`))).to.deep.equal({ status: 400, code: 'TOO_MANY_ROOMS' });
    });
  });
}

describe('GET /events: a reader that does not read', () => {
  it('is cut once it is more than --max-send-buffer behind; the others keep getting every message', async () => {
    const LIMIT = 256 * 1024;
    const svc = await startService({ maxPayload: 64 * 1024, abuse: { ...defaultAbuseLimits(), maxSendBuffer: LIMIT, bytesPerSecond: 0 } });
    try {
      // A raw connection that asks for the stream and never reads it.
      const { port } = new URL(svc.url);
      const stalled = net.connect(Number(port), '127.0.0.1');
      stalled.pause();
      stalled.write('GET /events/layout/firehose HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
      const reading = await openSse(`${svc.url}/events/layout/firehose`);
      await members(svc, '/layout', 'firehose', 2);
      const big = 'x'.repeat(32 * 1024);
      let sent = 0;
      // Until the stalled stream is gone (the kernel's socket buffers take a few MB first).
      while (svc.service.core.localCount('/layout', 'firehose') > 1) {
        if (sent >= 2000) throw new Error('the stalled reader was never cut');
        await post(`${svc.url}/publish/layout/firehose`, big);
        sent++;
      }
      const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      stalled.resume();
      await closed;
      await post(`${svc.url}/publish/layout/firehose`, 'after');
      for (;;) if ((await reading.next('EVENT')).json.message === 'after') break;
      expect(reading.events.filter((e) => e.event === 'EVENT')).to.have.length(sent + 1);
      // Counted for the metrics (notify_slow_consumer_disconnects_total): the stalled stream only.
      expect((await scrape(svc.url)).value('notify_slow_consumer_disconnects_total')).to.equal(1);
      stalled.destroy();
    } finally {
      closeStreams();
      await svc.close();
    }
  });
});

describe('GET /events: keep-alive and shutdown', () => {
  afterEach(closeStreams);

  it('sends `: ping` every --sse-ping, and event: shutdown with a proper end when the service closes', async () => {
    const svc = await startService({ ssePingMs: 1000 });
    let stream: SseClient;
    try {
      stream = await openSse(`${svc.url}/events/layout/idle`);
      const deadline = Date.now() + 3000;
      while (!stream.comments.includes('ping')) {
        if (Date.now() > deadline) throw new Error('no ping within 3 s');
        await stream.next(undefined, 200).catch(() => undefined);
      }
    } finally {
      await svc.close();
    }
    const shutdown = await stream.next('shutdown');
    expect(shutdown.json).to.deep.equal({});
    // The response ended with its last chunk: the body is complete, not reset.
    await stream.ended;
  });
});

describe('GET /events with auth on', () => {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: ['k'] }) });
  afterEach(closeStreams);

  it('401 without or with bad credentials, 403 without the subscribe right; Bearer, ?token= and a one-time ?ticket= open it', async () => {
    const url = `${svc.url}/events/layout/team-1`;
    expect(await errorOf(await fetch(url))).to.deep.equal({ status: 401, code: 'UNAUTHORIZED' });
    expect(await errorOf(await fetch(url, { headers: { authorization: 'Bearer nope' } }))).to.deep.equal({ status: 401, code: 'UNAUTHORIZED' });
    const other = await hsToken({ sub: 'eve', rooms: { subscribe: ['other-*'] } });
    expect(await errorOf(await fetch(url, { headers: { authorization: `Bearer ${other}` } }))).to.deep.equal({ status: 403, code: 'FORBIDDEN' });
    const token = await hsToken({ sub: 'ann', rooms: { subscribe: ['team-*'] } });
    const byHeader = await openSse(url, { authorization: `Bearer ${token}` });
    expect(byHeader.status).to.equal(200);
    const byQuery = await openSse(`${url}?token=${token}`);
    expect(byQuery.status).to.equal(200);
    const ticket = ((await (await fetch(`${svc.url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json()) as { ticket: string }).ticket;
    const byTicket = await openSse(`${url}?ticket=${encodeURIComponent(ticket)}`);
    expect(byTicket.status).to.equal(200);
    expect(await errorOf(await fetch(`${url}?ticket=${encodeURIComponent(ticket)}`))).to.deep.equal({ status: 401, code: 'UNAUTHORIZED' });
    await members(svc, '/layout', 'team-1', 3);
    await post(`${svc.url}/publish/layout/team-1`, 'hi', { 'x-api-key': 'k' });
    for (const stream of [byHeader, byQuery, byTicket]) expect((await stream.next('EVENT')).json.message).to.equal('hi');
  });

  it('ends the stream with event: error TOKEN_EXPIRED when the token expires', async () => {
    const token = await hsToken({ sub: 'ann', rooms: { subscribe: ['*'] } }, { expiresIn: 1 });
    const stream = await openSse(`${svc.url}/events/layout/short`, { authorization: `Bearer ${token}` });
    const error = await stream.next('error', 4000);
    expect(error.json.code).to.equal('TOKEN_EXPIRED');
    await stream.ended;
  });
});
