/**
 * Large messages are never parsed on the event loop: a packet over LARGE_PACKET_CHARS is validated
 * in slices and its message travels as its text (RawJson) through fan-out, history, recovery and
 * the store, spliced into every packet that carries it. Each case checks what members receive
 * (the same value as sent, in order) and that the server never fell back to parsing the message.
 */
import { expect } from 'chai';
import http from 'node:http';
import WebSocket from 'ws';
import { collect, connect, next, request, VERSIONS, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { LARGE_PACKET_CHARS } from '../lib/core/large-packets.js';
import { largeJsonSlices } from '../lib/json/large-json.js';
import { rawJsonFallbackParses, rawJsonMade } from '../lib/json/raw-json.js';

/** About `bytes` of JSON: nested objects, strings with escapes, numbers of every form. */
function bigMessage(bytes: number, tag = 'm'): Record<string, unknown> {
  const items = [];
  for (let i = 0; items.length * 60 < bytes; i++) items.push({ i, tag, s: `line ${i}\n"quoted" \\ é ${'x'.repeat(i % 7)}`, f: i / 7, big: -1.5e300, ok: i % 2 === 0, none: null });
  return { kind: 'big', items };
}

async function member(url: string, nsp: string, room: string, version: (typeof VERSIONS)[number] = 'v4'): Promise<TestClient> {
  const client = await connect(version, url, nsp);
  const joined = await request(client, 'JOIN', { room, name: `member-${version}` });
  expect(joined.ok).to.equal(true);
  return client;
}

/** A raw Engine.IO v4 WebSocket joined to `nsp`, for crafted packets. */
async function rawSocket(url: string, nsp: string): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<void> }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { maxPayload: 64 * 1024 * 1024 });
  const frames: string[] = [];
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text[0] === '0') ws.send(`40${nsp},`);
      else if (text === '2') ws.send('3');
      else if (text.startsWith(`40${nsp},`)) resolve();
      else frames.push(text);
    });
  });
  return { ws, frames, closed };
}

/** The next frame matching `test` (polled from the raw socket's frames as they arrive). */
async function frame(socket: { ws: WebSocket; frames: string[] }, test: (f: string) => boolean): Promise<string> {
  const found = socket.frames.find(test);
  if (found) return found;
  return new Promise((resolve) => {
    const on = (data: Buffer): void => {
      const text = data.toString();
      if (test(text)) {
        socket.ws.off('message', on);
        resolve(text);
      }
    };
    socket.ws.on('message', on);
  });
}

/** POSTs `body`; resolves with the status and the parsed JSON answer. */
function post(url: string, body: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('large messages (read in slices, carried as text)', function () {
  this.timeout(30_000);
  const svc = serviceForSuite();

  it('a /layout NOTIFY of 1.5 MB reaches every member as sent, acked with its offset, never parsed', async () => {
    const message = bigMessage(1_500_000);
    const v4 = await member(svc.url, '/layout', 'big');
    const v2 = await member(svc.url, '/layout', 'big', 'v2');
    const publisher = await connect('v4', svc.url, '/layout');
    const parses = rawJsonFallbackParses();
    const made = rawJsonMade();
    const slices = largeJsonSlices();
    const got4 = next(v4, 'EVENT');
    const got2 = next(v2, 'EVENT');
    const ack = await request(publisher, 'NOTIFY', { room: 'big', message });
    expect(ack).to.include({ ok: true, room: 'big', recipients: 2 });
    for (const event of [await got4, await got2]) {
      expect(event.message).to.deep.equal(message);
      expect(event.room).to.equal('big');
      expect(event.meta.offset).to.equal(ack.offset);
    }
    expect(rawJsonMade()).to.equal(made + 1); // the message, kept as text
    expect(rawJsonFallbackParses()).to.equal(parses);
    // Read in several turns of the event loop (about 1 ms each), not in one block.
    expect(largeJsonSlices() - slices).to.be.greaterThan(1);
  });

  for (const version of ['v1', 'v2'] as const) {
    it(`a large JSON-string payload from socket.io-client ${version} is read the same way`, async () => {
      const message = bigMessage(300_000, version);
      const sub = await member(svc.url, '/layout', `big-${version}`);
      const publisher = await connect(version, svc.url, '/layout');
      const got = next(sub, 'EVENT');
      const ack = await request(publisher, 'NOTIFY', JSON.stringify({ room: `big-${version}`, message }));
      expect(ack.ok).to.equal(true);
      expect((await got).message).to.deep.equal(message);
    });
  }

  it('/trigger relays large data of any kind as it was sent (object, array, string)', async () => {
    const sub = await connect('v4', svc.url, '/trigger');
    expect((await request(sub, 'JOIN', 'big-t')).ok).to.equal(true);
    const publisher = await connect('v4', svc.url, '/trigger');
    const values: unknown[] = [bigMessage(200_000), bigMessage(200_000).items, `text ${'"\\\n'.repeat(50_000)} end`];
    const got = collect<unknown[]>(sub, 'EVENTS', values.length);
    const received: unknown[] = [];
    sub.on('EVENTS', (data: unknown) => received.push(data));
    for (const data of values) expect((await request(publisher, 'BROADCAST_EVENTS', 'big-t', data)).ok).to.equal(true);
    await got;
    expect(received).to.deep.equal(values);
  });

  it('keeps the order of a connection: small packets sent after a large one are handled after it', async () => {
    const sub = await member(svc.url, '/layout', 'order');
    const publisher = await connect('v4', svc.url, '/layout');
    const got = collect<{ message: unknown }>(sub, 'EVENT', 6);
    const acks = [request(publisher, 'NOTIFY', { room: 'order', message: bigMessage(2_000_000, 'first') })];
    for (let i = 1; i < 6; i++) acks.push(request(publisher, 'NOTIFY', { room: 'order', message: i }));
    const offsets = (await Promise.all(acks)).map((a) => a.offset as number);
    expect(offsets).to.deep.equal([...offsets].sort((a, b) => a - b));
    const events = await got;
    expect((events[0]!.message as { items: { tag: string }[] }).items[0]!.tag).to.equal('first');
    expect(events.slice(1).map((e) => e.message)).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('history, JOIN since and HISTORY give a large message back as it was sent, never parsed', async () => {
    const message = bigMessage(500_000, 'kept');
    const watcher = await member(svc.url, '/layout', 'kept');
    const publisher = await connect('v4', svc.url, '/layout');
    const parses = rawJsonFallbackParses();
    const firstEvent = next(watcher, 'EVENT');
    expect((await request(publisher, 'NOTIFY', { room: 'kept', message: 'before' })).ok).to.equal(true);
    const since = (await firstEvent).meta;
    expect((await request(publisher, 'NOTIFY', { room: 'kept', message })).ok).to.equal(true);
    const late = await connect('v4', svc.url, '/layout');
    const replayed = next(late, 'EVENT');
    const joined = await request(late, 'JOIN', { room: 'kept', since });
    expect(joined.ok).to.equal(true);
    expect((await replayed).message).to.deep.equal(message);
    const history = await request(late, 'HISTORY', { room: 'kept', limit: 2 });
    expect(history.messages.map((m: { message: unknown }) => m.message)).to.deep.equal(['before', message]);
    expect(rawJsonFallbackParses()).to.equal(parses);
  });

  it('answers a large packet that is not valid JSON with INVALID_JSON and closes the connection', async () => {
    const socket = await rawSocket(svc.url, '/layout');
    socket.ws.send(`42/layout,7["NOTIFY",{"room":"x","message":[${'1,'.repeat(LARGE_PACKET_CHARS)}]}]`);
    const reply = await frame(socket, (f) => f.startsWith('43/layout,7'));
    expect(JSON.parse(reply.slice('43/layout,7'.length))[0].error.code).to.equal('INVALID_JSON');
    await socket.closed;
  });

  it('answers a large packet nested too deep, or with too much beside its message, with INVALID_PAYLOAD', async () => {
    const deep = await rawSocket(svc.url, '/layout');
    deep.ws.send(`42/layout,8["NOTIFY",{"room":"x","message":${'['.repeat(65)}${'1,'.repeat(LARGE_PACKET_CHARS)}1${']'.repeat(65)}}]`);
    const deepReply = JSON.parse((await frame(deep, (f) => f.startsWith('43/layout,8'))).slice('43/layout,8'.length));
    expect(deepReply[0].error).to.include({ code: 'INVALID_PAYLOAD' });
    expect(deepReply[0].error.message).to.match(/deeper than 64/);
    const wide = await rawSocket(svc.url, '/layout');
    wide.ws.send(`42/layout,9["NOTIFY",${'1,'.repeat(LARGE_PACKET_CHARS)}1]`);
    const wideReply = JSON.parse((await frame(wide, (f) => f.startsWith('43/layout,9'))).slice('43/layout,9'.length));
    expect(wideReply[0].error.code).to.equal('INVALID_PAYLOAD');
  });

  it('refuses a binary packet whose JSON part is large (PAYLOAD_TOO_LARGE) and keeps the connection', async () => {
    const client = await connect('v4', svc.url, '/layout');
    const reply = await request(client, 'NOTIFY', { room: 'bin', message: { text: 'x'.repeat(LARGE_PACKET_CHARS), blob: Buffer.from([1, 2, 3]) } });
    expect(reply.error.code).to.equal('PAYLOAD_TOO_LARGE');
    expect((await request(client, 'NOTIFY', { room: 'bin', message: 'small' })).ok).to.equal(true);
  });

  it('a large HTTP publication is kept as text too; a large invalid body is INVALID_JSON', async () => {
    const message = bigMessage(1_000_000, 'http');
    const sub = await member(svc.url, '/bus', 'posted');
    const parses = rawJsonFallbackParses();
    const made = rawJsonMade();
    const got = next(sub, 'EVENT');
    const answer = await post(`${svc.url}/bus-message/posted`, ` ${JSON.stringify(message)}\n`);
    expect(answer.status).to.equal(200);
    expect(answer.json).to.include({ ok: true, recipients: 1 });
    expect((await got).message).to.deep.equal(message);
    expect(rawJsonMade()).to.equal(made + 1);
    expect(rawJsonFallbackParses()).to.equal(parses);
    const bad = await post(`${svc.url}/bus-message/posted`, `[${'1,'.repeat(LARGE_PACKET_CHARS)}]`);
    expect([bad.status, bad.json.error.code]).to.deep.equal([400, 'INVALID_JSON']);
  });

  it('closes a connection that sends a large packet of another type (CONNECT)', async () => {
    const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    ws.on('message', (data: Buffer) => {
      if (data.toString()[0] === '0') ws.send(`40/layout,{"pad":"${'x'.repeat(LARGE_PACKET_CHARS)}"}`);
    });
    await closed;
  });
});

describe('large messages: what may queue behind one being read is bounded', function () {
  this.timeout(30_000);
  // No byte rate: only the queue bound (4 frames of 2 × 1 MiB + 64 KiB) stops a flood.
  const svc = serviceForSuite({ maxPayload: 1024 * 1024, abuse: { ...defaultAbuseLimits(), bytesPerSecond: 0 } });

  it('closes a connection that keeps sending while its large packet is read', async () => {
    const socket = await rawSocket(svc.url, '/layout');
    const packet = (id: number): string => `42/layout,${id}["NOTIFY",{"room":"q","message":[${'1,'.repeat(500_000)}1]}]`;
    // Pipelining a few is fine: all answered, in order.
    for (let id = 1; id <= 3; id++) socket.ws.send(packet(id));
    for (let id = 1; id <= 3; id++) expect(JSON.parse((await frame(socket, (f) => f.startsWith(`43/layout,${id}[`))).slice(`43/layout,${id}`.length))[0].ok).to.equal(true);
    // Twelve at once (12 MB; the bound is 8.25 MB): closed while the first is read.
    for (let id = 10; id <= 21; id++) socket.ws.send(packet(id));
    await socket.closed;
  });
});

