/**
 * --auth oauth: opaque tokens checked against a real RFC 7662 introspection server started here;
 * its call count shows what is cached.
 */
import { expect } from 'chai';
import { defaultAuthConfig } from '../lib/auth/config.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { ALL_ROOMS, TestHttpServer, nowSeconds, refusal } from './helpers/auth.js';
import { startService, type Running } from './helpers/service.js';

describe('auth oauth: token introspection', () => {
  const tokens = new Map<string, Record<string, unknown>>();
  let down = false;
  let introspection: TestHttpServer;
  let svc: Running;
  const callsFor = (token: string) => introspection.bodies.filter((b) => new URLSearchParams(b).get('token') === token).length;

  before(async () => {
    introspection = await new TestHttpServer((body, req) => {
      if (down) return { status: 500, json: { error: 'server_error' } };
      // The service authenticates as a client of the authorization server.
      if (req.headers.authorization !== `Basic ${Buffer.from('ns-client:ns-secret').toString('base64')}`) return { status: 401 };
      const token = new URLSearchParams(body).get('token') ?? '';
      return { json: tokens.get(token) ?? { active: false } };
    }).start('/oauth2/introspect');
    svc = await startService({
      auth: {
        ...defaultAuthConfig(),
        mode: 'oauth',
        oauth: { introspectionUrl: introspection.url, clientId: 'ns-client', clientSecret: 'ns-secret', negativeCacheMs: 60_000, maxCacheMs: 300_000, timeoutMs: 2000 },
      },
    });
  });
  after(async () => {
    await svc.close();
    await introspection.close();
  });
  afterEach(closeAll);

  it('accepts an active token, names the user from the answer, and caches the answer', async () => {
    tokens.set('opaque-alice', { active: true, sub: 'u-alice', name: 'Alice', exp: Math.floor(nowSeconds()) + 3600, rooms: ALL_ROOMS });
    const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token: 'opaque-alice' } } });
    expect(await request(a, 'JOIN', { room: 'o', name: 'x' })).to.deep.equal({ ok: true, room: 'o', name: 'Alice' });
    expect(callsFor('opaque-alice')).to.equal(1);
    // Another connection with the same token: answered from the cache.
    await connect('v2', svc.url, '/layout', { query: { token: 'opaque-alice', tokenType: 'oauth' } });
    await connect('v1', svc.url, '/bus', { query: { token: 'opaque-alice', tokenType: 'oauth' } });
    expect(callsFor('opaque-alice')).to.equal(1);
    expect(introspection.headers[0]!['content-type']).to.equal('application/x-www-form-urlencoded');
  });

  it('refuses an inactive or unknown token, and remembers the refusal for a while', async () => {
    tokens.set('opaque-revoked', { active: false });
    for (let i = 0; i < 3; i++) {
      expect(await refusal('v4', svc.url, '/layout', { extra: { auth: { token: 'opaque-revoked' } } })).to.deep.equal({
        code: 'UNAUTHORIZED',
        message: 'token is not active',
      });
    }
    expect(callsFor('opaque-revoked')).to.equal(1);
    expect((await refusal('v4', svc.url, '/layout', { extra: { auth: { token: 'never-issued' } } })).code).to.equal('UNAUTHORIZED');
  });

  it('refuses an answer that is active but past its exp, and a jwt tokenType', async () => {
    tokens.set('opaque-stale', { active: true, sub: 'u-stale', exp: Math.floor(nowSeconds()) - 5, rooms: ALL_ROOMS });
    expect((await refusal('v4', svc.url, '/layout', { extra: { auth: { token: 'opaque-stale' } } })).code).to.equal('UNAUTHORIZED');
    tokens.set('opaque-bob', { active: true, sub: 'u-bob', exp: Math.floor(nowSeconds()) + 3600, rooms: ALL_ROOMS });
    expect((await refusal('v4', svc.url, '/layout', { query: { token: 'opaque-bob', tokenType: 'jwt' } })).code).to.equal('UNAUTHORIZED');
  });

  it('refuses an active answer without exp (RFC 7662 makes it optional) unless --jwt-allow-no-exp', async () => {
    tokens.set('opaque-forever', { active: true, sub: 'u-forever', rooms: ALL_ROOMS });
    expect(await refusal('v4', svc.url, '/layout', { extra: { auth: { token: 'opaque-forever' } } })).to.deep.equal({
      code: 'UNAUTHORIZED',
      message: 'the token has no expiry (exp): use a token that expires',
    });
  });

  it('fails closed while the endpoint fails, without caching the failure', async () => {
    tokens.set('opaque-carol', { active: true, sub: 'u-carol', exp: Math.floor(nowSeconds()) + 3600, rooms: ALL_ROOMS });
    down = true;
    try {
      expect(await refusal('v4', svc.url, '/layout', { extra: { auth: { token: 'opaque-carol' } } })).to.deep.equal({
        code: 'UNAUTHORIZED',
        message: 'cannot verify the token now',
      });
    } finally {
      down = false;
    }
    const c = await connect('v4', svc.url, '/layout', { extra: { auth: { token: 'opaque-carol' } } });
    expect(await request(c, 'JOIN', { room: 'back' })).to.include({ ok: true, name: 'u-carol' });
  });

  it('concurrent connections with one new token share one introspection call', async () => {
    tokens.set('opaque-dave', { active: true, sub: 'u-dave', exp: Math.floor(nowSeconds()) + 3600, rooms: ALL_ROOMS });
    await Promise.all(Array.from({ length: 5 }, () => connect('v4', svc.url, '/bus', { extra: { auth: { token: 'opaque-dave' } } })));
    expect(callsFor('opaque-dave')).to.equal(1);
  });
});

describe('auth oauth: answers without exp, allowed (--jwt-allow-no-exp)', () => {
  let introspection: TestHttpServer;
  let svc: Running;
  before(async () => {
    introspection = await new TestHttpServer(() => ({ json: { active: true, sub: 'u-erin', rooms: ALL_ROOMS } })).start('/introspect');
    svc = await startService({
      auth: {
        ...defaultAuthConfig(),
        mode: 'oauth',
        oauth: { introspectionUrl: introspection.url, negativeCacheMs: 10_000, maxCacheMs: 300_000, timeoutMs: 2000 },
        allowNoExp: true,
        maxLifetimeMs: 400,
        refreshGraceMs: 5000,
      },
    });
  });
  after(async () => {
    await svc.close();
    await introspection.close();
  });
  afterEach(closeAll);

  it('connects, then gets TOKEN_EXPIRED after --jwt-max-lifetime like an expiring token; REFRESH gives it another', async () => {
    const a = await connect('v4', svc.url, '/bus', { extra: { auth: { token: 'opaque-erin' } } });
    expect(await request(a, 'JOIN', { room: 'o' })).to.include({ ok: true, name: 'u-erin' });
    expect(await next(a, 'ERROR', 3000)).to.include({ code: 'TOKEN_EXPIRED', event: 'REFRESH' });
    const sent = Date.now();
    const reply = await request(a, 'REFRESH', { token: 'opaque-erin' });
    expect(reply.ok).to.equal(true);
    expect(reply.exp * 1000).to.be.within(sent + 400, Date.now() + 400);
  });
});
