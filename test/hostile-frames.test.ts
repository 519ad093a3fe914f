/**
 * Hostile frames cost bounded work: nesting is limited (--max-depth) by a scan before anything is
 * parsed, for JSON-string payloads (INVALID_PAYLOAD) and for socket.io packets of every client
 * version and transport (the connection is closed); before authentication only small frames are
 * read (--preauth-max-frame); Engine.IO versions other than 3 and 4 are refused.
 */
import { expect } from 'chai';
import http from 'node:http';
import WebSocket from 'ws';
import { closeAll, connect, next, request, TRANSPORTS, VERSIONS, type TestClient } from './helpers/clients.js';
import { ALL_ROOMS, hsToken, secretAuth, withToken } from './helpers/auth.js';
import { serviceForSuite, type Running } from './helpers/service.js';
import { jsonStart } from '../lib/transport/index.js';
import { exceedsDepth } from '../lib/abuse/json-depth.js';

/** `{"room":"r","message":[[…]]}` nested `depth` levels in all (the object is one). */
const nestedPayload = (depth: number): string => `{"room":"deep","message":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
/** Two million levels: 4 MB, within the default --max-payload. */
const HOSTILE = `${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}`;

/** A bystander's ack round trip, in ms. */
async function roundTrip(client: TestClient): Promise<number> {
  const start = performance.now();
  const reply = await request(client, 'CLIENTS', { room: 'bystanders' });
  expect(reply.ok).to.equal(true);
  return performance.now() - start;
}

/** Resolves when an Engine.IO client connection closes. */
const engineClosed = (client: TestClient): Promise<void> =>
  new Promise((resolve) => {
    client.raw.io.engine.once('close', () => resolve());
  });

/** HTTP GET; resolves with status and body. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(0) : reject(err)));
    req.end(body);
  });
}

/** Opens a raw WebSocket and resolves once Engine.IO's open packet came. */
function openRawWebSocket(url: string, eio: 3 | 4): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=${eio}&transport=websocket`);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('message', () => resolve(ws));
  });
}

const closeCode = (ws: WebSocket): Promise<number> => new Promise((resolve) => ws.once('close', (code) => resolve(code)));

describe('hostile frames: nesting depth', () => {
  const svc = serviceForSuite();
  let bystander: TestClient;
  beforeEach(async () => {
    bystander = await connect('v4', svc.url, '/layout');
    await request(bystander, 'JOIN', { room: 'bystanders', name: 'bystander' });
  });

  it('a JSON-string payload 64 levels deep passes, 65 is refused with INVALID_PAYLOAD (ack and ERROR)', async () => {
    const a = await connect('v4', svc.url, '/layout');
    expect(await request(a, 'NOTIFY', nestedPayload(64))).to.include({ ok: true });
    const refused = await request(a, 'NOTIFY', nestedPayload(65));
    expect(refused.ok).to.equal(false);
    expect(refused.error.code).to.equal('INVALID_PAYLOAD');
    expect(refused.error.message).to.include('64');
    const error = next(a, 'ERROR');
    a.emit('NOTIFY', nestedPayload(65));
    expect(await error).to.include({ code: 'INVALID_PAYLOAD', event: 'NOTIFY' });
    // The same as an object (the packet's argument list is not counted), and a 2-million-deep string.
    expect(await request(a, 'NOTIFY', JSON.parse(nestedPayload(64)))).to.include({ ok: true });
    expect((await request(a, 'NOTIFY', `{"room":"deep","message":${HOSTILE}}`)).error.code).to.equal('INVALID_PAYLOAD');
    expect(await roundTrip(bystander)).to.be.lessThan(500);
  });

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: a 2-million-deep packet closes only that connection, before it is parsed`, async () => {
        const attacker = await connect(version, svc.url, '/layout', { transport });
        const closed = engineClosed(attacker);
        attacker.raw.io.engine.write(`2/layout,["NOTIFY",${HOSTILE}]`);
        await closed;
        // The service answers others at once: the frame cost a scan, not a 2-second parse.
        expect(await roundTrip(bystander)).to.be.lessThan(500);
      });
    }
  }

  it('the JSON part of a binary packet is bounded too (no bypass through attachments)', async () => {
    const attacker = await connect('v4', svc.url, '/layout');
    const closed = engineClosed(attacker);
    attacker.raw.io.engine.write(`51-/layout,["NOTIFY",${'['.repeat(100)}{"_placeholder":true,"num":0}${']'.repeat(100)}]`);
    await closed;
    expect(await roundTrip(bystander)).to.be.lessThan(500);
  });

  it('the scan starts where socket.io-parser starts parsing: a quote in the namespace hides nothing', () => {
    const deep = `["x",${'['.repeat(100)}${']'.repeat(100)}]`;
    for (const packet of [`2/",${deep}`, `2/"[,12${deep}`, `51-/a",${deep}`, `2${deep}`, `312${deep}`]) {
      expect(exceedsDepth(packet, 65, jsonStart(packet)), packet.slice(0, 12)).to.equal(true);
      expect(jsonStart(packet)).to.equal(packet.indexOf('["x"'));
    }
    // Escapes: `\\"` ends a string, `\"` does not.
    expect(exceedsDepth(String.raw`["a","[[[[\\"]`, 1)).to.equal(false);
    expect(exceedsDepth(String.raw`["\\",[["x"]]]`, 2)).to.equal(true);
    expect(exceedsDepth(String.raw`["\"[[[[["]`, 1)).to.equal(false);
  });
});

describe('hostile frames: before authentication (--auth jwt)', () => {
  const PREAUTH = 64 * 1024;
  const svc: Running = serviceForSuite({ auth: secretAuth() });
  const big = 'x'.repeat(200 * 1024);

  for (const eio of [4, 3] as const) {
    it(`EIO=${eio} WebSocket: a frame over ${PREAUTH} bytes from a connection without a token is cut at its header (1009)`, async () => {
      const ws = await openRawWebSocket(svc.url, eio);
      const code = closeCode(ws);
      ws.send('4' + 'x'.repeat(8 * 1024 * 1024));
      // 1009 is ws's maxPayload close: the frame was refused from its length, not buffered.
      expect(await code).to.equal(1009);
    });
  }

  it('a connection refused for lack of a token cannot send a big CONNECT on its open connection', async () => {
    const ws = await openRawWebSocket(svc.url, 4);
    ws.send('40/layout,');
    const refused = await new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    expect(refused).to.match(/^44\/layout,.*UNAUTHORIZED/);
    const code = closeCode(ws);
    ws.send(`40/layout,${JSON.stringify({ token: big })}`);
    expect(await code).to.equal(1009);
  });

  it('long-polling: a POST over the limit before authentication gets 413 and closes the session', async () => {
    const base = `${svc.url}/socket.io/?EIO=4&transport=polling`;
    const open = await get(base);
    const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
    // A CONNECT with a huge token: refused with connect_error but kept open without the limit.
    expect(await post(`${base}&sid=${sid}`, `40/layout,${JSON.stringify({ token: big })}`)).to.be.oneOf([413, 0]);
    // A closed polling session answers its pending GET with the close packet, then is gone.
    const after = await get(`${base}&sid=${sid}`);
    if (after.status === 200) {
      expect(after.body.split('\x1e')).to.include('1');
      expect((await get(`${base}&sid=${sid}`)).status).to.equal(400);
    } else {
      expect(after.status).to.equal(400);
    }
  });

  for (const version of VERSIONS) {
    it(`${version}: once authenticated, messages up to --max-payload pass`, async () => {
      const token = await hsToken({ sub: 'u-1', rooms: ALL_ROOMS });
      const a = await connect(version, svc.url, '/layout', withToken(version, token));
      expect(await request(a, 'NOTIFY', { room: 'r', message: big })).to.include({ ok: true });
    });
  }

  it('v4 over polling, then upgraded to WebSocket after authentication: big messages pass on both', async () => {
    const token = await hsToken({ sub: 'u-1', rooms: ALL_ROOMS });
    const a = await connect('v4', svc.url, '/layout', { transport: 'polling', extra: { auth: { token } } });
    expect(await request(a, 'NOTIFY', { room: 'r', message: big })).to.include({ ok: true });
    closeAll();
    const b = await connect('v4', svc.url, '/layout', { extra: { transports: ['polling', 'websocket'], upgrade: true, auth: { token } } });
    if (b.raw.io.engine.transport.name !== 'websocket') await new Promise((resolve) => b.raw.io.engine.once('upgrade', resolve));
    expect(await request(b, 'NOTIFY', { room: 'r', message: big })).to.include({ ok: true });
  });
});

describe('hostile frames: Engine.IO protocol versions', () => {
  const svc = serviceForSuite();

  for (const eio of ['2', '99', 'abc', undefined]) {
    const query = eio === undefined ? '' : `EIO=${eio}&`;
    it(`EIO=${eio ?? '(none)'}: HTTP 400 naming the supported versions, on polling and on the WebSocket upgrade`, async () => {
      const polled = await get(`${svc.url}/socket.io/?${query}transport=polling`);
      expect(polled.status).to.equal(400);
      expect(polled.body).to.include('EIO=3 and EIO=4');
      const upgrade = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/socket.io/?${query}transport=websocket`);
        ws.once('open', () => reject(new Error('upgrade accepted')));
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.once('error', () => undefined);
      });
      expect(upgrade.status).to.equal(400);
      expect(upgrade.body).to.include('EIO=3 and EIO=4');
    });
  }

  for (const eio of ['3', '4']) {
    it(`EIO=${eio} is served on polling and WebSocket`, async () => {
      expect((await get(`${svc.url}/socket.io/?EIO=${eio}&transport=polling`)).status).to.equal(200);
      const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/socket.io/?EIO=${eio}&transport=websocket`);
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('message', (data) => resolve(String(data)));
      });
      expect(first.startsWith('0')).to.equal(true);
      ws.close();
    });
  }
});
