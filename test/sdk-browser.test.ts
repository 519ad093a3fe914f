/**
 * The client SDK in a real browser (headless Chromium): a page of another origin, bundled with
 * esbuild from client/src with socket.io-client inside, follows one room with each entry - the
 * socket.io client (token in the handshake), /sock over the browser's own WebSocket and SSE over
 * its own EventSource (both with one-time tickets) - and reports what it gets. The socket.io
 * client's transport is cut mid-way: every message still arrives once, in order. Skipped without
 * Chromium unless REQUIRE_BROWSER=1.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { build } from 'esbuild';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { openBrowser, reportingSite, requireBrowserOrSkip, type Browser, type ReportingSite } from './helpers/browser.js';
import { waitUntil } from './helpers/cluster.js';
import { dropTransport } from './helpers/history.js';
import { startService, type Running } from './helpers/service.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'browser-test-api-key';
const ROOM = 'b-room';

/** The page's script: one subscription per entry, each reporting to the test's site. */
const SCRIPT = `
import { createClient } from './client/src/index.ts';
import { createSockClient } from './client/src/sock.ts';
import { createSseClient } from './client/src/sse.ts';
const { url, token, room } = globalThis.CONFIG;
// One report after the other: concurrent fetches may reach the test's server out of order.
let reported = Promise.resolve();
const report = (body) => {
  reported = reported.then(() => fetch('/report', { method: 'POST', body: JSON.stringify(body) })).catch(() => undefined);
};
const fast = { reconnect: { min: 50, max: 200 } };
const io = createClient(url, { token, ...fast });
const sub = io.subscribe(room, (m) => report({ entry: 'socketio', message: m.message }));
sub.on('reset', (e) => report({ entry: 'socketio', reset: e.reason }));
sub.ready.then(() => report({ entry: 'socketio', ready: true }), (e) => report({ entry: 'socketio', error: e.code }));
const sock = createSockClient(url, { token, ...fast });
const topic = sock.subscribe(room, (f) => report({ entry: 'sock', message: f.payload }));
topic.ready.then(() => report({ entry: 'sock', ready: true }), (e) => report({ entry: 'sock', error: e.code }));
const stream = createSseClient(url, { token, ...fast }).follow('layout', room, (m) => report({ entry: 'sse', message: m.data.message }));
stream.on('open', () => report({ entry: 'sse', ready: true }));
stream.on('error', (e) => report({ entry: 'sse', error: e.code }));
`;

interface Report {
  entry: 'socketio' | 'sock' | 'sse';
  message?: unknown;
  ready?: boolean;
  error?: string;
  reset?: string;
}

describe('client SDK in a browser (headless Chromium)', function () {
  this.timeout(60_000);
  let svc: Running;
  let site: ReportingSite | undefined;
  let browser: Browser | undefined;
  const reports: Report[] = [];
  const messages = (entry: Report['entry']) => reports.filter((r) => r.entry === entry && 'message' in r).map((r) => r.message);

  before(async function () {
    requireBrowserOrSkip(this);
    const bundle = await build({
      stdin: { contents: SCRIPT, resolveDir: ROOT, loader: 'ts', sourcefile: 'page.ts' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
    });
    let html = '';
    site = await reportingSite(
      () => html,
      (body) => reports.push(body as Report),
    );
    svc = await startService({ corsOrigin: [site.origin], auth: secretAuth({ apiKeys: [KEY] }) });
    const token = await hsToken({ sub: 'browser', rooms: ALL_ROOMS });
    const config = JSON.stringify({ url: svc.url, token, room: ROOM });
    html = `<!doctype html><meta charset="utf-8"><script>globalThis.CONFIG = ${config};</script><script type="module">${bundle.outputFiles[0]!.text.replace(/<\/script/g, '<\\/script')}</script>`;
    browser = openBrowser(`${site.origin}/`);
  });

  after(async () => {
    await browser?.stop();
    await svc?.close();
    site?.close();
  });

  const publish = (ns: string, message: unknown) =>
    fetch(`${svc.url}/publish/${ns}/${ROOM}`, { method: 'POST', body: JSON.stringify(message), headers: { 'x-api-key': KEY } }).then((r) => r.json());

  it('each entry gets every message once and in order; the socket.io one across a cut transport', async () => {
    await waitUntil('the three entries ready', () => ['socketio', 'sock', 'sse'].every((e) => reports.some((r) => r.entry === e && r.ready)), 20_000);
    await publish('layout', 'm1');
    await publish('sock', 's1');
    await waitUntil('m1 and s1', () => messages('socketio').length === 1 && messages('sse').length === 1 && messages('sock').length === 1);

    // Cut the browser's socket.io connection; publish while it is away.
    const { members } = (await (await fetch(`${svc.url}/rooms/layout/${ROOM}/presence`, { headers: { 'x-api-key': KEY } })).json()) as { members: Array<{ id: string; protocol: string }> };
    const { gone } = dropTransport(svc, '/layout', members.find((m) => m.protocol === 'socketio')!.id);
    await gone;
    await publish('layout', 'm2');
    await publish('layout', 'm3');
    await publish('sock', 's2');
    await waitUntil('everything', () => messages('socketio').length >= 3 && messages('sse').length >= 3 && messages('sock').length >= 2, 15_000);
    await publish('layout', 'm4');
    await waitUntil('m4', () => messages('socketio').length >= 4 && messages('sse').length >= 4);
    expect(messages('socketio')).to.deep.equal(['m1', 'm2', 'm3', 'm4']);
    expect(messages('sse')).to.deep.equal(['m1', 'm2', 'm3', 'm4']);
    expect(messages('sock')).to.deep.equal(['s1', 's2']);
    expect(reports.filter((r) => r.error !== undefined || r.reset !== undefined)).to.deep.equal([]);
  });
});
