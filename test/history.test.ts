/**
 * Offsets, JOIN `since` and HISTORY through real clients: exact recovery after a dropped transport
 * for every client version, one order for every subscriber, bounds, epochs across restarts.
 */
import { serverPublisher } from '../lib/core/hub.js';
import { expect } from 'chai';
import type { MessageMeta } from '../lib/history/types.js';
import { MemoryHistory } from '../lib/history/memory.js';
import { closeAll, collect, connect, next, recorder, request, type ClientVersion, type TestClient, type TransportName } from './helpers/clients.js';
import { dropTransport } from './helpers/history.js';
import { startService, serviceForSuite } from './helpers/service.js';

interface Envelope {
  sender: string;
  room: string;
  message: unknown;
  meta: MessageMeta;
}

const join = async (client: TestClient, room: string, extra: Record<string, unknown> = {}) => {
  const reply = await request(client, 'JOIN', JSON.stringify({ room, name: `${client.version}-sub`, ...extra }));
  expect(reply.ok, JSON.stringify(reply)).to.equal(true);
  return reply;
};

const notify = async (client: TestClient, room: string, message: unknown, extra: Record<string, unknown> = {}) => {
  const reply = await request(client, 'NOTIFY', { room, message, ...extra });
  expect(reply.ok, JSON.stringify(reply)).to.equal(true);
  return reply as { ok: true; room: string; offset: number; recipients: number };
};

describe('history: offsets, JOIN since, HISTORY', () => {
  const svc = serviceForSuite();

  const cases: [ClientVersion, TransportName][] = [
    ['v4', 'websocket'],
    ['v2', 'websocket'],
    ['v1', 'websocket'],
    ['v1', 'polling'],
  ];
  for (const [version, transport] of cases) {
    it(`${version} over ${transport}: a dropped transport, then JOIN since: exactly the missed messages in order, then live ones`, async () => {
      const room = `drop-${version}-${transport}`;
      const nsp = svc.service.io.of('/layout');
      const pub = await connect('v4', svc.url, '/layout');
      const sub = await connect(version, svc.url, '/layout', { transport });
      await join(sub, room);
      const before = recorder(sub, 'EVENT');
      const firstThree = collect<Envelope>(sub, 'EVENT', 3);
      for (let i = 1; i <= 3; i++) await notify(pub, room, `m${i}`);
      await firstThree;
      // Mid-stream: two more go out and the connection is cut before they leave the server.
      svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: 'm4' });
      svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: 'm5' });
      const { gone } = dropTransport(svc, '/layout', sub.id);
      expect(await gone).to.match(/transport (close|error)/);
      // While it is away.
      for (let i = 6; i <= 7; i++) expect((await notify(pub, room, `m${i}`)).recipients).to.equal(0);

      const had = before.received as Envelope[];
      const last = had[had.length - 1]!.meta;
      const again = await connect(version, svc.url, '/layout', { transport });
      const missed = 7 - last.offset;
      const arriving = collect<Envelope>(again, 'EVENT', missed + 1);
      const reply = await join(again, room, { since: last });
      expect(reply).to.deep.include({ recovered: true, replayed: missed, offset: 7, epoch: last.epoch });
      await notify(pub, room, 'm8');
      const after = await arriving;
      const all = [...had, ...after];
      expect(all.map((e) => e.message)).to.deep.equal(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']);
      expect(all.map((e) => e.meta.offset)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(new Set(all.map((e) => e.meta.epoch)).size).to.equal(1);
    });
  }

  it('replays before any live message, even when publications race the JOIN', async () => {
    const room = 'race';
    const pub = await connect('v4', svc.url, '/layout');
    for (let i = 1; i <= 20; i++) await notify(pub, room, i);
    const head = (await request(pub, 'HISTORY', { room, limit: 1 })).messages[0].meta as MessageMeta;
    const sub = await connect('v2', svc.url, '/layout');
    const got = collect<Envelope>(sub, 'EVENT', 30);
    // The JOIN goes out between publications of a busy publisher.
    for (let i = 21; i <= 25; i++) pub.emit('NOTIFY', { room, message: i });
    const joined = request(sub, 'JOIN', { room, since: { offset: 10, epoch: head.epoch } });
    for (let i = 26; i <= 40; i++) pub.emit('NOTIFY', { room, message: i });
    expect(await joined).to.include({ ok: true, recovered: true });
    const events = await got;
    expect(events.map((e) => e.meta.offset)).to.deep.equal(Array.from({ length: 30 }, (_, i) => 11 + i));
    expect(events.map((e) => e.message)).to.deep.equal(Array.from({ length: 30 }, (_, i) => 11 + i));
  });

  it('concurrent publishers: every subscriber sees the same order, offsets 1, 2, 3, … with no hole', async () => {
    const room = 'concurrent';
    const subs = await Promise.all((['v4', 'v2', 'v1'] as ClientVersion[]).map((v) => connect(v, svc.url, '/layout')));
    for (const s of subs) await join(s, room);
    const pubs = await Promise.all((['v4', 'v2', 'v1'] as ClientVersion[]).map((v) => connect(v, svc.url, '/layout')));
    const perPub = 25;
    const total = perPub * pubs.length;
    const received = subs.map((s) => collect<Envelope>(s, 'EVENT', total));
    const acks: Promise<{ offset: number }>[] = [];
    for (let i = 0; i < perPub; i++) {
      pubs.forEach((p, j) => acks.push(request(p, 'NOTIFY', JSON.stringify({ room, message: { from: j, i } }))));
    }
    const all = await Promise.all(received);
    const orders = all.map((events) => events.map((e) => JSON.stringify(e.message)));
    expect(orders[1]).to.deep.equal(orders[0]);
    expect(orders[2]).to.deep.equal(orders[0]);
    expect(all[0]!.map((e) => e.meta.offset)).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    for (let j = 0; j < pubs.length; j++) {
      const mine = all[0]!.filter((e) => (e.message as { from: number }).from === j).map((e) => (e.message as { i: number }).i);
      expect(mine).to.deep.equal(Array.from({ length: perPub }, (_, i) => i));
    }
    // Each publisher's ack names the offset its message went out with.
    const byOffset = new Map(all[0]!.map((e) => [e.meta.offset, e.message]));
    const ackOffsets = (await Promise.all(acks)).map((a) => a.offset);
    expect(new Set(ackOffsets).size).to.equal(total);
    acks.forEach((_, k) => expect(byOffset.get(ackOffsets[k]!)).to.deep.equal({ from: k % pubs.length, i: Math.floor(k / pubs.length) }));
  });

  it('HISTORY pages backwards, oldest first, as the envelopes subscribers got; without an ack as a HISTORY event', async () => {
    const room = 'paging';
    const [pub, sub] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    await join(sub, room);
    const live = collect<Envelope>(sub, 'EVENT', 25);
    for (let i = 1; i <= 25; i++) await notify(pub, room, { i });
    const delivered = await live;
    const page1 = await request(pub, 'HISTORY', JSON.stringify({ room, limit: 10 }));
    expect(page1).to.deep.equal({ ok: true, room, messages: delivered.slice(15) });
    const page2 = await request(pub, 'HISTORY', { room, limit: 10, before: page1.messages[0].meta });
    expect(page2.messages.map((m: Envelope) => m.meta.offset)).to.deep.equal([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const page3 = await request(pub, 'HISTORY', { room, limit: 10, before: page2.messages[0].meta });
    expect(page3.messages.map((m: Envelope) => m.meta.offset)).to.deep.equal([1, 2, 3, 4, 5]);
    expect((await request(pub, 'HISTORY', { room, before: page3.messages[0].meta })).messages).to.deep.equal([]);
    // Default limit: everything kept (100 at most).
    expect((await request(pub, 'HISTORY', { room })).messages).to.have.length(25);
    // A 1.7 client passes no ack: the answer comes as an event.
    const legacy = await connect('v1', svc.url, '/layout');
    const event = next(legacy, 'HISTORY');
    legacy.emit('HISTORY', JSON.stringify({ room, limit: 2 }));
    expect(await event).to.deep.equal({ room, messages: delivered.slice(23) });
    // An unknown room has no history; bad arguments are refused.
    expect((await request(pub, 'HISTORY', { room: 'never-used' })).messages).to.deep.equal([]);
    expect((await request(pub, 'HISTORY', { room, limit: 0 })).error.code).to.equal('INVALID_PAYLOAD');
    expect((await request(pub, 'HISTORY', { room, limit: 5000 })).error.code).to.equal('INVALID_PAYLOAD');
    expect((await request(pub, 'HISTORY', { room, before: 3 })).error.code).to.equal('INVALID_PAYLOAD');
  });

  it('JOIN since refuses a malformed position; names the head when it cannot recover', async () => {
    const room = 'positions';
    const [pub, sub] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    const { offset } = await notify(pub, room, 'x');
    for (const since of [{ offset: -1, epoch: 'e' }, { offset: 1 }, { offset: 1.5, epoch: 'e' }, 'string', [1, 'e']]) {
      expect((await request(sub, 'JOIN', { room, since })).error.code).to.equal('INVALID_PAYLOAD');
    }
    const reply = await request(sub, 'JOIN', { room, since: { offset: 99, epoch: 'not-this-one' } });
    expect(reply).to.deep.include({ ok: true, room, recovered: false, reason: 'EPOCH_CHANGED', offset });
    // Still joined: live messages arrive, and the epoch named in the ack is the one they carry.
    const got = next<Envelope>(sub, 'EVENT');
    await notify(pub, room, 'y');
    expect((await got).meta).to.include({ offset: offset + 1, epoch: reply.epoch });
    // Already in the room: it has had everything since it joined; nothing is replayed.
    const heard = recorder(sub, 'EVENT');
    expect(await request(sub, 'JOIN', { room, since: { offset, epoch: reply.epoch } })).to.include({ recovered: true, replayed: 0 });
    const marker = next(sub, 'EVENT');
    await notify(pub, room, 'marker');
    await marker;
    expect(heard.received.map((e: any) => e.message)).to.deep.equal(['marker']);
  });

  it('/trigger: meta as a trailing argument, JOIN since and HISTORY', async () => {
    const [pub, sub] = await Promise.all([connect('v4', svc.url, '/trigger'), connect('v2', svc.url, '/trigger')]);
    await request(sub, 'JOIN', 'tr');
    const got = new Promise<unknown[]>((resolve) => sub.on('STATUS', (...args: unknown[]) => resolve(args)));
    const ack = await request(pub, 'BROADCAST_STATUS', 'tr', 'ready');
    expect(ack).to.deep.equal({ ok: true, room: 'tr', offset: 1, recipients: 1 });
    const [data, meta] = await got;
    expect(data).to.equal('ready');
    expect(meta).to.include({ offset: 1 }).and.have.keys('offset', 'epoch', 'ts');
    await request(pub, 'BROADCAST_EVENTS', 'tr', [{ id: 'e1' }]);
    await request(pub, 'BROADCAST_UPDATES', 'tr', null);
    const history = await request(pub, 'HISTORY', 'tr', { limit: 10 });
    expect(history.messages.map((m: any) => [m.event, m.data, m.meta.offset])).to.deep.equal([
      ['STATUS', 'ready', 1],
      ['EVENTS', [{ id: 'e1' }], 2],
      ['UPDATES', null, 3],
    ]);
    const late = await connect('v4', svc.url, '/trigger');
    const replayed: unknown[][] = [];
    late.on('EVENTS', (...args: unknown[]) => replayed.push(['EVENTS', ...args]));
    late.on('UPDATES', (...args: unknown[]) => replayed.push(['UPDATES', ...args]));
    const reply = await request(late, 'JOIN', 'tr', { since: meta });
    expect(reply).to.deep.include({ ok: true, room: 'tr', recovered: true, replayed: 2 });
    expect(replayed.map((r) => [r[0], r[1], (r[2] as MessageMeta).offset])).to.deep.equal([
      ['EVENTS', [{ id: 'e1' }], 2],
      ['UPDATES', null, 3],
    ]);
    // Old clients that sent extra arguments keep working: only an object is read as options.
    expect(await request(pub, 'BROADCAST_STATUS', 'tr', 'x', 'legacy-extra')).to.include({ ok: true, offset: 4 });
  });

  it('/lobby: MESSAGE carries meta; HISTORY of the current lobby', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/lobby', { query: { lobbyId: 'hl' } }), connect('v4', svc.url, '/lobby', { query: { lobbyId: 'hl' } })]);
    await request(b, 'JOIN', 'hl');
    const got = next(b, 'MESSAGE');
    expect(await request(a, 'BROADCAST', { message: 'hi' })).to.deep.equal({ ok: true, lobby: 'hl', offset: 1, recipients: 1 });
    const message = await got;
    expect(message).to.deep.include({ from: a.id, message: 'hi' });
    expect((await request(b, 'HISTORY', { limit: 5 })).messages).to.deep.equal([message]);
  });

  it('HTTP publications get offsets too', async () => {
    const sub = await connect('v4', svc.url, '/bus');
    await join(sub, 'http-room');
    const got = next<Envelope>(sub, 'EVENT');
    const res = await fetch(`${svc.url}/bus-message/http-room`, { method: 'POST', body: '{"a":1}' });
    expect(await res.json()).to.deep.equal({ ok: true, room: 'http-room', recipients: 1, offset: 1 });
    expect((await got).meta.offset).to.equal(1);
  });
});

describe('history: bounds and epochs', () => {
  afterEach(closeAll);

  it('keeps --history-size messages per room', async () => {
    const svc = await startService({ history: { size: 5, ttlMs: 60_000 } });
    try {
      const pub = await connect('v4', svc.url, '/layout');
      for (let i = 1; i <= 8; i++) await notify(pub, 'bounded', i);
      const messages = (await request(pub, 'HISTORY', { room: 'bounded' })).messages as Envelope[];
      expect(messages.map((m) => m.message)).to.deep.equal([4, 5, 6, 7, 8]);
      const epoch = messages[0]!.meta.epoch;
      const sub = await connect('v4', svc.url, '/layout');
      expect(await request(sub, 'JOIN', { room: 'bounded', since: { offset: 2, epoch } })).to.deep.include({ recovered: false, reason: 'TOO_OLD', offset: 8 });
      const late = await connect('v4', svc.url, '/layout');
      const replay = collect<Envelope>(late, 'EVENT', 5);
      expect(await request(late, 'JOIN', { room: 'bounded', since: { offset: 3, epoch } })).to.deep.include({ recovered: true, replayed: 5 });
      expect((await replay).map((e) => e.message)).to.deep.equal([4, 5, 6, 7, 8]);
    } finally {
      await svc.close();
    }
  });

  it('drops messages older than --history-ttl (injected clock)', async () => {
    let clock = 5_000_000;
    const svc = await startService({}, { history: new MemoryHistory({ size: 100, ttlMs: 1000, now: () => clock }) });
    try {
      const pub = await connect('v4', svc.url, '/layout');
      for (let i = 1; i <= 3; i++) await notify(pub, 'ttl', i);
      clock += 700;
      await notify(pub, 'ttl', 4);
      clock += 400;
      const messages = (await request(pub, 'HISTORY', { room: 'ttl' })).messages as Envelope[];
      expect(messages.map((m) => [m.message, m.meta.ts])).to.deep.equal([[4, 5_000_700]]);
      const epoch = messages[0]!.meta.epoch;
      const sub = await connect('v4', svc.url, '/layout');
      expect(await request(sub, 'JOIN', { room: 'ttl', since: { offset: 2, epoch } })).to.deep.include({ recovered: false, reason: 'TOO_OLD' });
      const other = await connect('v4', svc.url, '/layout');
      expect(await request(other, 'JOIN', { room: 'ttl', since: { offset: 3, epoch } })).to.deep.include({ recovered: true, replayed: 1 });
    } finally {
      await svc.close();
    }
  });

  it('--history-size 0: offsets still, no history', async () => {
    const svc = await startService({ history: { size: 0, ttlMs: 60_000 } });
    try {
      const pub = await connect('v4', svc.url, '/layout');
      expect((await notify(pub, 'off', 1)).offset).to.equal(1);
      expect((await notify(pub, 'off', 2)).offset).to.equal(2);
      expect((await request(pub, 'HISTORY', { room: 'off' })).messages).to.deep.equal([]);
    } finally {
      await svc.close();
    }
  });

  it('a restart of the in-memory store changes the epoch: JOIN since answers recovered: false', async () => {
    const first = await startService();
    const pub = await connect('v4', first.url, '/layout');
    const sub = await connect('v4', first.url, '/layout');
    await join(sub, 'restart');
    const got = next<Envelope>(sub, 'EVENT');
    await notify(pub, 'restart', 'before');
    const last = (await got).meta;
    await first.close();
    const second = await startService();
    try {
      const again = await connect('v4', second.url, '/layout');
      const reply = await request(again, 'JOIN', { room: 'restart', name: 'again', since: last });
      expect(reply).to.deep.include({ ok: true, recovered: false, reason: 'EPOCH_CHANGED', offset: 0 });
      expect(reply.epoch).to.be.a('string').and.not.equal(last.epoch);
      const pub2 = await connect('v4', second.url, '/layout');
      const live = next<Envelope>(again, 'EVENT');
      await notify(pub2, 'restart', 'after');
      expect((await live).meta).to.include({ offset: 1, epoch: reply.epoch });
    } finally {
      await second.close();
    }
  });
});
