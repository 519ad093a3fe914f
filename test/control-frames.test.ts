/**
 * Control frames cost bounded work (lib/abuse/control-frames.ts): WebSocket pings and pongs and
 * Engine.IO's non-message packets count against CONTROL_FRAME_LIMIT per connection; past it the
 * connection is closed with 1008 RATE_LIMITED, on every kind of connection the service serves
 * (Engine.IO v4 WebSocket sessions, Engine.IO's own socket on WebSocket and long-polling, /sock),
 * while a few are answered as before and the server's own heartbeat is never counted.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { closeAll, connect, request, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';
import { closeSockets, openSock } from './helpers/sock.js';
import { scrape } from './helpers/metrics.js';
import { CONTROL_FRAME_LIMIT, countControlFrame } from '../lib/abuse/control-frames.js';

/** Opens a raw Engine.IO WebSocket; resolves once the open packet came. */
function openEngine(url: string, eio: 3 | 4): Promise<{ ws: WebSocket; texts: string[]; pongs: number[] }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=${eio}&transport=websocket`);
  const texts: string[] = [];
  const pongs: number[] = [0];
  ws.on('pong', () => pongs[0]!++);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      texts.push(String(data));
      if (texts.length === 1) resolve({ ws, texts, pongs });
    });
  });
}

const closed = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));

/** Resolves once `ws` has received `n` WebSocket pongs. */
function pongsArrived(ws: WebSocket, pongs: number[], n: number): Promise<void> {
  return new Promise((resolve) => {
    if (pongs[0]! >= n) return resolve();
    const on = (): void => {
      if (pongs[0]! < n) return;
      ws.off('pong', on);
      resolve();
    };
    ws.on('pong', on);
  });
}

/** Resolves with the next text frame `ws` receives that `match` accepts. */
function textFrame(ws: WebSocket, match: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const on = (data: WebSocket.RawData): void => {
      if (!match(String(data))) return;
      ws.off('message', on);
      resolve(String(data));
    };
    ws.on('message', on);
  });
}

const controlLimited = async (url: string): Promise<number> => (await scrape(url)).value('notify_rate_limited_total', { limit: 'control' });

describe('control frames: the budget', () => {
  it(`allows ${CONTROL_FRAME_LIMIT} per window, then says over once, then closing`, () => {
    const owner = {};
    for (let i = 0; i < CONTROL_FRAME_LIMIT; i++) expect(countControlFrame(owner)).to.equal('ok');
    expect(countControlFrame(owner)).to.equal('over');
    expect(countControlFrame(owner)).to.equal('closing');
    // Each connection has its own.
    expect(countControlFrame({})).to.equal('ok');
  });
});

describe('control frames: Engine.IO and socket.io connections', () => {
  const svc = serviceForSuite();
  let bystander: TestClient;
  const sockets: WebSocket[] = [];
  beforeEach(async () => {
    bystander = await connect('v4', svc.url, '/layout');
    await request(bystander, 'JOIN', { room: 'bystanders', name: 'bystander' });
  });
  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.terminate();
  });
  after(closeAll);

  const open = async (eio: 3 | 4): Promise<{ ws: WebSocket; texts: string[]; pongs: number[] }> => {
    const engine = await openEngine(svc.url, eio);
    sockets.push(engine.ws);
    return engine;
  };

  it('a v4 WebSocket session answers a few WebSocket pings and stays usable', async () => {
    const { ws, pongs } = await open(4);
    for (let i = 0; i < 10; i++) ws.ping();
    await pongsArrived(ws, pongs, 10);
    ws.send('40/layout,');
    expect(await textFrame(ws, (t) => t.startsWith('40/layout,'))).to.match(/^40\/layout,\{"sid":/);
    expect(ws.readyState).to.equal(WebSocket.OPEN);
  });

  it('a v4 WebSocket session flooded with WebSocket pings is closed with 1008 RATE_LIMITED; the bystander is unaffected', async () => {
    const before = await controlLimited(svc.url);
    const { ws, pongs } = await open(4);
    const done = closed(ws);
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.ping();
    expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
    // ws answers a ping before its listeners hear of it: at most one past the limit.
    expect(pongs[0]).to.be.at.most(CONTROL_FRAME_LIMIT + 1);
    expect((await request(bystander, 'CLIENTS', { room: 'bystanders' })).ok).to.equal(true);
    expect(await controlLimited(svc.url)).to.equal(before + 1);
  });

  for (const [name, packet] of [['noop', '6'], ['unsolicited PONG', '3'], ['upgrade', '5']] as const) {
    it(`a v4 WebSocket session flooded with Engine.IO ${name} packets is closed with 1008 RATE_LIMITED`, async () => {
      const { ws } = await open(4);
      const done = closed(ws);
      for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.send(packet);
      expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
      expect((await request(bystander, 'CLIENTS', { room: 'bystanders' })).ok).to.equal(true);
    });
  }

  it('the PONG that answers the server\'s PING is not counted: more heartbeats than the limit keep a session open', async () => {
    const opts = (svc.service.io.engine as unknown as { opts: { pingInterval: number } }).opts;
    const saved = opts.pingInterval;
    opts.pingInterval = 5;
    try {
      const { ws } = await open(4);
      let pings = 0;
      const enough = new Promise<void>((resolve) =>
        ws.on('message', (data) => {
          if (String(data) !== '2') return;
          ws.send('3');
          if (++pings === 2 * CONTROL_FRAME_LIMIT) resolve();
        }),
      );
      await enough;
      ws.send('40/layout,');
      expect(await textFrame(ws, (t) => t.startsWith('40/layout,'))).to.match(/^40\/layout,\{"sid":/);
      expect(ws.readyState).to.equal(WebSocket.OPEN);
    } finally {
      opts.pingInterval = saved;
    }
  });

  it('nor on long-polling: more heartbeats than the limit keep a polling v4 client connected', async () => {
    const engine = svc.service.io.engine as unknown as { opts: { pingInterval: number }; clients: Record<string, { on(e: 'heartbeat', fn: () => void): void }> };
    const saved = engine.opts.pingInterval;
    engine.opts.pingInterval = 5;
    try {
      const client = await connect('v4', svc.url, '/layout', { transport: 'polling' });
      const conn = engine.clients[client.raw.io.engine.id as string]!;
      let beats = 0;
      await new Promise<void>((resolve) => conn.on('heartbeat', () => ++beats === 2 * CONTROL_FRAME_LIMIT && resolve()));
      expect(client.raw.connected).to.equal(true);
      expect((await request(client, 'JOIN', { room: 'polling', name: 'p' })).ok).to.equal(true);
    } finally {
      engine.opts.pingInterval = saved;
    }
  });

  it('an Engine.IO v3 WebSocket answers a few PINGs and is closed with 1008 RATE_LIMITED when flooded with them', async () => {
    const { ws, texts } = await open(3);
    ws.send('2');
    expect(await textFrame(ws, (t) => t === '3')).to.equal('3');
    const done = closed(ws);
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.send('2');
    expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
    // No more PONGs than the limit (the first PING above included).
    expect(texts.filter((t) => t === '3').length).to.be.at.most(CONTROL_FRAME_LIMIT);
  });

  it('an Engine.IO v3 WebSocket flooded with WebSocket pings is closed with 1008 RATE_LIMITED', async () => {
    const { ws, pongs } = await open(3);
    const done = closed(ws);
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.ping();
    expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
    expect(pongs[0]).to.be.at.most(CONTROL_FRAME_LIMIT + 1);
  });

  it('a socket.io client that upgraded from long-polling is closed when it floods WebSocket pings', async () => {
    const client = await connect('v4', svc.url, '/layout', { transport: 'polling', extra: { transports: ['polling', 'websocket'], upgrade: true } });
    const engine = client.raw.io.engine as unknown as { transport: { name: string; ws?: WebSocket }; once(e: 'upgrade', fn: () => void): void };
    if (engine.transport.name !== 'websocket') await new Promise<void>((resolve) => engine.once('upgrade', resolve));
    const ws = engine.transport.ws!;
    const gone = new Promise<string>((resolve) => client.raw.once('disconnect', (reason: string) => resolve(reason)));
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.ping();
    expect(await gone).to.equal('transport close');
    expect((await request(bystander, 'CLIENTS', { room: 'bystanders' })).ok).to.equal(true);
  });

  /** A long-polling session's id, and a WebSocket opened to upgrade it (the upgrade not done). */
  const upgradeSocket = async (): Promise<{ ws: WebSocket; texts: string[]; pongs: number[] }> => {
    const handshake = await (await fetch(`${svc.url}/socket.io/?EIO=4&transport=polling`)).text();
    const sid = (JSON.parse(handshake.slice(1)) as { sid: string }).sid;
    const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    sockets.push(ws);
    const texts: string[] = [];
    const pongs = [0];
    ws.on('message', (data) => texts.push(String(data)));
    ws.on('pong', () => pongs[0]!++);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return { ws, texts, pongs };
  };

  it('an upgrade flooded with probe PINGs is closed with 1008 RATE_LIMITED, each answered until then', async () => {
    const { ws, texts } = await upgradeSocket();
    const done = closed(ws);
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.send('2probe');
    expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
    // engine.io answers a probe before it tells of it: at most one past the limit.
    expect(texts.filter((t) => t === '3probe').length).to.be.within(1, CONTROL_FRAME_LIMIT + 1);
  });

  it('an upgrade\'s WebSocket flooded with WebSocket pings before the upgrade is closed with 1008 RATE_LIMITED', async () => {
    const { ws, pongs } = await upgradeSocket();
    const done = closed(ws);
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) ws.ping();
    expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
    expect(pongs[0]).to.be.at.most(CONTROL_FRAME_LIMIT + 1);
  });

  it('a long-polling connection that posts a flood of noops is closed', async () => {
    const base = `${svc.url}/socket.io/?EIO=4&transport=polling`;
    const handshake = await (await fetch(base)).text();
    const sid = (JSON.parse(handshake.slice(1)) as { sid: string }).sid;
    const engine = svc.service.io.engine as unknown as { clients: Record<string, { once(e: 'close', fn: (reason: string) => void): void }> };
    const conn = engine.clients[sid]!;
    const reason = new Promise<string>((resolve) => conn.once('close', resolve));
    const payload = Array.from({ length: 2 * CONTROL_FRAME_LIMIT }, () => '6').join('\x1e');
    const posted = await fetch(`${base}&sid=${sid}`, { method: 'POST', body: payload, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect(posted.status).to.equal(200);
    // Its next poll ends with Engine.IO's close packet.
    const poll = await (await fetch(`${base}&sid=${sid}`)).text();
    expect(poll.split('\x1e').at(-1)).to.equal('1');
    expect(await reason).to.be.a('string');
    expect(engine.clients[sid]).to.equal(undefined);
  });
});

describe('control frames: /sock', () => {
  const svc = serviceForSuite();
  afterEach(closeSockets);

  it('answers a few pings and closes a ping flood with 1008 RATE_LIMITED', async () => {
    const before = await controlLimited(svc.url);
    const calm = await openSock(svc.url);
    const calmPongs = [0];
    calm.ws.on('pong', () => calmPongs[0]!++);
    for (let i = 0; i < 10; i++) calm.ws.ping();
    await pongsArrived(calm.ws, calmPongs, 10);

    const flood = await openSock(svc.url);
    const done = closed(flood.ws);
    for (let i = 0; i < 5 * CONTROL_FRAME_LIMIT; i++) flood.ws.ping();
    expect(await done).to.deep.equal({ code: 1008, reason: 'RATE_LIMITED' });
    expect(await controlLimited(svc.url)).to.equal(before + 1);
    expect(calm.ws.readyState).to.equal(WebSocket.OPEN);
  });
});

describe('control frames: /sock heartbeats', () => {
  const svc = serviceForSuite({}, { wsPingIntervalMs: 10 });
  afterEach(closeSockets);

  it('the pong that answers the server\'s ping is not counted: more pings than the limit keep a connection open', async () => {
    const client = await openSock(svc.url);
    let pings = 0;
    await new Promise<void>((resolve) => client.ws.on('ping', () => ++pings === 2 * CONTROL_FRAME_LIMIT && resolve()));
    expect(client.ws.readyState).to.equal(WebSocket.OPEN);
    client.send({ action: 'subscribe', topic: 'beats' });
    expect((await client.next('subscribe-topic')).action).to.equal('subscribe-topic');
  });
});
