/**
 * Per-room rights from the `rooms` claim in every namespace, fail closed without it, and the
 * --authorize-url backend (a real HTTP server here) with its cache and its timeout.
 */
import { expect } from 'chai';
import { globMatch, parseRoomsClaim, allows } from '../lib/auth/rights.js';
import { principalFromClaims } from '../lib/auth/principal.js';
import { closeAll, connect, next, recorder, request, type TestClient } from './helpers/clients.js';
import { ALL_ROOMS, TestHttpServer, hsToken, secretAuth } from './helpers/auth.js';
import { startService, type Running } from './helpers/service.js';

describe('rights: glob patterns', () => {
  it('match the whole name; * is any run; everything else is literal', () => {
    expect(globMatch('ctx-42.*', 'ctx-42.a')).to.equal(true);
    expect(globMatch('ctx-42.*', 'ctx-42.')).to.equal(true);
    expect(globMatch('ctx-42.*', 'ctx-42')).to.equal(false);
    expect(globMatch('ctx-42.*', 'xctx-42.a')).to.equal(false);
    expect(globMatch('ctx-42.*', 'ctx-42xa')).to.equal(false);
    expect(globMatch('*', '')).to.equal(true);
    expect(globMatch('a*b*c', 'aXXbYYc')).to.equal(true);
    expect(globMatch('a*b*c', 'aXXbYY')).to.equal(false);
    expect(globMatch('r?[x]+(y)', 'r?[x]+(y)')).to.equal(true);
    expect(globMatch('r?', 'ra')).to.equal(false);
    expect(globMatch('exact', 'exact')).to.equal(true);
    expect(globMatch('exact', 'exactly')).to.equal(false);
  });

  it('stay fast on pathological patterns', () => {
    const started = Date.now();
    expect(globMatch(`${'*a'.repeat(30)}b`, 'a'.repeat(256))).to.equal(false);
    expect(Date.now() - started).to.be.below(200);
  });

  it('read the claim as an object or a JSON string; anything else grants nothing', () => {
    expect(parseRoomsClaim({ subscribe: ['a*'], publish: ['b'] })).to.deep.equal({ subscribe: ['a*'], publish: ['b'] });
    expect(parseRoomsClaim('{"subscribe":["x"]}')).to.deep.equal({ subscribe: ['x'], publish: [] });
    expect(parseRoomsClaim({ subscribe: 'a*', publish: [1, null, 'ok'] })).to.deep.equal({ subscribe: [], publish: ['ok'] });
    for (const bad of [undefined, null, 'nope', ['*'], 42]) expect(parseRoomsClaim(bad)).to.deep.equal({ subscribe: [], publish: [] });
    expect(allows(parseRoomsClaim(undefined), 'subscribe', 'anything')).to.equal(false);
    expect(allows(parseRoomsClaim(ALL_ROOMS), 'publish', 'anything')).to.equal(true);
  });

  it('names from the configured claims; a token naming nobody is refused', () => {
    expect(principalFromClaims({ sub: 's', name: 'N' }, ['name', 'sub'], 256).name).to.equal('N');
    expect(principalFromClaims({ sub: 's' }, ['name', 'sub'], 256)).to.deep.include({ name: 's', user: 's' });
    expect(principalFromClaims({ sub: 's', name: 'x'.repeat(300) }, ['name'], 256).name).to.have.length(256);
    expect(() => principalFromClaims({ rooms: ALL_ROOMS }, ['name', 'sub'], 256)).to.throw('names no user');
  });
});

describe('rights: the rooms claim in every namespace', () => {
  let svc: Running;
  const as = async (nsp: string, rooms: unknown, sub = 'u-limited', extra: Record<string, unknown> = {}) =>
    connect('v4', svc.url, nsp, { ...extra, extra: { auth: { token: await hsToken({ sub, ...(rooms === undefined ? {} : { rooms }) }) } } });
  const expectForbidden = (reply: any) => {
    expect(reply.ok).to.equal(false);
    expect(reply.error.code).to.equal('FORBIDDEN');
  };

  before(async () => {
    svc = await startService({ auth: secretAuth() });
  });
  after(() => svc.close());
  afterEach(closeAll);

  for (const nsp of ['/layout', '/bus']) {
    it(`${nsp}: JOIN and CLIENTS need subscribe, NOTIFY needs publish; a refusal changes nothing`, async () => {
      const limited = await as(nsp, { subscribe: ['news.*'], publish: ['news.sports'] });
      const admin = await as(nsp, ALL_ROOMS, 'u-admin');
      await request(admin, 'JOIN', { room: 'news.sports' });
      await request(admin, 'JOIN', { room: 'secret' });

      expect(await request(limited, 'JOIN', { room: 'news.sports' })).to.include({ ok: true });
      expectForbidden(await request(limited, 'JOIN', { room: 'secret' }));
      expectForbidden(await request(limited, 'JOIN', { room: 'news' }));
      expect((await request(admin, 'CLIENTS', { room: 'secret' })).clients).to.deep.equal(['u-admin']);
      expectForbidden(await request(limited, 'CLIENTS', { room: 'secret' }));

      const events = recorder(admin, 'EVENT');
      expectForbidden(await request(limited, 'NOTIFY', { room: 'secret', message: 'leak' }));
      expectForbidden(await request(limited, 'NOTIFY', { room: 'news.weather', message: 'no' }));
      const got = next(admin, 'EVENT');
      expect(await request(limited, 'NOTIFY', JSON.stringify({ room: 'news.sports', message: 'goal' }))).to.include({ ok: true });
      expect((await got).message).to.equal('goal');
      expect(events.received.map((e: any) => e.message)).to.deep.equal(['goal']);

      // Without an ack the refusal is an ERROR event, as for any other refusal.
      const error = next(limited, 'ERROR');
      limited.emit('JOIN', { room: 'secret' });
      expect(await error).to.include({ code: 'FORBIDDEN', event: 'JOIN' });
    });
  }

  it('/lobby: membership (?lobbyId= too) needs subscribe; BROADCAST and RTCSIGNAL need publish', async () => {
    const admin = await as('/lobby', ALL_ROOMS, 'u-admin', { query: { lobbyId: 'party' } });
    // ?lobbyId= without the right: ERROR at connect, outside any lobby, connection kept.
    let connectError: unknown;
    const outsider = await as('/lobby', { subscribe: ['other'], publish: [] }, 'u-out', {
      query: { lobbyId: 'party' },
      listeners: { ERROR: (e: unknown) => (connectError ??= e) },
    });
    expect((await request(outsider, 'BROADCAST', { message: 'x' })).error.code).to.equal('NOT_IN_LOBBY');
    expect(connectError).to.include({ code: 'FORBIDDEN', event: 'connect' });
    expectForbidden(await request(outsider, 'JOIN', 'party'));

    // A listener: may join (and is announced with JOINED), may not publish.
    const joined = next(admin, 'JOINED');
    const listener = await as('/lobby', { subscribe: ['party'], publish: [] }, 'u-listen');
    const reply = await request(listener, 'JOIN', 'party');
    expect(reply).to.include({ ok: true, lobby: 'party' });
    expect(await joined).to.equal(reply.id);
    const messages = recorder(admin, 'MESSAGE');
    const signals = recorder(admin, 'RTCSIGNAL');
    expectForbidden(await request(listener, 'BROADCAST', { message: 'no' }));
    const adminId = (await request(admin, 'JOIN', 'party')).id;
    expectForbidden(await request(listener, 'RTCSIGNAL', { to: adminId, sdp: 'x' }));
    // The admin can still talk to the listener; nothing of the listener reached the admin.
    const got = next(listener, 'MESSAGE');
    await request(admin, 'BROADCAST', { message: 'hello' });
    expect((await got).message).to.equal('hello');
    expect(messages.received).to.deep.equal([]);
    expect(signals.received).to.deep.equal([]);
  });

  it('/trigger: JOIN needs subscribe, the BROADCAST_* verbs need publish', async () => {
    const sub = await as('/trigger', { subscribe: ['dev-*'], publish: [] });
    const pub = await as('/trigger', { subscribe: [], publish: ['dev-1'] }, 'u-pub');
    expect(await request(sub, 'JOIN', 'dev-1')).to.include({ ok: true });
    expectForbidden(await request(sub, 'JOIN', 'prod-1'));
    expectForbidden(await request(pub, 'JOIN', 'dev-1'));
    const got = next(sub, 'STATUS');
    const statuses = recorder(sub, 'EVENTS');
    for (const verb of ['BROADCAST_EVENTS', 'BROADCAST_UPDATES']) expectForbidden(await request(sub, verb, 'dev-1', { n: 0 }));
    expectForbidden(await request(pub, 'BROADCAST_EVENTS', 'dev-2', { n: 1 }));
    expect(await request(pub, 'BROADCAST_STATUS', 'dev-1', { state: 'ready' })).to.include({ ok: true });
    expect(await got).to.deep.equal({ state: 'ready' });
    expect(statuses.received).to.deep.equal([]);
  });

  it('a token without the claim may do nothing (fail closed); a claim as JSON string works', async () => {
    const none = await as('/layout', undefined);
    expectForbidden(await request(none, 'JOIN', { room: 'any' }));
    expectForbidden(await request(none, 'NOTIFY', { room: 'any', message: 1 }));
    const garbled = await as('/layout', 'not json');
    expectForbidden(await request(garbled, 'JOIN', { room: 'any' }));
    const asString = await as('/layout', JSON.stringify({ subscribe: ['any'], publish: [] }));
    expect(await request(asString, 'JOIN', { room: 'any' })).to.include({ ok: true });
  });
});

describe('rights: --authorize-url', () => {
  let backend: TestHttpServer;
  let svc: Running;
  let client: (sub: string, rooms?: unknown) => Promise<TestClient>;
  const asked = () => backend.bodies.map((b) => JSON.parse(b));

  before(async () => {
    backend = await new TestHttpServer((body) => {
      const q = JSON.parse(body) as { room: string; action: string; user: string };
      if (q.room.startsWith('slow')) return { json: { allow: true }, delayMs: 2000 };
      if (q.room.startsWith('broken')) return { status: 500 };
      if (q.room.startsWith('refused')) return { status: 403 };
      return { json: { allow: q.room.startsWith('ok') && !(q.action === 'publish' && q.user === 'u-reader') } };
    }).start('/authorize');
    svc = await startService({ auth: secretAuth({ authorize: { url: backend.url, cacheTtlMs: 60_000, timeoutMs: 150 } }) });
    client = async (sub, rooms = ALL_ROOMS) => connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub, rooms }) } } });
  });
  after(async () => {
    await svc.close();
    await backend.close();
  });
  afterEach(closeAll);

  it('asks {user, namespace, room, action} and caches the answer per question', async () => {
    const [a, a2] = [await client('u-alice'), await client('u-alice')];
    expect(await request(a, 'JOIN', { room: 'ok-1' })).to.include({ ok: true });
    expect(asked()).to.deep.include({ user: 'u-alice', namespace: '/layout', room: 'ok-1', action: 'subscribe' });
    const calls = backend.calls;
    expect(await request(a2, 'JOIN', { room: 'ok-1' })).to.include({ ok: true });
    expect(backend.calls).to.equal(calls);
    expect((await request(a, 'JOIN', { room: 'no-1' })).error.code).to.equal('FORBIDDEN');
    expect((await request(a, 'JOIN', { room: 'no-1' })).error.code).to.equal('FORBIDDEN');
    expect(backend.calls).to.equal(calls + 1);
    expect((await request(a, 'JOIN', { room: 'refused-1' })).error.code).to.equal('FORBIDDEN');
  });

  it('publications are asked too, and a denied one is not delivered', async () => {
    const [writer, reader] = [await client('u-writer'), await client('u-reader')];
    await request(writer, 'JOIN', { room: 'ok-pub' });
    expect(await request(reader, 'JOIN', { room: 'ok-pub' })).to.include({ ok: true });
    const events = recorder(writer, 'EVENT');
    expect((await request(reader, 'NOTIFY', { room: 'ok-pub', message: 'denied' })).error.code).to.equal('FORBIDDEN');
    const got = next(reader, 'EVENT');
    expect(await request(writer, 'NOTIFY', { room: 'ok-pub', message: 'allowed' })).to.include({ ok: true });
    expect((await got).message).to.equal('allowed');
    expect(asked()).to.deep.include({ user: 'u-writer', namespace: '/layout', room: 'ok-pub', action: 'publish' });
    expect(events.received).to.deep.equal([]);
  });

  it('a backend that times out or fails denies (fail closed), and is asked again next time', async () => {
    const a = await client('u-alice');
    const started = Date.now();
    const slow = await request(a, 'JOIN', { room: 'slow-1' });
    expect(slow.error.code).to.equal('FORBIDDEN');
    expect(Date.now() - started).to.be.below(1500);
    const broken = await request(a, 'NOTIFY', { room: 'broken-1', message: 1 });
    expect(broken.error.code).to.equal('FORBIDDEN');
    const calls = backend.calls;
    await request(a, 'NOTIFY', { room: 'broken-1', message: 1 });
    expect(backend.calls).to.equal(calls + 1);
  });

  it('the claim is checked first: a room outside it is refused without asking', async () => {
    const a = await client('u-narrow', { subscribe: ['ok-narrow'], publish: [] });
    const calls = backend.calls;
    expect((await request(a, 'JOIN', { room: 'ok-wide' })).error.code).to.equal('FORBIDDEN');
    expect(backend.calls).to.equal(calls);
    expect(await request(a, 'JOIN', { room: 'ok-narrow' })).to.include({ ok: true });
  });
});
