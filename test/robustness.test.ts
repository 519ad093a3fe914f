/**
 * Bad input never crashes the process nor disturbs other clients: each case sends something bad,
 * checks the sender got a clear coded error, then proves the service healthy with a fresh pair.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { closeAll, connect, next, request, type ClientVersion, type TestClient } from './helpers/clients.js';
import { startInMode } from './helpers/cluster.js';
import { captureLogger } from './helpers/logs.js';
import { startService, type Running } from './helpers/service.js';

const LIMIT = 64 * 1024;

describe('robustness against bad input', () => {
  let svc: Running;
  let bystander: TestClient;
  before(async () => {
    svc = await startService({ maxPayload: LIMIT });
  });
  after(() => svc.close());
  beforeEach(async () => {
    // A member of an unrelated room who must notice nothing.
    bystander = await connect('v4', svc.url, '/layout');
    await request(bystander, 'JOIN', { room: 'bystanders', name: 'bystander' });
  });
  afterEach(async () => {
    // A fresh publisher and the old bystander still exchange a notification.
    const fresh = await connect('v4', svc.url, '/layout');
    const got = next(bystander, 'EVENT');
    await request(fresh, 'NOTIFY', { room: 'bystanders', message: 'still fine' });
    expect((await got).message).to.equal('still fine');
    closeAll();
  });

  const refusals: Array<[title: string, event: string, args: unknown[], code: string]> = [
    ['an invalid JSON string', 'JOIN', ['{"room": "r", '], 'INVALID_JSON'],
    ['a bare string that is not JSON', 'NOTIFY', ['hello'], 'INVALID_JSON'],
    ['null', 'JOIN', [null], 'INVALID_PAYLOAD'],
    ['a number', 'NOTIFY', [42], 'INVALID_PAYLOAD'],
    ['an array', 'JOIN', [['room', 'name']], 'INVALID_PAYLOAD'],
    ['a JSON string holding an array', 'JOIN', ['[1,2,3]'], 'INVALID_PAYLOAD'],
    ['no payload at all', 'CLIENTS', [], 'INVALID_PAYLOAD'],
    ['a missing room', 'JOIN', [{ name: 'x' }], 'INVALID_ROOM'],
    ['a room of the wrong type', 'JOIN', [{ room: { nested: true } }], 'INVALID_ROOM'],
    ['an empty room', 'NOTIFY', [{ room: '', message: 1 }], 'INVALID_ROOM'],
    ['a 10k-character room name', 'JOIN', [{ room: 'r'.repeat(10_000) }], 'INVALID_ROOM'],
    ['a name of the wrong type', 'JOIN', [{ room: 'r', name: ['x'] }], 'INVALID_NAME'],
    ['a 10k-character name', 'JOIN', [JSON.stringify({ room: 'r', name: 'n'.repeat(10_000) })], 'INVALID_NAME'],
    ['a NOTIFY without message', 'NOTIFY', [{ room: 'r' }], 'INVALID_PAYLOAD'],
    ['a message over the limit as JSON string', 'NOTIFY', [JSON.stringify({ room: 'r', message: 'x'.repeat(LIMIT) })], 'PAYLOAD_TOO_LARGE'],
    ['a message over the limit as object', 'NOTIFY', [{ room: 'r', message: { blob: 'x'.repeat(LIMIT) } }], 'PAYLOAD_TOO_LARGE'],
    ['a multi-byte message over the limit in bytes', 'NOTIFY', [{ room: 'r', message: 'é'.repeat(LIMIT / 2 + 10) }], 'PAYLOAD_TOO_LARGE'],
    ['an unknown event', 'SUBSCRIBE_CHANNEL', [{ room: 'r' }], 'UNKNOWN_EVENT'],
    ['an event named like an Object.prototype member', 'hasOwnProperty', [{ room: 'r' }], 'UNKNOWN_EVENT'],
    ['an event named __proto__', '__proto__', [{}], 'UNKNOWN_EVENT'],
  ];

  for (const version of ['v4', 'v1'] as ClientVersion[]) {
    for (const [title, event, args, code] of refusals) {
      it(`${version}: refuses ${title} with ${code}, by ack and by ERROR event`, async () => {
        const client = await connect(version, svc.url, '/layout');
        const reply = await request(client, event, ...args);
        expect(reply.ok).to.equal(false);
        expect(reply.error.code).to.equal(code);
        expect(reply.error.message).to.be.a('string').and.not.empty;
        const error = next(client, 'ERROR');
        client.emit(event, ...args);
        expect(await error).to.include({ code, event });
      });
    }
  }

  it('answers events sent to the root namespace with UNKNOWN_EVENT', async () => {
    for (const version of ['v4', 'v2'] as ClientVersion[]) {
      const root = await connect(version, svc.url, '/');
      expect((await request(root, 'NOTIFY', { room: 'r', message: 1 })).error.code).to.equal('UNKNOWN_EVENT');
    }
  });

  it('deeply nested payloads are refused or delivered, never fatal', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    await request(b, 'JOIN', { room: 'deep', name: 'b' });
    const depth = 20_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const reply = await request(a, 'NOTIFY', `{"room":"deep","message":${nested}}`);
    expect(reply.ok).to.equal(false);
    expect(reply.error.code).to.equal('INVALID_PAYLOAD');
    // Moderately nested is a legitimate message.
    const got = next(b, 'EVENT');
    const moderate = JSON.parse(`${'{"a":'.repeat(50)}1${'}'.repeat(50)}`);
    expect(await request(a, 'NOTIFY', { room: 'deep', message: moderate })).to.include({ ok: true });
    expect((await got).message).to.deep.equal(moderate);
  });

  it('rooms named __proto__, constructor and hasOwnProperty are ordinary rooms', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v2', svc.url, '/layout')]);
    for (const room of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      expect(await request(b, 'JOIN', JSON.stringify({ room, name: 'b' }))).to.include({ ok: true, room });
      const got = next(b, 'EVENT');
      await request(a, 'NOTIFY', JSON.stringify({ room, message: room }));
      expect(await got).to.deep.include({ sender: 'unknown', room, message: room });
      expect((await request(a, 'CLIENTS', { room })).clients).to.deep.equal(['b']);
    }
    // A name can be one too.
    expect(await request(a, 'JOIN', { room: 'proto-names', name: '__proto__' })).to.include({ ok: true, name: '__proto__' });
    expect((await request(a, 'CLIENTS', { room: 'proto-names' })).clients).to.deep.equal(['__proto__']);
  });

  it('a room cannot be used to read what is sent to another socket', async () => {
    const [victim, spy] = await Promise.all([connect('v4', svc.url, '/lobby'), connect('v4', svc.url, '/lobby')]);
    const peer = await connect('v4', svc.url, '/lobby');
    await request(victim, 'JOIN', 'lobby-v');
    await request(peer, 'JOIN', 'lobby-v');
    // The spy names its lobby after the victim's socket id.
    await request(spy, 'JOIN', victim.id);
    const spied: unknown[] = [];
    spy.on('RTCSIGNAL', (s: unknown) => spied.push(s));
    const got = next(victim, 'RTCSIGNAL');
    await request(peer, 'RTCSIGNAL', { to: victim.id, sdp: 'secret' });
    await got;
    await request(spy, 'BROADCAST', { message: 'sync' });
    expect(spied).to.be.empty;
  });

  it('events before JOIN and after LEAVE are answered, not fatal', async () => {
    const a = await connect('v4', svc.url, '/layout');
    expect(await request(a, 'LEAVE', { room: 'never' })).to.deep.equal({ ok: true, room: 'never', wasMember: false });
    expect(await request(a, 'CLIENTS', { room: 'never' })).to.deep.equal({ ok: true, room: 'never', clients: [] });
    expect(await request(a, 'NOTIFY', { room: 'never', message: 1 })).to.include({ ok: true });
    await request(a, 'JOIN', { room: 'once' });
    await request(a, 'LEAVE', { room: 'once' });
    expect(await request(a, 'LEAVE', { room: 'once' })).to.include({ wasMember: false });
  });

  it('a flood of JOIN/LEAVE leaves membership consistent, in the order sent', () => floodOfJoinsAndLeaves(svc.url));

  it(`refuses the 1001st room of one connection with TOO_MANY_ROOMS`, async () => {
    const a = await connect('v4', svc.url, '/layout');
    const joins = await Promise.all(Array.from({ length: 1000 }, (_, i) => request(a, 'JOIN', { room: `many-${i}` })));
    expect(joins.every((r) => r.ok)).to.equal(true);
    const refused = await request(a, 'JOIN', { room: 'one-too-many' });
    expect(refused.error.code).to.equal('TOO_MANY_ROOMS');
    // Joining one it is already in, or leaving and joining, still works.
    expect(await request(a, 'JOIN', { room: 'many-7', name: 'renamed' })).to.include({ ok: true });
    await request(a, 'LEAVE', { room: 'many-0' });
    expect(await request(a, 'JOIN', { room: 'one-too-many' })).to.include({ ok: true });
  });

  it('malformed socket.io frames only cost the sender its connection', async () => {
    const frames = ['42["JOIN"', '4{"not":"an array"}', '42["disconnect"]', '9999', '', '42[1,2,3]', '40/nope,', '4' + '['.repeat(100_000)];
    for (const frame of frames) {
      const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('close', () => resolve());
        ws.once('message', () => {
          ws.send('40/layout,');
          ws.once('message', () => ws.send(frame.startsWith('4') ? frame.replace(/^4(\d?)/, '4$1/layout,') : frame));
          // Either the server closes the connection, or it ignores the frame; then we close.
          const done = setTimeout(() => ws.close(), 300);
          ws.once('close', () => clearTimeout(done));
        });
      });
    }
  });

  it('a frame far over the transport limit closes only that connection', async () => {
    const a = await connect('v4', svc.url, '/layout');
    const closed = next(a, 'disconnect');
    a.emit('NOTIFY', { room: 'r', message: 'x'.repeat(3 * LIMIT) });
    expect(await closed).to.be.a('string');
  });

  it('logs each refusal at debug level, with its code and without the message body', async () => {
    const { logger, entries } = captureLogger('debug');
    const own = await startService({ maxPayload: LIMIT }, { logger });
    try {
      const a = await connect('v4', own.url, '/layout');
      await request(a, 'NOTIFY', JSON.stringify({ room: 'r', message: 'secret-body-'.repeat(10_000) }));
      await request(a, 'JOIN', '{oops');
      const refusals = entries.filter((e) => e.message === 'refused client event');
      expect(refusals.map((e) => [e.level, e.code, e.event])).to.deep.equal([
        ['debug', 'PAYLOAD_TOO_LARGE', 'NOTIFY'],
        ['debug', 'INVALID_JSON', 'JOIN'],
      ]);
      expect(JSON.stringify(entries)).not.to.include('secret-body');
    } finally {
      await own.close();
    }
  });
});

/**
 * 1000 JOIN/LEAVE pairs from one connection, sent without waiting: each takes effect in the order
 * sent, in presence (CLIENTS) and in the room (delivery) alike.
 */
async function floodOfJoinsAndLeaves(url: string): Promise<void> {
  const [a, b, c] = await Promise.all([connect('v4', url, '/layout'), connect('v1', url, '/layout'), connect('v4', url, '/layout')]);
  const replies: Promise<any>[] = [];
  for (let i = 0; i < 1000; i++) {
    replies.push(request(a, 'JOIN', { room: `flood-${i % 10}`, name: 'a' }));
    replies.push(request(a, 'LEAVE', { room: `flood-${(i + 5) % 10}` }));
  }
  // The same with `since` (a resume from a position of another epoch: nothing to replay), from c.
  const since = { epoch: 'gone', offset: 1 };
  for (let i = 0; i < 100; i++) {
    replies.push(request(c, 'JOIN', { room: `flood-since-${i % 2}`, name: 'c', since }));
    replies.push(request(c, 'LEAVE', { room: `flood-since-${(i + 1) % 2}` }));
  }
  const results = await Promise.all(replies);
  expect(results.filter((r) => !r.ok).slice(0, 3)).to.deep.equal([]);
  // Each op takes effect in the order sent: the last op on flood-0 was a LEAVE (i = 995), on
  // flood-5 a JOIN (i = 995); on flood-since-0 a LEAVE (i = 99), on flood-since-1 a JOIN (i = 99).
  // CLIENTS (presence) and delivery (the room) both say so.
  const expected = [
    ['flood-0', a, 'a', false],
    ['flood-5', a, 'a', true],
    ['flood-since-0', c, 'c', false],
    ['flood-since-1', c, 'c', true],
  ] as const;
  for (const [room, flooder, name, isIn] of expected) {
    await request(b, 'JOIN', JSON.stringify({ room, name: 'b' }));
    const clients = (await request(b, 'CLIENTS', JSON.stringify({ room }))).clients;
    expect(clients, room).to.have.members(isIn ? [name, 'b'] : ['b']);
    const got: string[] = [];
    const onEvent = (e: { message: string }): void => void got.push(e.message);
    flooder.on('EVENT', onEvent);
    await request(b, 'NOTIFY', JSON.stringify({ room, message: `to ${room}` }));
    // The flooder's own next request is answered after anything sent to it before (one connection, in order).
    await request(flooder, 'CLIENTS', { room });
    flooder.off('EVENT', onEvent);
    expect(got, `what ${name} got from ${room}`).to.deep.equal(isIn ? [`to ${room}`] : []);
  }
}

describe('robustness in cluster mode (one node on a private Redis)', () => {
  let svc: Running;
  before(async function () {
    svc = await startInMode(this, 'redis');
  });
  after(async () => {
    closeAll();
    await svc?.close();
  });

  // Presence is in Redis here: each JOIN and LEAVE sends its command at once, in the order sent.
  it('a flood of JOIN/LEAVE leaves membership consistent, in the order sent', () => floodOfJoinsAndLeaves(svc.url));
});
