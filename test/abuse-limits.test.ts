/**
 * Abuse limits: events per connection, new connections per address (X-Forwarded-For behind a
 * trusted proxy), allowed origins on the handshake, the slow-consumer cut-off, and a burst of bad
 * handshakes that leaves the service healthy.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { defaultAbuseLimits, type AbuseLimits } from '../lib/auth/config.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { ALL_ROOMS, hsToken, refusal, secretAuth } from './helpers/auth.js';
import { startService, serviceForSuite } from './helpers/service.js';

const limits = (overrides: Partial<AbuseLimits>): AbuseLimits => ({ ...defaultAbuseLimits(), ...overrides });

/** A raw Engine.IO v4 WebSocket connected to a namespace; resolves once the CONNECT answer arrived. */
function rawSocket(url: string, nsp: string, auth?: object, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; answer: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('message', () => {
      ws.send(`40${nsp},${auth ? JSON.stringify(auth) : ''}`);
      ws.once('message', (data) => resolve({ ws, answer: String(data) }));
    });
  });
}

describe('abuse limits: events per connection', () => {
  const svc = serviceForSuite({ abuse: limits({ eventsPerSecond: 20, eventBurst: 10 }) });

  it('refuses events past the burst with RATE_LIMITED, then cuts a client that keeps going', async () => {
    const [a, bystander] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v2', svc.url, '/layout')]);
    await request(bystander, 'JOIN', JSON.stringify({ room: 'calm' }));
    const replies = await Promise.all(Array.from({ length: 14 }, (_, i) => request(a, 'NOTIFY', { room: 'flood', message: i })));
    const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes.slice(0, 9)).to.deep.equal(Array(9).fill('ok'));
    expect(codes.slice(-3)).to.deep.equal(Array(3).fill('RATE_LIMITED'));
    // Unknown events count too; past twice the burst the connection is closed by the server.
    const gone = next(a, 'disconnect');
    for (let i = 0; i < 20; i++) a.emit('NO_SUCH_EVENT', i);
    expect(await gone).to.equal('io server disconnect');
    // Others are not affected.
    const got = next(bystander, 'EVENT');
    const c = await connect('v4', svc.url, '/layout');
    expect(await request(c, 'NOTIFY', { room: 'calm', message: 'fine' })).to.include({ ok: true });
    expect((await got).message).to.equal('fine');
  });

  it('legacy clients get RATE_LIMITED by ERROR event as well', async () => {
    const a = await connect('v1', svc.url, '/trigger');
    const error = next(a, 'ERROR');
    for (let i = 0; i < 12; i++) a.emit('BROADCAST_STATUS', 'room', i);
    expect(await error).to.include({ code: 'RATE_LIMITED', event: 'BROADCAST_STATUS' });
  });
});

describe('abuse limits: new connections per address', () => {
  afterEach(closeAll);

  it('refuses connections past the rate with connect_error RATE_LIMITED, and handshakes past twice the rate', async () => {
    const svc = await startService({ abuse: limits({ connectionsPerSecond: 3, exempt: [] }) });
    try {
      await Promise.all([1, 2, 3].map(() => connect('v4', svc.url, '/layout')));
      expect(await refusal('v4', svc.url, '/layout')).to.deep.equal({ code: 'RATE_LIMITED', message: 'too many new connections from this address: retry later' });
      expect((await refusal('v2', svc.url, '/layout')).code).to.equal('RATE_LIMITED');
      await refusal('v4', svc.url, '/bus');
      // Past twice the rate Engine.IO refuses the handshake itself (HTTP 403), before any socket.io work.
      await expectHandshakeRefused(svc.url);
    } finally {
      await svc.close();
    }
  });

  it('loopback is exempt by default; behind a trusted proxy the X-Forwarded-For address counts', async () => {
    const svc = await startService({ abuse: limits({ connectionsPerSecond: 2, trustProxy: true }) });
    try {
      await Promise.all([1, 2, 3, 4, 5].map(() => connect('v4', svc.url, '/layout')));
      const via = (address: string) => ({ extra: { extraHeaders: { 'x-forwarded-for': `198.51.100.1, ${address}` } } });
      await connect('v4', svc.url, '/layout', via('203.0.113.9'));
      await connect('v4', svc.url, '/layout', via('203.0.113.9'));
      expect((await refusal('v4', svc.url, '/layout', via('203.0.113.9'))).code).to.equal('RATE_LIMITED');
      await connect('v4', svc.url, '/layout', via('203.0.113.10'));
    } finally {
      await svc.close();
    }
  });
});

async function expectHandshakeRefused(url: string): Promise<void> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  expect(res.status).to.equal(403);
  await res.body?.cancel();
}

describe('abuse limits: allowed origins on the handshake', () => {
  const svc = serviceForSuite({ corsOrigin: ['https://app.example'] });

  it('refuses WebSocket and polling handshakes from other origins; accepts the listed one and non-browsers', async () => {
    // Engine.IO answers every refused WebSocket upgrade with 400.
    await rejectsWith(rawSocket(svc.url, '/layout', undefined, { origin: 'https://evil.example' }), 'HTTP 400');
    const polling = await fetch(`${svc.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://evil.example' } });
    expect(polling.status).to.equal(403);
    const ok = await rawSocket(svc.url, '/layout', undefined, { origin: 'https://app.example' });
    expect(ok.answer).to.match(/^40\/layout,/);
    ok.ws.close();
    const good = await fetch(`${svc.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://app.example' } });
    expect(good.status).to.equal(200);
    expect(good.headers.get('access-control-allow-origin')).to.equal('https://app.example');
    await connect('v1', svc.url, '/layout', { transport: 'polling' });
  });
});

async function rejectsWith(promise: Promise<unknown>, message: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.message).to.equal(message);
}

// Slow consumers (--max-send-buffer): test/slow-consumers.test.ts, at every write.

describe('abuse limits: a burst of bad handshakes', () => {
  it('1000 refused handshakes in a row leave the service healthy', async () => {
    const svc = await startService({ auth: secretAuth() });
    try {
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const { ws, answer } = await rawSocket(svc.url, '/layout', { token: `bad-token-${batch}-${i}` });
            ws.close();
            expect(answer).to.match(/^44\/layout,/);
            expect(JSON.parse(answer.slice('44/layout,'.length))).to.deep.include({ data: { code: 'UNAUTHORIZED', message: 'invalid token' } });
          }),
        );
      }
      expect((await fetch(`${svc.url}/healthcheck`)).status).to.equal(200);
      const token = await hsToken({ sub: 'u-ok', rooms: ALL_ROOMS });
      const [a, b] = await Promise.all([connect('v4', svc.url, '/layout', { extra: { auth: { token } } }), connect('v1', svc.url, '/layout', { query: { token } })]);
      await request(b, 'JOIN', JSON.stringify({ room: 'after' }));
      const got = next(b, 'EVENT');
      await request(a, 'NOTIFY', { room: 'after', message: 'healthy' });
      expect((await got).message).to.equal('healthy');
    } finally {
      await svc.close();
      closeAll();
    }
  });
});
