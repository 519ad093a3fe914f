/**
 * History and recovery together with authentication (rights are asked again for a recovered
 * socket's rooms and for HISTORY) and in cluster mode (stored messages shared through PostgreSQL,
 * next to the shared recent history in Redis).
 */
import { expect } from 'chai';
import { io as ioV4, type Socket as ClientSocket } from 'socket.io-client';
import type { MessageMeta } from '../lib/history/types.js';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { startNodes } from './helpers/cluster.js';
import { createTestDatabase, dropTransport, requirePostgresOrSkip, type TestDatabase } from './helpers/history.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';
import { startService, type Running } from './helpers/service.js';

interface Envelope {
  sender: string;
  room: string;
  message: unknown;
  meta: MessageMeta;
}

describe('history with authentication', () => {
  let svc: Running;
  const opened: ClientSocket[] = [];
  before(async () => {
    svc = await startService({ auth: secretAuth() });
  });
  after(() => svc.close());
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    closeAll();
  });

  it("a recovered socket keeps only the rooms its current credentials allow; missed messages of the others are not sent", async () => {
    // The token is read at every (re)connect: the second one allows room "a" only.
    const tokens = [await hsToken({ sub: 'alice', rooms: { subscribe: ['a', 'b'], publish: [] } }), await hsToken({ sub: 'alice', rooms: { subscribe: ['a'], publish: [] } })];
    let connects = 0;
    const sub = ioV4(`${svc.url}/layout`, {
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
      auth: (cb) => cb({ token: tokens[Math.min(connects++, 1)] }),
    });
    opened.push(sub);
    await new Promise((resolve) => sub.once('connect', () => resolve(undefined)));
    for (const room of ['a', 'b']) expect(await sub.timeout(5000).emitWithAck('JOIN', { room })).to.include({ ok: true });
    const got: Envelope[] = [];
    sub.on('EVENT', (e: Envelope) => got.push(e));
    const pub = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'bob', rooms: ALL_ROOMS }) } } });

    // socket.io resumes from the last packet a client got: it must have had one.
    await request(pub, 'NOTIFY', { room: 'a', message: 'a0' });
    while (got.length < 1) await new Promise((r) => sub.once('EVENT', r));
    const back = new Promise((resolve) => sub.once('connect', () => resolve(undefined)));
    await dropTransport(svc, '/layout', sub.id!).gone;
    await request(pub, 'NOTIFY', { room: 'a', message: 'a1' });
    await request(pub, 'NOTIFY', { room: 'b', message: 'b1' });
    await back;
    expect(sub.recovered).to.equal(true);
    await request(pub, 'NOTIFY', { room: 'b', message: 'b2' });
    await request(pub, 'NOTIFY', { room: 'a', message: 'a2' });
    while (got.length < 3) await new Promise((r) => sub.once('EVENT', r));
    // A marker on the same connection: anything of room b would have come before it.
    expect((await sub.timeout(5000).emitWithAck('HISTORY', { room: 'a', limit: 1 })).ok).to.equal(true);
    expect(got.map((e) => e.message)).to.deep.equal(['a0', 'a1', 'a2']);
    expect((await request(pub, 'CLIENTS', { room: 'b' })).clients).to.deep.equal([]);
    expect((await request(pub, 'CLIENTS', { room: 'a' })).clients).to.deep.equal(['alice']);
  });

  it('HISTORY needs subscribe rights on the room', async () => {
    const pub = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'bob', rooms: ALL_ROOMS }) } } });
    await request(pub, 'NOTIFY', { room: 'private', message: 'x' });
    const limited = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'eve', rooms: { subscribe: ['public'], publish: [] } }) } } });
    expect((await request(limited, 'HISTORY', { room: 'private' })).error.code).to.equal('FORBIDDEN');
    expect((await request(limited, 'HISTORY', { room: 'public' })).messages).to.deep.equal([]);
    expect((await request(pub, 'HISTORY', { room: 'private' })).messages.map((m: Envelope) => m.message)).to.deep.equal(['x']);
  });
});

describe('history in cluster mode (Redis, PostgreSQL)', function () {
  let redis: RedisServer | undefined;
  let db: TestDatabase | undefined;
  let nodes: Running[] = [];
  const prefix = uniquePrefix('history');

  before(async function () {
    requireRedisOrSkip(this);
    await requirePostgresOrSkip(this);
    redis = await useRedis();
    db = await createTestDatabase();
    nodes = await startNodes(2, redis.url, prefix, { storage: { kind: 'postgres', url: db.url } });
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    if (redis) await deletePrefix(redis.url, prefix);
    await redis?.stop();
    await db?.drop();
  });
  afterEach(closeAll);

  it('a message stored through one node is in HISTORY on the other (once, from Redis and PostgreSQL merged); JOIN since on the other node resumes', async () => {
    const [a, b] = nodes as [Running, Running];
    const pub = await connect('v4', a.url, '/layout');
    const sub = await connect('v2', b.url, '/layout');
    await request(sub, 'JOIN', { room: 'shared', name: 'sub' });
    const got = next<Envelope>(sub, 'EVENT');
    const ack = await request(pub, 'NOTIFY', { room: 'shared', message: 'kept', store: true });
    expect(ack).to.include({ ok: true, offset: 1, recipients: 1 });
    const live = await got;
    const reader = await connect('v4', b.url, '/layout');
    expect(await request(reader, 'HISTORY', { room: 'shared' })).to.deep.equal({ ok: true, room: 'shared', messages: [live] });
    const late = await connect('v4', b.url, '/layout');
    expect(await request(late, 'JOIN', { room: 'shared', since: { offset: 0, epoch: live.meta.epoch } })).to.deep.include({ ok: true, recovered: true, replayed: 1 });
  });
});
