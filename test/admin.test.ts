/**
 * The admin page over HTTP: who may open it (basic auth as `admin` with --admin-password or an API
 * key; never open with auth on; open with --auth none and nothing configured), the headers on every
 * answer (CSP without inline script or style, nosniff, no referrer, no-store on the API), the page's
 * files, its JSON API, and the refusal of a disconnect another site could forge.
 */
import { expect } from 'chai';
import { ADMIN_CSP } from '../lib/admin/headers.js';
import { defaultAuthConfig } from '../lib/auth/config.js';
import { buildConfig, defaultConfig } from '../lib/config/index.js';
import { createService } from '../lib/service.js';
import { captureLogger } from './helpers/logs.js';
import { ADMIN_PASSWORD, API_KEY, adminGet, asAdmin, basic, tagsOf } from './helpers/admin.js';
import { hsToken, refusal, secretAuth, withToken } from './helpers/auth.js';
import { connect, next, request } from './helpers/clients.js';
import { waitUntil } from './helpers/cluster.js';
import { serviceForSuite, startService } from './helpers/service.js';

const rooms = { subscribe: ['*'], publish: ['*'] };

describe('admin page: who may open it', () => {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [API_KEY], adminPassword: ADMIN_PASSWORD }) });

  for (const path of ['/admin', '/admin/admin.js', '/admin/api/overview', '/admin/api/rooms']) {
    it(`${path}: 401 asking for basic credentials without them, with wrong ones, or with an API key header; never a redirect`, async () => {
      for (const headers of [{}, basic('admin', 'wrong-password'), basic('root', ADMIN_PASSWORD), basic('admin', ''), { 'x-api-key': API_KEY }, { authorization: `Bearer ${API_KEY}` }]) {
        const res = await adminGet(svc.url + path, headers);
        expect(res.status, JSON.stringify(headers)).to.equal(401);
        expect(res.headers.get('www-authenticate')).to.match(/^Basic realm="[^"]+"/);
        expect(res.headers.get('location')).to.equal(null);
        expect(res.json).to.deep.include({ error: { code: 'UNAUTHORIZED', message: res.json.error.message } });
        expect(res.headers.get('content-security-policy')).to.equal(ADMIN_CSP);
      }
    });
  }

  it('opens with the admin password, and with an API key as the password', async () => {
    for (const headers of [asAdmin, basic('admin', API_KEY)]) {
      expect((await adminGet(`${svc.url}/admin`, headers)).status).to.equal(200);
      expect((await adminGet(`${svc.url}/admin/api/overview`, headers)).status).to.equal(200);
    }
  });
});

describe('admin page: never open with auth on, open with --auth none and nothing configured', () => {
  it('auth on without an admin password or an API key: 401 whatever is sent', async () => {
    const svc = await startService({ auth: secretAuth({ apiKeys: [] }) });
    try {
      for (const headers of [{}, basic('admin', ''), basic('admin', 'anything-at-all')]) expect((await adminGet(`${svc.url}/admin`, headers)).status).to.equal(401);
    } finally {
      await svc.close();
    }
  });

  it('--auth none with an admin password: closed without it', async () => {
    const svc = await startService({ auth: { ...defaultAuthConfig(), adminPassword: ADMIN_PASSWORD } });
    try {
      expect((await adminGet(`${svc.url}/admin`, {})).status).to.equal(401);
      expect((await adminGet(`${svc.url}/admin`, asAdmin)).status).to.equal(200);
    } finally {
      await svc.close();
    }
  });

  it('open on an address other than loopback: a warning at start; on loopback or with a password: none', async () => {
    const warned = async (host: string, auth = defaultAuthConfig()): Promise<boolean> => {
      const { logger, entries } = captureLogger('info');
      const svc = await createService(defaultConfig({ port: 0, host, auth, storage: { kind: 'off' } }), { logger, store: null });
      await svc.close();
      return entries.some((e) => e.level === 'warn' && String(e.message).includes('admin page /admin is open'));
    };
    expect(await warned('0.0.0.0')).to.equal(true);
    expect(await warned('127.0.0.1')).to.equal(false);
    expect(await warned('0.0.0.0', { ...defaultAuthConfig(), adminPassword: ADMIN_PASSWORD })).to.equal(false);
  });

  it('--admin-password (ADMIN_PASSWORD): 12 characters at least', () => {
    expect(buildConfig((name) => (name === 'admin-password' ? ADMIN_PASSWORD : undefined)).auth.adminPassword).to.equal(ADMIN_PASSWORD);
    expect(() => buildConfig((name) => (name === 'admin-password' ? 'short' : undefined))).to.throw(/at least 12 characters/);
    expect(buildConfig(() => undefined).auth).to.not.have.property('adminPassword');
  });

  it('--auth none, no admin password, no API key: open', async () => {
    const svc = await startService();
    try {
      expect((await adminGet(`${svc.url}/admin`, {})).status).to.equal(200);
      expect((await adminGet(`${svc.url}/admin/api/overview`, {})).status).to.equal(200);
    } finally {
      await svc.close();
    }
  });
});

describe('admin page: files and headers', () => {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [API_KEY], adminPassword: ADMIN_PASSWORD }) });

  it('the page has no inline script, style or event handler; every file it names is served with its type', async () => {
    const page = await adminGet(`${svc.url}/admin`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    const tags = tagsOf(page.text);
    const scripts = tags.filter((t) => t.name === 'script');
    expect(scripts).to.have.length.greaterThan(0);
    for (const s of scripts) {
      expect(s.attributes.src, 'every script has a src').to.be.a('string').and.match(/^\/admin\//);
      expect(s.content.trim(), 'and no content').to.equal('');
    }
    expect(tags.filter((t) => t.name === 'style')).to.deep.equal([]);
    for (const t of tags) {
      const inline = Object.keys(t.attributes).filter((a) => a === 'style' || a.startsWith('on'));
      expect(inline, `<${t.name}> has no inline style or handler`).to.deep.equal([]);
      const href = t.attributes.href ?? t.attributes.src;
      if (href?.startsWith('javascript:')) expect.fail(`<${t.name}> links javascript:`);
    }
    const files = tags.map((t) => t.attributes.src ?? (t.name === 'link' && t.attributes.rel === 'stylesheet' ? t.attributes.href : undefined)).filter((f): f is string => f !== undefined);
    expect(files).to.include.members(['/admin/vendor/uPlot.iife.min.js', '/admin/vendor/uPlot.min.css', '/admin/admin.js', '/admin/admin.css']);
    for (const file of files) {
      const res = await adminGet(svc.url + file);
      expect(res.status, file).to.equal(200);
      expect(res.headers.get('content-type'), file).to.equal(file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(res.headers.get('cache-control'), file).to.equal(file.includes('/vendor/') ? 'private, max-age=86400' : 'no-cache');
    }
    // The page's modules import one another: those are served too.
    const main = await adminGet(`${svc.url}/admin/admin.js`);
    for (const [, imported] of main.text.matchAll(/from '\.\/([\w-]+\.js)'/g)) expect((await adminGet(`${svc.url}/admin/${imported}`)).status, imported).to.equal(200);
  });

  it('every answer has the CSP, nosniff and no referrer; the API is not cached; a file is revalidated by its ETag', async () => {
    const paths = ['/admin', '/admin/', '/admin/admin.css', '/admin/vendor/uPlot.min.css', '/admin/api/overview', '/admin/api/rooms?prefix=x', '/admin/no-such-file.js', '/admin/api/no/such/route', 'POST /admin', 'DELETE /admin/api/rooms'];
    for (const route of paths) {
      const [method, path] = route.includes(' ') ? route.split(' ') : ['GET', route];
      const res = await fetch(svc.url + path!, { method: method!, headers: asAdmin });
      await res.arrayBuffer();
      expect(res.headers.get('content-security-policy'), path).to.equal(ADMIN_CSP);
      expect(res.headers.get('x-content-type-options'), path).to.equal('nosniff');
      expect(res.headers.get('referrer-policy'), path).to.equal('no-referrer');
      if (path.includes('/api/')) expect(res.headers.get('cache-control'), path).to.equal('no-store');
    }
    expect(ADMIN_CSP).to.include("script-src 'self'").and.include("style-src 'self'").and.include("frame-ancestors 'none'").and.not.include('unsafe');
    const first = await adminGet(`${svc.url}/admin/admin.js`);
    const again = await fetch(`${svc.url}/admin/admin.js`, { headers: { ...asAdmin, 'if-none-match': first.headers.get('etag')! } });
    expect(again.status).to.equal(304);
    expect((await adminGet(`${svc.url}/admin/no-such-file.js`)).json.error.code).to.equal('NOT_FOUND');
    expect((await adminGet(`${svc.url}/admin/vendor/uPlot.esm.js`)).status).to.equal(404);
  });
});

describe('admin page: its JSON API', () => {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [API_KEY], adminPassword: ADMIN_PASSWORD }) });

  it('overview: this node, ready, with its figures; the rate series fills one sample a second', async () => {
    const { json } = await adminGet(`${svc.url}/admin/api/overview`);
    expect(json.redis).to.equal('none');
    expect(json.nodes).to.have.length(1);
    expect(json.nodes[0]).to.include({ node: json.self, ready: true });
    expect(json.nodes[0].memory).to.be.greaterThan(0);
    expect(json.totals).to.include.keys('connections', 'byKind', 'eio', 'errors', 'slowConsumerDisconnects', 'published', 'deliveries');
    await waitUntil('two rate samples', async () => (await adminGet(`${svc.url}/admin/api/overview`)).json.rates.t.length >= 2, 4000);
    const { rates } = (await adminGet(`${svc.url}/admin/api/overview`)).json;
    expect(rates.published).to.have.length(rates.t.length);
    expect(rates.t[1] - rates.t[0]).to.be.within(0.5, 2.5);
  });

  it("rooms by prefix, a page at a time; a room's members and recent messages (bodies included)", async () => {
    const token = await hsToken({ sub: 'ann', rooms });
    const ann = await connect('v4', svc.url, '/layout', withToken('v4', token));
    await request(ann, 'JOIN', { room: 'admin-a1', name: 'Ann' });
    await request(ann, 'JOIN', { room: 'admin-a2', name: 'Ann' });
    await request(ann, 'JOIN', { room: 'other', name: 'Ann' });
    const published = await fetch(`${svc.url}/publish/layout/admin-a1`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ secret: 'body-17' }) });
    expect(published.status).to.equal(200);

    const first = (await adminGet(`${svc.url}/admin/api/rooms?prefix=admin-&limit=1`)).json;
    expect(first.rooms).to.deep.equal([{ namespace: 'layout', room: 'admin-a1', members: 1 }]);
    expect(first.next).to.be.a('string');
    const second = (await adminGet(`${svc.url}/admin/api/rooms?prefix=admin-&limit=1&cursor=${first.next}`)).json;
    expect(second.rooms).to.deep.equal([{ namespace: 'layout', room: 'admin-a2', members: 1 }]);

    const room = (await adminGet(`${svc.url}/admin/api/rooms/layout/admin-a1`)).json;
    expect(room.members).to.have.length(1);
    expect(room.members[0]).to.include({ name: 'ann', user: 'ann', protocol: 'socketio' });
    expect(JSON.stringify(room.messages)).to.include('body-17');
    expect((await adminGet(`${svc.url}/admin/api/rooms/nope/x`)).status).to.equal(404);
  });

  it('disconnect: closes the user\'s connections as POST /users/:user/disconnect does, with a block in minutes', async () => {
    const token = await hsToken({ sub: 'bob', rooms });
    const bob = await connect('v4', svc.url, '/layout', withToken('v4', token));
    const gone = next(bob, 'disconnect');
    const res = await fetch(`${svc.url}/admin/api/users/bob/disconnect`, {
      method: 'POST',
      headers: { ...asAdmin, 'content-type': 'application/json', origin: svc.url, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ block: '5m' }),
    });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ ok: true, disconnected: 1 });
    await gone;
    expect((await refusal('v4', svc.url, '/layout', withToken('v4', token))).code).to.equal('UNAUTHORIZED');
  });

  it('disconnect refused (403, nobody disconnected) unless it is same-origin JSON: no form post, no other site', async () => {
    const token = await hsToken({ sub: 'cy', rooms });
    const cy = await connect('v4', svc.url, '/layout', withToken('v4', token));
    let disconnected = false;
    cy.on('disconnect', () => (disconnected = true));
    const forged: Record<string, string>[] = [
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
      { 'content-type': 'application/json', origin: 'http://evil.example' },
    ];
    for (const headers of forged) {
      const res = await fetch(`${svc.url}/admin/api/users/cy/disconnect`, { method: 'POST', headers: { ...asAdmin, ...headers }, body: '{}' });
      expect(res.status, JSON.stringify(headers)).to.equal(403);
      expect(((await res.json()) as any).error.code).to.equal('FORBIDDEN');
    }
    // Without credentials: 401 before anything else.
    expect((await fetch(`${svc.url}/admin/api/users/cy/disconnect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).to.equal(401);
    // A preflight (what a cross-site JSON fetch sends first) is not answered.
    expect((await fetch(`${svc.url}/admin/api/users/cy/disconnect`, { method: 'OPTIONS' })).status).to.equal(405);
    expect(await request<object>(cy, 'JOIN', { room: 'still-here', name: 'Cy' })).to.have.property('room', 'still-here');
    expect(disconnected).to.equal(false);
  });
});
