/**
 * POST /ticket and one-time tickets (the Awayto flow): single use, expiry (on an injected clock),
 * forgery, and two nodes sharing a ticket store. Also the API keys of HTTP publishing.
 */
import { expect } from 'chai';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { MemoryTicketStore } from '../lib/auth/tickets.js';
import { closeAll, connect, next, request, type ClientVersion } from './helpers/clients.js';
import { ALL_ROOMS, hsToken, refusal, secretAuth } from './helpers/auth.js';
import { startService, type Running } from './helpers/service.js';

const alice = { sub: 'u-alice', name: 'Alice', rooms: ALL_ROOMS };

async function getTicket(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(res.status).to.equal(200);
  const body = (await res.json()) as { ticket: string; expiresIn: number };
  expect(body.expiresIn).to.equal(30);
  expect(body.ticket).to.match(/^[\w-]{22}:[\w-]{43}$/);
  return body.ticket;
}

describe('tickets', () => {
  let skew = 0;
  const store = new MemoryTicketStore(() => Date.now() + skew);
  let a: Running;
  let b: Running;
  before(async () => {
    // Two nodes sharing one ticket store, as two nodes share Redis in cluster mode.
    const options = { access: { ticketStore: store, now: () => Date.now() + skew } };
    a = await startService({ auth: secretAuth(), corsOrigin: ['https://app.example'] }, options);
    b = await startService({ auth: secretAuth() }, options);
  });
  after(async () => {
    await a.close();
    await b.close();
    await store.close();
  });
  afterEach(() => {
    skew = 0;
    closeAll();
  });

  for (const version of ['v1', 'v2', 'v4'] as ClientVersion[]) {
    for (const transport of ['websocket', 'polling'] as const) {
      it(`${version} over ${transport}: ?ticket= connects once, with the identity of the token`, async () => {
        const ticket = await getTicket(a.url, await hsToken(alice));
        const client = await connect(version, a.url, '/layout', { transport, query: { ticket } });
        expect(await request(client, 'JOIN', JSON.stringify({ room: 't', name: 'mallory' }))).to.deep.equal({ ok: true, room: 't', name: 'Alice' });
        const again = await refusal(version, a.url, '/layout', { transport, query: { ticket } });
        expect(again).to.deep.equal({ code: 'UNAUTHORIZED', message: 'invalid ticket' });
      });
    }
  }

  it('a ticket issued by one node is redeemed on another, once', async () => {
    const ticket = await getTicket(a.url, await hsToken(alice));
    const onB = await connect('v4', b.url, '/bus', { query: { ticket } });
    expect(await request(onB, 'JOIN', { room: 'x' })).to.include({ name: 'Alice' });
    expect((await refusal('v4', a.url, '/bus', { query: { ticket } })).code).to.equal('UNAUTHORIZED');
  });

  it('an expired ticket is refused', async () => {
    const ticket = await getTicket(a.url, await hsToken(alice));
    skew = 30_001;
    expect(await refusal('v4', a.url, '/layout', { query: { ticket } })).to.deep.equal({ code: 'UNAUTHORIZED', message: 'invalid ticket' });
  });

  it('a forged ticket is refused, and burns the real one', async () => {
    const ticket = await getTicket(a.url, await hsToken(alice));
    const [id, code] = ticket.split(':') as [string, string];
    const wrongCode = `${id}:${code.slice(0, -1)}${code.endsWith('A') ? 'B' : 'A'}`;
    expect((await refusal('v4', a.url, '/layout', { query: { ticket: wrongCode } })).code).to.equal('UNAUTHORIZED');
    expect((await refusal('v4', a.url, '/layout', { query: { ticket } })).code).to.equal('UNAUTHORIZED');
    for (const forged of ['nope', `${'A'.repeat(22)}:${'B'.repeat(43)}`, `${id}`, `:${code}`]) {
      expect((await refusal('v4', a.url, '/layout', { query: { ticket: forged } })).code, forged).to.equal('UNAUTHORIZED');
    }
  });

  it('a v4 client may pass the ticket in the handshake auth', async () => {
    const ticket = await getTicket(a.url, await hsToken(alice));
    await connect('v4', a.url, '/trigger', { extra: { auth: { ticket } } });
  });

  it('POST /ticket needs a valid Bearer token: 401 with a JSON error otherwise', async () => {
    const none = await fetch(`${a.url}/ticket`, { method: 'POST' });
    expect(none.status).to.equal(401);
    expect(((await none.json()) as any).error.code).to.equal('UNAUTHORIZED');
    const expired = await fetch(`${a.url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${await hsToken(alice, { expiresIn: -5 })}` } });
    expect(expired.status).to.equal(401);
    expect(await expired.json()).to.deep.equal({ error: { code: 'UNAUTHORIZED', message: 'token expired' } });
    expect((await fetch(`${a.url}/ticket`)).status).to.equal(405);
  });

  it('POST /ticket answers CORS preflights for allowed origins only', async () => {
    const pre = await fetch(`${a.url}/ticket`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).to.equal(204);
    expect(pre.headers.get('access-control-allow-origin')).to.equal('https://app.example');
    expect(pre.headers.get('access-control-allow-headers')).to.include('authorization');
    const evil = await fetch(`${a.url}/ticket`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(evil.headers.get('access-control-allow-origin')).to.equal(null);
    const res = await fetch(`${a.url}/ticket`, { method: 'POST', headers: { origin: 'https://app.example', authorization: `Bearer ${await hsToken(alice)}` } });
    expect(res.headers.get('access-control-allow-origin')).to.equal('https://app.example');
  });

  it('a legacy client on one connection shares its ticket between "/" and its namespace', async () => {
    // Engine.IO v3 clients join '/' implicitly: both must be admitted by the one ticket.
    const ticket = await getTicket(a.url, await hsToken(alice));
    const c = await connect('v2', a.url, '/lobby', { query: { ticket, lobbyId: 'tl' } });
    const reply = await request(c, 'JOIN', 'tl');
    expect(reply).to.include({ ok: true, lobby: 'tl' });
  });
});

describe('HTTP publishing with auth on: API keys', () => {
  let svc: Running;
  const KEY = 'publisher-key-0123456789';
  before(async () => {
    svc = await startService({ auth: secretAuth({ apiKeys: [KEY, 'second-key-0123456789ab'] }) });
  });
  after(() => svc.close());
  afterEach(closeAll);

  const post = (headers: Record<string, string>) => fetch(`${svc.url}/bus-message/keyed`, { method: 'POST', body: '{"n":1}', headers });

  it('refuses a publication without a key or with a wrong one: 401 JSON', async () => {
    for (const headers of <Array<Record<string, string>>>[{}, { 'x-api-key': 'wrong-key-0123456789abc' }, { authorization: 'Bearer wrong' }, { authorization: KEY }]) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).to.equal(401);
      expect(((await res.json()) as any).error.code).to.equal('UNAUTHORIZED');
    }
  });

  it('publishes with a right key, as Bearer or X-API-Key', async () => {
    const sub = await connect('v4', svc.url, '/bus', { extra: { auth: { token: await hsToken(alice) } } });
    await request(sub, 'JOIN', { room: 'keyed' });
    let offset = 0;
    for (const headers of <Array<Record<string, string>>>[{ authorization: `Bearer ${KEY}` }, { 'x-api-key': 'second-key-0123456789ab' }]) {
      const got = next(sub, 'EVENT');
      const res = await post(headers);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ ok: true, room: 'keyed', recipients: 1, offset: ++offset });
      expect(await got).to.deep.include({ sender: 'POST', room: 'keyed', message: { n: 1 } });
    }
  });
});

describe('POST /ticket under the connection rate', () => {
  it('answers 429 RATE_LIMITED past the per-address rate', async () => {
    const svc = await startService({ auth: secretAuth(), abuse: { ...defaultAbuseLimits(), connectionsPerSecond: 2, exempt: [] } });
    try {
      const token = await hsToken(alice);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${svc.url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        statuses.push(res.status);
        if (res.status === 429) expect(((await res.json()) as any).error.code).to.equal('RATE_LIMITED');
        else await res.body?.cancel();
      }
      expect(statuses).to.deep.equal([200, 200, 429]);
    } finally {
      await svc.close();
    }
  });
});
