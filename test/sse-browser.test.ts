/**
 * GET /events from a real EventSource: headless Chromium loads a page of another origin (allowed by
 * --cors-origin) that follows a room with the browser's own EventSource. The service cuts the
 * stream (POST /users/:user/disconnect); messages published meanwhile arrive after the browser
 * reconnects by itself with Last-Event-ID: every one once, in order, no reset. Skipped without
 * Chromium unless REQUIRE_BROWSER=1.
 */
import { expect } from 'chai';
import { hsToken, secretAuth } from './helpers/auth.js';
import { openBrowser, reportingSite, requireBrowserOrSkip, type Browser, type ReportingSite } from './helpers/browser.js';
import { startService, type Running } from './helpers/service.js';

const KEY = 'the-api-key';

interface Seen {
  event: string;
  id: string;
  message: unknown;
}

/**
 * The page: follow the room, report every event (and each error, i.e. each cut) to the test's
 * server, one report after the other: concurrent fetches may reach the server in another order than
 * the page saw the events (a run saw 1, 2, 4, 3, 5).
 */
function page(streamUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><script>
let reported = Promise.resolve();
const report = (body) => {
  reported = reported.then(() => fetch('/report', { method: 'POST', body: JSON.stringify(body) })).catch(() => undefined);
};
const events = new EventSource(${JSON.stringify(streamUrl)});
for (const name of ['EVENT', 'reset', 'disconnect']) {
  events.addEventListener(name, (e) => report({ event: name, id: e.lastEventId, message: JSON.parse(e.data).message ?? null }));
}
events.onerror = () => report({ event: 'error', id: '', message: events.readyState });
</script>`;
}

describe('GET /events from a real EventSource (headless Chromium)', function () {
  this.timeout(30_000);
  let svc: Running;
  let site: ReportingSite | undefined;
  let browser: Browser | undefined;
  const seen: Seen[] = [];
  let waiters: Array<() => void> = [];

  /** Resolves once `done()` holds for what the page reported. */
  const until = (what: string, done: () => boolean, ms = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms (${JSON.stringify(seen)})`)), ms);
      const check = (): void => {
        if (!done()) return void waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    });

  before(async function () {
    requireBrowserOrSkip(this);
    let html = '';
    site = await reportingSite(
      () => html,
      (body) => {
        seen.push(body as Seen);
        const list = waiters;
        waiters = [];
        for (const w of list) w();
      },
    );
    const origin = site.origin;
    svc = await startService({ corsOrigin: [origin], auth: secretAuth({ apiKeys: [KEY] }) });
    // A token in the query: EventSource cannot set headers, and reconnects with the same URL.
    const token = await hsToken({ sub: 'viewer', rooms: { subscribe: ['screen-*'] } });
    html = page(`${svc.url}/events/layout/screen-1?token=${token}`);
    browser = openBrowser(`${origin}/`);
  });

  after(async () => {
    await browser?.stop();
    await svc?.close();
    site?.close();
  });

  const publish = (message: unknown) =>
    fetch(`${svc.url}/publish/layout/screen-1`, { method: 'POST', body: JSON.stringify(message), headers: { 'x-api-key': KEY } });

  it('gets every message once and in order across a cut, resumed by the browser with Last-Event-ID', async () => {
    const followers = (): number => svc.service.core.localCount('/layout', 'screen-1');
    // The stream has joined once the hub counts it (nothing is reported before the first event).
    const deadline = Date.now() + 20_000;
    while (followers() < 1) {
      if (Date.now() > deadline) throw new Error(`the page did not follow the room (${JSON.stringify(seen)})`);
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
    }
    await publish(1);
    await until('message 1', () => seen.some((s) => s.message === 1));
    // The service cuts the stream; three messages are published before the browser is back.
    const cut = await fetch(`${svc.url}/users/viewer/disconnect`, { method: 'POST', headers: { 'x-api-key': KEY } });
    expect(await cut.json()).to.deep.include({ ok: true, disconnected: 1 });
    for (const n of [2, 3, 4]) await publish(n);
    await until('the browser reconnected and got 2, 3 and 4', () => seen.filter((s) => s.event === 'EVENT').length >= 4);
    await publish(5);
    await until('message 5', () => seen.some((s) => s.message === 5));
    const messages = seen.filter((s) => s.event === 'EVENT');
    expect(messages.map((s) => s.message)).to.deep.equal([1, 2, 3, 4, 5]);
    const [epoch] = messages[0]!.id.split(':');
    expect(messages.map((s) => s.id)).to.deep.equal([1, 2, 3, 4, 5].map((n) => `${epoch}:${n}`));
    expect(seen.map((s) => s.event)).to.include('disconnect').and.not.include('reset');
  });
});
