/**
 * The admin page in a real browser: playwright-core driving Debian's Chromium (skipped with a message
 * where it is missing, a failure with REQUIRE_BROWSER=1). Signs in with basic credentials, sees the
 * connection count follow the clients the test connects, a room appear, the rate chart move after
 * publications, and a user disconnected from the page lose its connection; the page raised no CSP
 * violation and logged no error.
 */
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_PASSWORD, API_KEY } from './helpers/admin.js';
import { hsToken, secretAuth, withToken } from './helpers/auth.js';
import { CHROMIUM, requireBrowserOrSkip } from './helpers/browser.js';
import { connect, next, request, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

// Functions run in the page: the project compiles without the DOM library, so these stay loose here.
declare const document: any;
declare const window: any;

const rooms = { subscribe: ['*'], publish: ['*'] };
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

describe('admin page in Chromium (playwright-core)', function () {
  this.timeout(60_000);
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [API_KEY], adminPassword: ADMIN_PASSWORD }) });
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async function () {
    requireBrowserOrSkip(this);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: ADMIN_PASSWORD } });
    // Injected by the browser itself (not subject to the page's CSP): every violation is kept.
    await context.addInitScript(() => {
      const w = window as unknown as { violations: string[] };
      w.violations = [];
      document.addEventListener('securitypolicyviolation', (e: any) => w.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    page = await context.newPage();
    // Each wait is for something the page shows within its next refreshes (every 1-2 s).
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  });
  after(() => browser?.close());

  const count = (id: string): Promise<number> => page.$eval(`#${id}`, (e) => Number(e.textContent));

  it('signs in with basic credentials and shows the live figures', async () => {
    const res = await page.goto(`${svc.url}/admin`);
    expect(res?.status()).to.equal(200);
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById('connections')?.textContent ?? ''));
    await page.waitForFunction(() => document.querySelectorAll('#nodes tbody tr[data-node]').length === 1);
    expect(await page.$$eval('script:not([src])', (s) => s.length)).to.equal(0);
    expect(await page.textContent('#redis')).to.equal('single node');
  });

  it('the connection count follows the clients; their room appears', async () => {
    const before = await count('connections');
    const clients: TestClient[] = [];
    for (const user of ['ann', 'bob']) {
      const client = await connect('v4', svc.url, '/layout', withToken('v4', await hsToken({ sub: user, rooms })));
      await request(client, 'JOIN', { room: 'browser-room', name: user });
      clients.push(client);
    }
    await page.waitForFunction((n) => Number(document.getElementById('connections')?.textContent) === n, before + 2);
    await page.waitForSelector('#rooms tr[data-room="layout/browser-room"]');
    expect(await page.textContent('#rooms tr[data-room="layout/browser-room"] td.num')).to.equal('2');
    clients[1]!.close();
    await page.waitForFunction((n) => Number(document.getElementById('connections')?.textContent) === n, before + 1);
  });

  it('the rate chart moves after publications', async () => {
    expect(await page.getAttribute('#chart', 'data-max-published')).to.equal('0');
    // A member, so there are deliveries too.
    const member = await connect('v4', svc.url, '/layout', withToken('v4', await hsToken({ sub: 'cy', rooms })));
    await request(member, 'JOIN', { room: 'browser-room', name: 'cy' });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${svc.url}/publish/layout/browser-room`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ n: i, note: 'shown-to-the-admin' }) });
      expect(res.status).to.equal(200);
    }
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.maxPublished) > 0);
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.maxDelivered) > 0);
    expect(Number(await page.getAttribute('#chart', 'data-points'))).to.be.greaterThan(1);
    // uPlot drew it: its canvas is there.
    expect(await page.$$eval('#chart canvas', (c) => c.length)).to.be.greaterThan(0);
  });

  it("a room's members and recent messages; disconnecting a user closes its connection", async () => {
    const ann = await connect('v4', svc.url, '/layout', withToken('v4', await hsToken({ sub: 'ann', rooms })));
    await request(ann, 'JOIN', { room: 'browser-room', name: 'ann' });
    await page.click('#rooms tr[data-room="layout/browser-room"]');
    await page.waitForFunction(() => document.getElementById('messages')?.textContent?.includes('shown-to-the-admin'));
    await page.waitForFunction(() => [...document.querySelectorAll('#members tbody td')].some((td: any) => td.textContent === 'ann'));

    const gone = next(ann, 'disconnect');
    await page.fill('#disconnect input[name=user]', 'ann');
    await page.fill('#disconnect input[name=block]', '1');
    await page.click('#disconnect button[type=submit]');
    await gone;
    await page.waitForFunction(() => document.getElementById('disconnect-result')?.dataset.disconnected !== undefined);
    expect(await page.getAttribute('#disconnect-result', 'data-disconnected')).to.equal('1');
    expect(await page.textContent('#disconnect-result')).to.include('blocked for 1 min');
  });

  it('raised no CSP violation and logged no error', async () => {
    expect(await page.evaluate(() => (window as unknown as { violations: string[] }).violations)).to.deep.equal([]);
    expect(problems).to.deep.equal([]);
  });
});
