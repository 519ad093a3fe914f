/**
 * Who may read GET /metrics: with auth on, an API key (both headers), never a user's token;
 * --metrics-public opens it; --metrics-port serves it alone on a listener of its own (the main port
 * still does); --metrics false serves none and records nothing.
 */
import { expect } from 'chai';
import { connect, request } from './helpers/clients.js';
import { hsToken, secretAuth, ALL_ROOMS } from './helpers/auth.js';
import { scrape } from './helpers/metrics.js';
import { serviceForSuite, startService } from './helpers/service.js';

const KEY = 'metrics-test-api-key-0123456789';

describe('metrics: who may read GET /metrics', () => {
  describe('auth on', () => {
    const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [KEY] }) });

    it('without a key: 401 UNAUTHORIZED as a JSON error', async () => {
      const res = await fetch(`${svc.url}/metrics`);
      expect(res.status).to.equal(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('UNAUTHORIZED');
    });

    it("a user's token does not open it, and counts as an API key refused", async () => {
      const token = await hsToken({ sub: 'u1', rooms: ALL_ROOMS });
      const res = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).to.equal(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('UNAUTHORIZED');
      const s = await scrape(svc.url, { 'x-api-key': KEY });
      expect(s.value('notify_auth_failures_total', { reason: 'api_key' })).to.be.at.least(1);
    });

    it('an API key opens it, as Authorization: Bearer or X-API-Key', async () => {
      const bearer = await scrape(svc.url, { authorization: `Bearer ${KEY}` });
      expect(bearer.status).to.equal(200);
      expect(bearer.get('notify_ready')).to.equal(1);
      expect((await scrape(svc.url, { 'x-api-key': KEY })).status).to.equal(200);
      expect((await scrape(svc.url, { 'x-api-key': 'not-the-key-at-all-0000000' })).status).to.equal(401);
    });

    it('counts refused connections by reason: missing credentials, a bad token, an expired token, a blocked user', async () => {
      const before = await scrape(svc.url, { 'x-api-key': KEY });
      await connect('v4', svc.url, '/layout', { expectError: true });
      await connect('v4', svc.url, '/layout', { expectError: true, extra: { auth: { token: 'not.a.token' } } });
      const expired = await hsToken({ sub: 'u2', rooms: ALL_ROOMS }, { expiresIn: -60 });
      await connect('v4', svc.url, '/layout', { expectError: true, extra: { auth: { token: expired } } });
      // A blocked user (POST /users/:user/disconnect with a block) comes back with a valid token.
      const blocked = await fetch(`${svc.url}/users/u3/disconnect`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ block: '10m' }) });
      expect(blocked.status).to.equal(200);
      await connect('v4', svc.url, '/layout', { expectError: true, extra: { auth: { token: await hsToken({ sub: 'u3', rooms: ALL_ROOMS }) } } });
      const after = await scrape(svc.url, { 'x-api-key': KEY });
      const moved = (reason: string): number => after.value('notify_auth_failures_total', { reason }) - before.value('notify_auth_failures_total', { reason });
      expect(moved('missing')).to.equal(1);
      expect(moved('invalid')).to.equal(1);
      expect(moved('expired')).to.equal(1);
      expect(moved('blocked')).to.equal(1);
      const errors = after.value('notify_errors_total', { code: 'UNAUTHORIZED' }) - before.value('notify_errors_total', { code: 'UNAUTHORIZED' });
      expect(errors, 'each connect_error counted').to.equal(4);
    });
  });

  describe('--metrics-public', () => {
    const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [KEY] }), metrics: { enabled: true, public: true } });

    it('serves /metrics without a key; the HTTP API still wants one', async () => {
      expect((await scrape(svc.url)).status).to.equal(200);
      expect((await fetch(`${svc.url}/rooms`)).status).to.equal(401);
    });
  });

  describe('--metrics-port', () => {
    const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [KEY] }), metrics: { enabled: true, public: false, port: 0 } });

    it('serves /metrics on its own listener, with the same key, and nothing else; the main port still serves it', async () => {
      const addr = svc.service.metricsAddress()!;
      expect(addr.port).to.not.equal(svc.port);
      const url = `http://127.0.0.1:${addr.port}`;
      expect((await scrape(url)).status).to.equal(401);
      const s = await scrape(url, { 'x-api-key': KEY });
      expect(s.status).to.equal(200);
      expect(s.get('notify_ready')).to.equal(1);
      const other = await fetch(`${url}/healthcheck`);
      expect(other.status).to.equal(404);
      expect(((await other.json()) as { error: { code: string } }).error.code).to.equal('NOT_FOUND');
      expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).to.equal(405);
      expect((await scrape(svc.url, { 'x-api-key': KEY })).status).to.equal(200);
    });

    it('is closed with the service', async () => {
      const own = await startService({ metrics: { enabled: true, public: false, port: 0 } });
      const url = `http://127.0.0.1:${own.service.metricsAddress()!.port}`;
      expect((await scrape(url)).status).to.equal(200);
      await own.close();
      let refused = false;
      await fetch(`${url}/metrics`).catch(() => (refused = true));
      expect(refused).to.equal(true);
    });
  });

  describe('--metrics false', () => {
    const svc = serviceForSuite({ metrics: { enabled: false, public: false } });

    it('serves no /metrics and records nothing', async () => {
      expect((await fetch(`${svc.url}/metrics`)).status).to.equal(404);
      const a = await connect('v4', svc.url, '/layout');
      expect(await request(a, 'NOTIFY', { room: 'r', message: 1 })).to.include({ ok: true });
      const text = await svc.service.metrics.registry.metrics();
      expect(text).not.to.match(/^notify_messages_published_total\{/m);
      expect(text).not.to.match(/^process_cpu/m);
    });
  });
});
