/**
 * /sock from clients that are not ours: a real browser and a Python program.
 *
 * Headless Chromium loads a page (served by the test, from another
 * origin, allowed by --cors-origin) whose script uses the browser's own WebSocket, as an Awayto
 * client does, beside a `ws` client in the same topic. The page posts what it received back to the
 * test's server. Skipped without Chromium unless REQUIRE_BROWSER=1.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { requirePythonOrSkip } from './helpers/python.js';
import { startService, type Running } from './helpers/service.js';
import { openBrowser, reportingSite, requireBrowserOrSkip, type Browser, type ReportingSite } from './helpers/browser.js';
import { closeSockets, openSock, type SockFrameIn } from './helpers/sock.js';


/** The page: subscribe, publish once subscribed, send a bad frame once its own message came back, report. */
function page(wsUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><script>
const frames = [];
let me;
// One report after the other (concurrent fetches may arrive out of order), each with the frames so far.
let reported = Promise.resolve();
const report = () => {
  const body = JSON.stringify(frames);
  reported = reported.then(() => fetch('/report', { method: 'POST', body })).catch(() => undefined);
};
const ws = new WebSocket(${JSON.stringify(wsUrl)});
ws.onmessage = (event) => {
  const frame = JSON.parse(event.data);
  frames.push(frame);
  if (frame.action === 'connected') {
    me = frame.payload.connectionId;
    ws.send(JSON.stringify({ action: 'subscribe', topic: 'exchange/text:1' }));
  } else if (frame.action === 'subscribe-topic' && frame.sender === me) {
    ws.send(JSON.stringify({ action: 'normal-message', topic: 'exchange/text:1', payload: { message: 'héllo ✓' } }));
  } else if (frame.action === 'normal-message' && frame.sender === me) {
    ws.send('not json');
  } else if (frame.action === 'error') {
    report();
  }
};
ws.onclose = (event) => { frames.push({ action: 'closed', code: event.code }); report(); };
</script>`;
}

describe('/sock from a real browser (headless Chromium)', function () {
  this.timeout(30_000);
  let svc: Running;
  let site: ReportingSite | undefined;
  let origin: string;
  let reported: Promise<SockFrameIn[]>;
  let browser: Browser | undefined;

  before(async function () {
    requireBrowserOrSkip(this);
    let wsUrl = '';
    let resolveReport: (frames: SockFrameIn[]) => void;
    reported = new Promise((resolve) => (resolveReport = resolve));
    site = await reportingSite(
      () => page(wsUrl),
      (frames) => resolveReport(frames as SockFrameIn[]),
    );
    origin = site.origin;
    svc = await startService({ corsOrigin: [origin] });
    wsUrl = `${svc.url.replace('http', 'ws')}/sock?name=browser`;
  });

  after(async () => {
    closeSockets();
    await browser?.stop();
    await svc?.close();
    site?.close();
  });

  it("subscribes, meets the others, gets its own publication with meta, and a bad frame's BAD_REQUEST", async () => {
    const peer = await openSock(svc.url, '/sock?name=peer');
    peer.send({ action: 'subscribe', topic: 'exchange/text:1' });
    await peer.next('subscribe-topic');
    browser = openBrowser(`${origin}/`);
    const frames = await reported;
    const actions = frames.map((f) => f.action);
    expect(actions).to.deep.equal(['connected', 'subscribers-existing', 'existing-subscribers', 'subscribe-topic', 'normal-message', 'error']);
    const me = frames[0]!.payload.connectionId as string;
    expect(frames[2]!.payload).to.deep.equal([{ scid: 'peer', cids: [peer.connectionId], name: 'peer', role: '', online: true }]);
    expect(frames[3]!.payload).to.deep.equal([{ scid: 'browser', cids: [me], name: 'browser', role: '', online: true }]);
    const own = frames[4]!;
    expect(own).to.deep.include({ sender: me, topic: 'exchange/text:1', payload: { message: 'héllo ✓' }, store: false });
    expect(own.meta!.offset).to.equal(1);
    expect(frames[5]!.payload.code).to.equal('BAD_REQUEST');
    // The peer saw the browser arrive and got the same message.
    expect((await peer.next('subscribe-topic')).sender).to.equal(me);
    expect(await peer.next('normal-message')).to.deep.equal(own);
  });
});

describe('/sock from Python (websocket-client)', function () {
  this.timeout(20_000);
  let svc: Running;
  let python: string;
  const script = fileURLToPath(new URL('../../test/python/sock_client.py', import.meta.url));
  before(async function () {
    python = requirePythonOrSkip(this);
    svc = await startService();
  });
  after(async () => {
    closeSockets();
    await svc?.close();
  });

  it('subscribes, meets the others, gets its own publication with meta, and BAD_REQUEST for a bad frame', async () => {
    const peer = await openSock(svc.url, '/sock?name=peer');
    peer.send({ action: 'subscribe', topic: 'py' });
    await peer.next('subscribe-topic');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(python, [script, `${svc.url.replace('http', 'ws')}/sock?name=py`, 'py'], { timeout: 15_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
      ),
    );
    const frames = stdout.trim().split('\n').map((line) => JSON.parse(line) as SockFrameIn);
    expect(frames.map((f) => f.action)).to.deep.equal(['connected', 'subscribers-existing', 'existing-subscribers', 'subscribe-topic', 'py-message', 'error']);
    const me = frames[0]!.payload.connectionId as string;
    expect(frames[2]!.payload[0]).to.include({ scid: 'peer', name: 'peer' });
    expect(frames[4]).to.deep.include({ sender: me, topic: 'py', payload: { text: 'grüße ✓' }, store: false });
    expect(frames[5]!.payload.code).to.equal('BAD_REQUEST');
    expect(await peer.next('py-message')).to.deep.equal(frames[4]);
  });
});
