/**
 * --auth jwt: a shared secret, public key files of each type, and a JWKS served by a real HTTP
 * server; every token location; what a refused client sees; nothing secret in the logs.
 */
import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { UnsecuredJWT, base64url } from 'jose';
import { closeAll, connect, next, request, VERSIONS, type ClientVersion } from './helpers/clients.js';
import {
  ALL_ROOMS,
  AUDIENCE,
  ISSUER,
  JwksServer,
  hsToken,
  jwtAuth,
  keyPair,
  refusal,
  secretAuth,
  sign,
  withToken,
} from './helpers/auth.js';
import { captureLogger } from './helpers/logs.js';
import { startService, type Running, serviceForSuite } from './helpers/service.js';

const alice = { sub: 'u-alice', name: 'Alice', rooms: ALL_ROOMS };

describe('auth jwt: shared secret (HS256)', () => {
  const svc = serviceForSuite({ auth: secretAuth() });

  for (const version of VERSIONS) {
    it(`${version}: a valid token connects; the display name comes from the token`, async () => {
      const token = await hsToken(alice);
      const a = await connect(version, svc.url, '/layout', withToken(version, token));
      const reply = await request(a, 'JOIN', JSON.stringify({ room: 'r1', name: 'someone-else' }));
      expect(reply).to.deep.equal({ ok: true, room: 'r1', name: 'Alice' });
    });
  }

  it('takes the token from the handshake auth, the query, or an Authorization: Bearer header', async () => {
    const token = await hsToken(alice);
    await connect('v4', svc.url, '/bus', { extra: { auth: { token } } });
    await connect('v4', svc.url, '/bus', { query: { token, tokenType: 'jwt' } });
    await connect('v4', svc.url, '/bus', { query: { token } });
    await connect('v4', svc.url, '/bus', { extra: { extraHeaders: { authorization: `Bearer ${token}` } } });
    await connect('v4', svc.url, '/bus', { transport: 'polling', extra: { extraHeaders: { authorization: `Bearer ${token}` } } });
  });

  for (const version of ['v1', 'v2'] as ClientVersion[]) {
    it(`${version}: query token=…&tokenType=jwt over websocket only (the Avaya pattern)`, async () => {
      const token = await hsToken(alice);
      const a = await connect(version, svc.url, '/lobby', { transport: 'websocket', query: { tokenType: 'jwt', token, lobbyId: 'l1' } });
      const reply = await request(a, 'JOIN', 'l1');
      expect(reply).to.include({ ok: true, lobby: 'l1' });
    });
  }

  for (const version of VERSIONS) {
    it(`${version}: a query token is taken over websocket, refused over polling with a message that says what to do`, async () => {
      const token = await hsToken(alice);
      const query = { token, tokenType: 'jwt' };
      const ws = await connect(version, svc.url, '/bus', { transport: 'websocket', query });
      expect(await request(ws, 'JOIN', JSON.stringify({ room: 'q' }))).to.include({ ok: true, name: 'Alice' });
      const data = await refusal(version, svc.url, '/bus', { transport: 'polling', query });
      expect(data.code).to.equal('UNAUTHORIZED');
      expect(data.message).to.include('WebSocket only').and.include("transports: ['websocket']").and.include('ticket');
      expect(data.message).not.to.include(token.slice(0, 20));
      // The legacy default (polling first, then upgrade) is a polling handshake too.
      const upgrading = await refusal(version, svc.url, '/bus', { query, extra: { transports: ['polling', 'websocket'], upgrade: true } });
      expect(upgrading.code).to.equal('UNAUTHORIZED');
    });
  }

  it('over polling, tokens outside the URL are taken: handshake auth (4.x) and an Authorization header', async () => {
    const token = await hsToken(alice);
    await connect('v4', svc.url, '/bus', { transport: 'polling', extra: { auth: { token } } });
    await connect('v2', svc.url, '/bus', { transport: 'polling', extra: { extraHeaders: { authorization: `Bearer ${token}` } } });
  });

  const refusals: Array<[string, () => Promise<string>, RegExp]> = [
    ['an expired token', () => hsToken(alice, { expiresIn: -10 }), /expired/],
    ['a token not yet valid', () => hsToken(alice, { notBefore: 60 }), /not yet valid/],
    ['a token from another issuer', () => hsToken(alice, { issuer: 'https://evil.test' }), /issuer/],
    ['a token without issuer', () => hsToken(alice, { issuer: null }), /issuer|claims/],
    ['a token for another audience', () => hsToken(alice, { audience: 'another-service' }), /audience/],
    ['a token signed with another secret', () => hsToken(alice, { secret: 'another-secret-of-at-least-32-bytes-000' }), /signature/],
    ['an unsigned token (alg: none)', async () => new UnsecuredJWT({ ...alice, iss: ISSUER, aud: AUDIENCE }).setExpirationTime('1h').encode(), /algorithm|invalid/],
    ['garbage', async () => 'not.a.jwt', /invalid/],
    ['a token over 16 KiB', async () => 'x'.repeat(17 * 1024), /too long/],
  ];
  for (const [title, make, message] of refusals) {
    it(`refuses ${title} with connect_error {code: UNAUTHORIZED, message}`, async () => {
      const token = await make();
      const data = await refusal('v4', svc.url, '/layout', { extra: { auth: { token } } });
      expect(data).to.have.keys('code', 'message');
      expect(data.code).to.equal('UNAUTHORIZED');
      expect(data.message).to.match(message);
      expect(data.message).not.to.include(token.slice(0, 20));
    });
  }

  it('refuses a token without exp by default, at connect (every client), on REFRESH and at POST /ticket', async () => {
    const forever = await hsToken(alice, { expiresIn: null });
    const expected = { code: 'UNAUTHORIZED', message: 'the token has no expiry (exp): use a token that expires' };
    expect(await refusal('v4', svc.url, '/layout', { extra: { auth: { token: forever } } })).to.deep.equal(expected);
    for (const version of ['v1', 'v2'] as ClientVersion[]) {
      expect(await refusal(version, svc.url, '/layout', withToken(version, forever))).to.deep.equal(expected);
    }
    const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken(alice) } } });
    expect((await request(a, 'REFRESH', { token: forever })).error).to.deep.equal(expected);
    const res = await fetch(`${svc.url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${forever}` } });
    expect(res.status).to.equal(401);
    expect(((await res.json()) as { error: unknown }).error).to.deep.equal(expected);
  });

  it('refuses a connection without credentials, and a token of another type', async () => {
    expect((await refusal('v4', svc.url, '/layout')).code).to.equal('UNAUTHORIZED');
    const token = await hsToken(alice);
    const wrongType = await refusal('v4', svc.url, '/layout', { query: { token, tokenType: 'oauth' } });
    expect(wrongType).to.deep.include({ code: 'UNAUTHORIZED' });
  });

  for (const version of ['v1', 'v2'] as ClientVersion[]) {
    it(`${version}: a refused legacy client gets an error event with {code, message}`, async () => {
      const token = await hsToken(alice, { expiresIn: -10 });
      const data = await refusal(version, svc.url, '/layout', { query: { token, tokenType: 'jwt' } });
      expect(data).to.deep.equal({ code: 'UNAUTHORIZED', message: 'token expired' });
    });
  }

  it('every namespace, the root included, requires credentials', async () => {
    for (const nsp of ['/layout', '/bus', '/lobby', '/trigger', '/']) {
      expect((await refusal('v4', svc.url, nsp)).code, nsp).to.equal('UNAUTHORIZED');
    }
  });

  it('names come from the name claim, else sub; nobody can pose as someone else', async () => {
    const [a, b, c] = await Promise.all([
      connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken(alice) } } }),
      connect('v2', svc.url, '/layout', withToken('v2', await hsToken({ sub: 'u-bob', rooms: ALL_ROOMS }))),
      connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'u-carol', name: 'Carol', rooms: ALL_ROOMS }) } } }),
    ]);
    expect(await request(a, 'JOIN', { room: 'who', name: 'Carol' })).to.include({ name: 'Alice' });
    expect(await request(b, 'JOIN', JSON.stringify({ room: 'who', name: 'Alice' }))).to.include({ name: 'u-bob' });
    expect(await request(c, 'JOIN', { room: 'who' })).to.include({ name: 'Carol' });
    expect((await request(c, 'CLIENTS', { room: 'who' })).clients).to.have.members(['Alice', 'u-bob', 'Carol']);
    const got = next(c, 'EVENT');
    await request(b, 'NOTIFY', JSON.stringify({ room: 'who', message: 'hi' }));
    expect(await got).to.deep.include({ sender: 'u-bob', room: 'who', message: 'hi' });
    // Publishing without joining: still the token's name, not 'unknown'.
    const d = await connect('v4', svc.url, '/layout', { extra: { auth: { token: await hsToken({ sub: 'u-dave', rooms: ALL_ROOMS }) } } });
    const got2 = next(c, 'EVENT');
    await request(d, 'NOTIFY', { room: 'who', message: 'anon?' });
    expect((await got2).sender).to.equal('u-dave');
  });
});

describe('auth jwt: a configurable name claim', () => {
  const svc = serviceForSuite({ auth: secretAuth({ nameClaims: ['preferred_username', 'sub'] }) });

  it('uses the configured claim', async () => {
    const token = await hsToken({ sub: 'u-1', name: 'Not This', preferred_username: 'alice42', rooms: ALL_ROOMS });
    const a = await connect('v4', svc.url, '/bus', { extra: { auth: { token } } });
    expect(await request(a, 'JOIN', { room: 'r' })).to.include({ name: 'alice42' });
  });
});

describe('auth jwt: public key files', () => {
  afterEach(closeAll);

  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    it(`${alg}: accepts tokens signed by the key, refuses HS256 made with the public key as secret`, async () => {
      const keys = await keyPair(alg);
      const svc = await startService({ auth: jwtAuth({ kind: 'public-key', file: keys.file }) });
      try {
        const good = await sign(alice, keys.privateKey, alg);
        const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token: good } } });
        expect(await request(a, 'JOIN', { room: 'k' })).to.include({ ok: true, name: 'Alice' });

        // The classic algorithm confusion: HMAC-SHA256 keyed with the PEM the server holds.
        const header = base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
        const payload = base64url.encode(JSON.stringify({ ...alice, iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 3600 }));
        const mac = createHmac('sha256', keys.pem).update(`${header}.${payload}`).digest('base64url');
        const forged = `${header}.${payload}.${mac}`;
        const data = await refusal('v4', svc.url, '/layout', { extra: { auth: { token: forged } } });
        expect(data).to.deep.equal({ code: 'UNAUTHORIZED', message: 'token algorithm not accepted' });

        const other = await keyPair(alg);
        const wrongKey = await sign(alice, other.privateKey, alg);
        expect((await refusal('v4', svc.url, '/layout', { extra: { auth: { token: wrongKey } } })).message).to.equal('invalid token signature');
      } finally {
        await svc.close();
      }
    });
  }
});

describe('auth jwt: JWKS URL', () => {
  let jwks: JwksServer;
  let svc: Running;
  before(async () => {
    jwks = await new JwksServer().start('/.well-known/jwks.json');
    jwks.keys = [await keyPair('RS256', 'key-1')];
    svc = await startService({ auth: jwtAuth({ kind: 'jwks', url: jwks.url }) });
  });
  after(async () => {
    await svc.close();
    await jwks.close();
  });
  afterEach(closeAll);

  it('verifies with the served keys, fetched once and cached', async () => {
    const [key] = jwks.keys;
    const token = await sign(alice, key!.privateKey, 'RS256', { kid: 'key-1' });
    await connect('v4', svc.url, '/layout', { extra: { auth: { token } } });
    await connect('v4', svc.url, '/bus', { extra: { auth: { token: await sign(alice, key!.privateKey, 'RS256', { kid: 'key-1' }) } } });
    expect(jwks.calls).to.equal(1);
  });

  it('fetches the set again for an unknown kid (key rotation), and refuses retired keys', async () => {
    const old = jwks.keys[0]!;
    const rotated = await keyPair('ES256', 'key-2');
    jwks.keys = [rotated];
    const before = jwks.calls;
    const token = await sign(alice, rotated.privateKey, 'ES256', { kid: 'key-2' });
    const a = await connect('v4', svc.url, '/layout', { extra: { auth: { token } } });
    expect(await request(a, 'JOIN', { room: 'rot' })).to.include({ ok: true });
    expect(jwks.calls).to.equal(before + 1);

    const retired = await sign(alice, old.privateKey, 'RS256', { kid: 'key-1' });
    expect((await refusal('v4', svc.url, '/layout', { extra: { auth: { token: retired } } })).message).to.equal('token signed with an unknown key');
  });

  it('refuses HS256 tokens whatever their kid, and tokens from an unknown signer', async () => {
    const hs = await hsToken(alice, { kid: 'key-2' });
    expect((await refusal('v4', svc.url, '/layout', { extra: { auth: { token: hs } } })).code).to.equal('UNAUTHORIZED');
    const stranger = await keyPair('ES256', 'key-2');
    const forged = await sign(alice, stranger.privateKey, 'ES256', { kid: 'key-2' });
    expect((await refusal('v4', svc.url, '/layout', { extra: { auth: { token: forged } } })).message).to.equal('invalid token signature');
  });
});

describe('auth: no credential in the logs', () => {
  it('logs refusals and connections at every level without any token or ticket', async () => {
    const { logger, entries } = captureLogger('silly');
    const svc = await startService({ auth: secretAuth({ apiKeys: ['api-key-0123456789abcdef'] }) }, { logger });
    const secrets: string[] = [];
    try {
      const good = await hsToken(alice);
      const expired = await hsToken(alice, { expiresIn: -5 });
      const forged = await hsToken(alice, { secret: 'another-secret-of-at-least-32-bytes-000' });
      secrets.push(good, expired, forged, 'api-key-0123456789abcdef', 'wrong-api-key-0123456789');
      for (const token of [expired, forged]) {
        await refusal('v4', svc.url, '/layout', { extra: { auth: { token } } });
        await refusal('v2', svc.url, '/layout', { query: { token, tokenType: 'jwt' } });
      }
      const a = await connect('v1', svc.url, '/layout', { query: { token: good, tokenType: 'jwt' } });
      await request(a, 'JOIN', JSON.stringify({ room: 'logs' }));
      await request(a, 'REFRESH', { token: forged });
      await request(a, 'REFRESH', { token: good });
      const res = await fetch(`${svc.url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${good}` } });
      const { ticket } = (await res.json()) as { ticket: string };
      secrets.push(ticket, ticket.split(':')[1]!);
      await connect('v4', svc.url, '/bus', { query: { ticket } });
      await refusal('v4', svc.url, '/bus', { query: { ticket } });
      await fetch(`${svc.url}/ticket?token=${good}`, { method: 'POST', headers: { authorization: `Bearer ${forged}` } });
      await fetch(`${svc.url}/bus-message/r?key=api-key-0123456789abcdef`, { method: 'POST', body: '1', headers: { 'x-api-key': 'wrong-api-key-0123456789' } });
      await fetch(`${svc.url}/bus-message/r`, { method: 'POST', body: '1', headers: { authorization: 'Bearer api-key-0123456789abcdef' } });
    } finally {
      await svc.close();
    }
    expect(entries.filter((e) => e.message === 'connection refused')).to.have.length.of.at.least(5);
    const text = JSON.stringify(entries);
    for (const secret of secrets) expect(text).not.to.include(secret.slice(-24));
  });
});
