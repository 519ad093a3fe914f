/**
 * Token expiry on a live connection: TOKEN_EXPIRED, then a disconnect after the grace period
 * unless REFRESH {token} brings a valid token of the same user. Tokens expire in a fraction of a
 * second (a JWT NumericDate may be fractional), so nothing here waits long.
 */
import { expect } from 'chai';
import { connect, next, request, type ClientVersion } from './helpers/clients.js';
import { ALL_ROOMS, hsToken, secretAuth, withToken } from './helpers/auth.js';
import { serviceForSuite } from './helpers/service.js';

const GRACE_MS = 300;
const alice = { sub: 'u-alice', name: 'Alice', rooms: ALL_ROOMS };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('token expiry and REFRESH', () => {
  const svc = serviceForSuite({ auth: secretAuth({ refreshGraceMs: GRACE_MS }) });

  for (const version of ['v4', 'v1'] as ClientVersion[]) {
    it(`${version}: TOKEN_EXPIRED at exp, verbs refused, then disconnected after the grace period`, async () => {
      const token = await hsToken(alice, { expiresIn: 0.6 });
      const a = await connect(version, svc.url, '/layout', withToken(version, token));
      const expired = next(a, 'ERROR', 3000);
      expect(await request(a, 'JOIN', JSON.stringify({ room: 'exp' }))).to.include({ ok: true });
      const error = await expired;
      expect(error).to.include({ code: 'TOKEN_EXPIRED', event: 'REFRESH' });
      const refused = await request(a, 'NOTIFY', JSON.stringify({ room: 'exp', message: 1 }));
      expect(refused).to.deep.include({ ok: false });
      expect(refused.error.code).to.equal('TOKEN_EXPIRED');
      const reason = await next(a, 'disconnect', 3000);
      expect(reason).to.be.a('string');
    });
  }

  it('REFRESH with a valid token of the same user keeps the connection', async () => {
    const b = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'u-bob', rooms: ALL_ROOMS }) } } });
    await request(b, 'JOIN', { room: 'kept' });
    const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken(alice, { expiresIn: 0.5 }) } } });
    await next(a, 'ERROR', 3000);
    const fresh = await hsToken(alice, { expiresIn: 3600 });
    const reply = await request(a, 'REFRESH', { token: fresh });
    expect(reply.ok).to.equal(true);
    expect(reply.exp).to.be.a('number');
    let disconnected = false;
    a.on('disconnect', () => (disconnected = true));
    // Past the grace period: still connected, and allowed again.
    await sleep(GRACE_MS + 200);
    expect(disconnected).to.equal(false);
    const got = next(b, 'EVENT');
    expect(await request(a, 'NOTIFY', { room: 'kept', message: 'still here' })).to.include({ ok: true });
    expect(await got).to.deep.include({ sender: 'Alice', room: 'kept', message: 'still here' });
  });

  it('REFRESH before expiry pushes the expiry back (a JSON string payload, as legacy clients send)', async () => {
    const a = await connect('v2', svc.url, '/bus', withToken('v2', await hsToken(alice, { expiresIn: 0.6 })));
    const errors: unknown[] = [];
    a.on('ERROR', (e: unknown) => errors.push(e));
    const reply = await request(a, 'REFRESH', JSON.stringify({ token: await hsToken(alice, { expiresIn: 60 }) }));
    expect(reply.ok).to.equal(true);
    await sleep(800);
    expect(errors).to.deep.equal([]);
    expect(await request(a, 'JOIN', JSON.stringify({ room: 'later' }))).to.include({ ok: true });
  });

  it('REFRESH refuses another user’s token, an invalid one and a missing one; the old token stays in force', async () => {
    const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken(alice) } } });
    const other = await request(a, 'REFRESH', { token: await hsToken({ sub: 'u-mallory', rooms: ALL_ROOMS }) });
    expect(other.error.code).to.equal('FORBIDDEN');
    const expired = await request(a, 'REFRESH', { token: await hsToken(alice, { expiresIn: -1 }) });
    expect(expired.error).to.deep.equal({ code: 'UNAUTHORIZED', message: 'token expired' });
    expect((await request(a, 'REFRESH', {})).error.code).to.equal('INVALID_PAYLOAD');
    expect(await request(a, 'JOIN', { room: 'unchanged' })).to.deep.equal({ ok: true, room: 'unchanged', name: 'Alice' });
  });
});

describe('tokens without exp, allowed (--jwt-allow-no-exp): they expire after --jwt-max-lifetime', () => {
  const LIFETIME_MS = 500;
  const svc = serviceForSuite({ auth: secretAuth({ refreshGraceMs: GRACE_MS, allowNoExp: true, maxLifetimeMs: LIFETIME_MS }) });

  for (const version of ['v4', 'v1'] as ClientVersion[]) {
    it(`${version}: TOKEN_EXPIRED after the max lifetime, verbs refused, then disconnected after the grace period`, async () => {
      const token = await hsToken(alice, { expiresIn: null });
      const a = await connect(version, svc.url, '/layout', withToken(version, token));
      const expired = next(a, 'ERROR', 3000);
      expect(await request(a, 'JOIN', JSON.stringify({ room: 'noexp' }))).to.include({ ok: true });
      expect(await expired).to.include({ code: 'TOKEN_EXPIRED', event: 'REFRESH' });
      expect((await request(a, 'NOTIFY', JSON.stringify({ room: 'noexp', message: 1 }))).error.code).to.equal('TOKEN_EXPIRED');
      expect(await next(a, 'disconnect', 3000)).to.be.a('string');
    });
  }

  it('REFRESH with a token without exp gives the max lifetime again; one with exp keeps its own', async () => {
    const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken(alice, { expiresIn: null }) } } });
    await next(a, 'ERROR', 3000);
    const sent = Date.now();
    const reply = await request(a, 'REFRESH', { token: await hsToken(alice, { expiresIn: null }) });
    expect(reply.ok).to.equal(true);
    expect(reply.exp * 1000).to.be.within(sent + LIFETIME_MS, Date.now() + LIFETIME_MS);
    const withExp = await hsToken(alice, { expiresIn: 3600 });
    expect((await request(a, 'REFRESH', { token: withExp })).exp).to.equal(JSON.parse(Buffer.from(withExp.split('.')[1]!, 'base64url').toString()).exp);
  });
});

describe('tokens without exp, allowed: the default max lifetime is 24 h (injected clock)', () => {
  const T0 = Date.UTC(2030, 0, 1);
  const svc = serviceForSuite({ auth: secretAuth({ allowNoExp: true }) }, { access: { now: () => T0 } });

  it('a connection and a REFRESH without exp get exp = now + 24 h', async () => {
    const a = await connect('v2', svc.url, '/bus', withToken('v2', await hsToken(alice, { expiresIn: null })));
    const reply = await request(a, 'REFRESH', JSON.stringify({ token: await hsToken(alice, { expiresIn: null }) }));
    expect(reply).to.deep.equal({ ok: true, exp: (T0 + 86_400_000) / 1000 });
  });
});
