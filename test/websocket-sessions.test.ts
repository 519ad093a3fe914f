/**
 * Engine.IO v4 sessions opened on WebSocket, served without Engine.IO's socket
 * (lib/transport/websocket-sessions.ts): which connections take it (a counter fails when they stop),
 * the protocol as a raw WebSocket client sees it, and the session's life as socket.io and the
 * engine see it. The heartbeat on these sessions is tested with every other kind in
 * test/heartbeats.test.ts, the fan-out's direct writes in test/fast-paths.test.ts.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import type { AppSocket } from '../lib/core/app-socket.js';
import { isWebSocketSession, webSocketSessionCount } from '../lib/transport/index.js';
import { closeAll, connect, next, request, type ClientVersion, type TransportName } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

interface Engine {
  clients: Record<string, unknown>;
  clientsCount: number;
  opts: { pingInterval: number; pingTimeout: number; maxHttpBufferSize: number };
}
type Conn = NodeJS.EventEmitter & { id: string; readyState: string; transport: { name: string } };

/** A raw WebSocket on Engine.IO v4's path, with every text frame it receives in order. */
async function rawSession(port: number, query = ''): Promise<{ ws: WebSocket; frames: string[]; frame(n: number): Promise<string>; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket${query}`);
  const frames: string[] = [];
  const waiting: (() => void)[] = [];
  ws.on('message', (data: Buffer) => {
    frames.push(data.toString());
    for (const wake of waiting.splice(0)) wake();
  });
  const closed = new Promise<number>((resolve) => ws.once('close', resolve));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const frame = (n: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame ${n} within 5000 ms; got ${JSON.stringify(frames)}`)), 5000);
      const check = (): void => {
        if (frames.length > n) {
          clearTimeout(timer);
          resolve(frames[n]!);
        } else waiting.push(check);
      };
      check();
    });
  return { ws, frames, frame, closed };
}

describe('Engine.IO v4 WebSocket sessions without Engine.IO\'s socket (websocket-sessions.ts)', () => {
  const svc = serviceForSuite();
  const engine = (): Engine => svc.service.io.engine as unknown as Engine;
  afterEach(() => closeAll());

  const serverSocket = (tag: string): AppSocket => {
    const found = [...svc.service.io.of('/layout').sockets.values()].find((s) => s.handshake.query.tag === tag);
    expect(found, `server socket tagged ${tag}`).to.not.equal(undefined);
    return found!;
  };

  const kinds: { version: ClientVersion; transport: TransportName; session: boolean }[] = [
    { version: 'v4', transport: 'websocket', session: true },
    { version: 'v4', transport: 'polling', session: false },
    { version: 'v2', transport: 'websocket', session: false },
    { version: 'v1', transport: 'websocket', session: false },
  ];
  for (const kind of kinds) {
    it(`socket.io-client ${kind.version} over ${kind.transport}: ${kind.session ? 'a WebSocketSession' : "Engine.IO's socket"}; JOIN, NOTIFY and a server emit work`, async () => {
      const tag = `kind-${kind.version}-${kind.transport}`;
      const opened = webSocketSessionCount();
      const client = await connect(kind.version, svc.url, '/layout', { transport: kind.transport, query: { tag } });
      const socket = serverSocket(tag);
      expect(isWebSocketSession(socket.conn), 'served as a session').to.equal(kind.session);
      expect(webSocketSessionCount() - opened).to.equal(kind.session ? 1 : 0);
      const room = `sessions-${tag}`;
      expect(await request(client, 'JOIN', { room, name: tag })).to.include({ ok: true });
      const other = await connect('v4', svc.url, '/layout');
      const got = next<{ room: string; message: unknown }>(client, 'EVENT');
      expect(await request(other, 'NOTIFY', { room, message: { n: 1 } })).to.include({ ok: true, recipients: 1 });
      expect(await got).to.deep.include({ room, message: { n: 1 } });
      const back = next(client, 'PING-BACK');
      (socket as unknown as { emit(event: string, ...args: unknown[]): boolean }).emit('PING-BACK', { n: 2 });
      expect(await back).to.deep.equal({ n: 2 });
    });
  }

  it('binary packets both ways on a session', async () => {
    const client = await connect('v4', svc.url, '/layout', { query: { tag: 'binary' } });
    const socket = serverSocket('binary');
    expect(isWebSocketSession(socket.conn)).to.equal(true);
    const received = new Promise<Buffer>((resolve) => (socket as unknown as NodeJS.EventEmitter).once('BIN', resolve));
    client.raw.emit('BIN', Buffer.from([1, 2, 3, 250]));
    expect(Buffer.from(await received)).to.deep.equal(Buffer.from([1, 2, 3, 250]));
    const back = next<Buffer>(client, 'BIN-BACK');
    (socket as unknown as { emit(event: string, ...args: unknown[]): boolean }).emit('BIN-BACK', Buffer.from([9, 8, 7]));
    expect(Buffer.from(await back)).to.deep.equal(Buffer.from([9, 8, 7]));
  });

  it('a raw client gets the open packet first, with the engine\'s settings; the session is in `clients` until its WebSocket closes', async () => {
    // (other suites' connections may still be closing: the count is checked against the table)
    const counted = (): void => {
      expect(engine().clientsCount, 'clientsCount').to.equal(Object.keys(engine().clients).length);
    };
    const raw = await rawSession(svc.port);
    const open = await raw.frame(0);
    expect(open[0]).to.equal('0');
    const handshake = JSON.parse(open.slice(1)) as Record<string, unknown>;
    const { pingInterval, pingTimeout, maxHttpBufferSize } = engine().opts;
    expect(handshake).to.deep.equal({ sid: handshake.sid, upgrades: [], pingInterval, pingTimeout, maxPayload: maxHttpBufferSize });
    expect(handshake.sid).to.be.a('string').with.length(20);
    const conn = engine().clients[handshake.sid as string] as Conn;
    expect(isWebSocketSession(conn)).to.equal(true);
    expect(conn.transport.name).to.equal('websocket');
    counted();
    // socket.io's namespace CONNECT goes through as a MESSAGE packet.
    raw.ws.send('40/layout,');
    expect(await raw.frame(1)).to.match(/^40\/layout,\{"sid":"/);
    const closed = new Promise<string>((resolve) => conn.once('close', resolve));
    raw.ws.close();
    expect(await closed).to.equal('transport close');
    expect(engine().clients[handshake.sid as string]).to.equal(undefined);
    counted();
  });

  const closedFor = async (frame: string | Buffer): Promise<string> => {
    const raw = await rawSession(svc.port);
    const sid = (JSON.parse((await raw.frame(0)).slice(1)) as { sid: string }).sid;
    const conn = engine().clients[sid] as Conn;
    const reason = new Promise<string>((resolve) => conn.once('close', resolve));
    raw.ws.send(frame);
    const why = await reason;
    await raw.closed;
    expect(engine().clients[sid]).to.equal(undefined);
    return why;
  };

  it('a second WebSocket that asks to upgrade a session (its sid) is closed; the session and the server go on', async () => {
    const raw = await rawSession(svc.port);
    const sid = (JSON.parse((await raw.frame(0)).slice(1)) as { sid: string }).sid;
    // engine.io hands such a WebSocket to the session's _maybeUpgrade(); without one its call threw
    // in the upgrade callback and took the process down.
    const second = await rawSession(svc.port, `&sid=${sid}`);
    second.ws.send('2probe');
    expect(await second.closed).to.be.a('number');
    expect(second.frames).to.deep.equal([]);
    raw.ws.send('40/layout,');
    expect(await raw.frame(1)).to.match(/^40\/layout,\{"sid":/);
    expect((engine().clients[sid] as Conn).readyState).to.equal('open');
  });

  it('an HTTP request with a session\'s sid and transport=websocket is answered 400; the session and the server go on', async () => {
    const raw = await rawSession(svc.port);
    const sid = (JSON.parse((await raw.frame(0)).slice(1)) as { sid: string }).sid;
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${svc.url}/socket.io/?EIO=4&transport=websocket&sid=${sid}`, { method, ...(method === 'POST' ? { body: '4x' } : {}) });
      expect(res.status, method).to.equal(400);
      expect(await res.json()).to.deep.equal({ code: 3, message: 'Bad request' });
    }
    raw.ws.send('40/layout,');
    expect(await raw.frame(1)).to.match(/^40\/layout,\{"sid":/);
  });

  it('a PING from the client closes the session ("transport error": in v4 the server pings)', async () => {
    expect(await closedFor('2')).to.equal('transport error');
  });

  it('a frame that is no Engine.IO packet closes the session ("parse error")', async () => {
    expect(await closedFor('x')).to.equal('parse error');
    expect(await closedFor('')).to.equal('parse error');
  });

  it('NOOP, UPGRADE, CLOSE and OPEN packets from the client are ignored, as Engine.IO\'s socket ignores them', async () => {
    const raw = await rawSession(svc.port);
    const sid = (JSON.parse((await raw.frame(0)).slice(1)) as { sid: string }).sid;
    for (const frame of ['6', '5', '1', '0']) raw.ws.send(frame);
    raw.ws.send('40/layout,');
    expect(await raw.frame(1)).to.match(/^40\/layout,\{"sid":"/);
    expect((engine().clients[sid] as Conn).readyState).to.equal('open');
    raw.ws.close();
  });

  it("emits Engine.IO's 'packet' and 'packetCreate' events to whoever listens", async () => {
    const raw = await rawSession(svc.port);
    const sid = (JSON.parse((await raw.frame(0)).slice(1)) as { sid: string }).sid;
    const conn = engine().clients[sid] as Conn;
    const packets: unknown[] = [];
    const created: unknown[] = [];
    conn.on('packet', (p) => packets.push(p));
    conn.on('packetCreate', (p: { type: string; data?: unknown }) => created.push({ type: p.type, data: p.data }));
    raw.ws.send('40/layout,');
    await raw.frame(1);
    raw.ws.send('6');
    raw.ws.send('42/layout,0["JOIN",{"room":"packets","name":"p"}]');
    expect(await raw.frame(2)).to.match(/^43\/layout,0\[\{"ok":true/);
    expect(packets).to.deep.equal([
      { type: 'message', data: '0/layout,' },
      { type: 'noop' },
      { type: 'message', data: '2/layout,0["JOIN",{"room":"packets","name":"p"}]' },
    ]);
    // A write through the session (what socket.io's Client does when the direct path does not apply).
    (conn as unknown as { write(data: string): void }).write('2/layout,["HELLO"]');
    expect(await raw.frame(3)).to.equal('42/layout,["HELLO"]');
    // socket.io's CONNECT reply went the same way (the direct path is set up once the namespace has the socket).
    expect(created).to.have.length(2);
    expect(created[0]).to.have.property('data').that.matches(/^0\/layout,\{"sid":"/);
    expect(created[1]).to.deep.equal({ type: 'message', data: '2/layout,["HELLO"]' });
    raw.ws.close();
  });

  it('a volatile packet is dropped while earlier writes wait, as on Engine.IO\'s transport; sent otherwise', async () => {
    const client = await connect('v4', svc.url, '/layout', { query: { tag: 'volatile' } });
    const socket = serverSocket('volatile');
    const ws = (socket.conn as unknown as { socket: object }).socket;
    const got: unknown[] = [];
    client.raw.on('V', (n: unknown) => got.push(n));
    const emitVolatile = (n: number): void => {
      (socket as unknown as { volatile: { emit(event: string, ...args: unknown[]): boolean } }).volatile.emit('V', n);
    };
    // Writes still queued in ws / the TCP socket.
    Object.defineProperty(ws, 'bufferedAmount', { configurable: true, get: () => 1 });
    emitVolatile(1);
    delete (ws as { bufferedAmount?: number }).bufferedAmount;
    emitVolatile(2);
    const done = next(client, 'DONE');
    (socket as unknown as { emit(event: string, ...args: unknown[]): boolean }).emit('DONE');
    await done;
    expect(got).to.deep.equal([2]);
  });

  it('a server-side close closes the WebSocket; the client sees it', async () => {
    const client = await connect('v4', svc.url, '/layout', { query: { tag: 'kick' } });
    const socket = serverSocket('kick');
    const conn = socket.conn as unknown as Conn;
    const gone = next<string>(client, 'disconnect');
    const closed = new Promise<string>((resolve) => conn.once('close', resolve));
    socket.disconnect(true);
    expect(await closed).to.equal('forced close');
    expect(await gone).to.be.a('string');
    expect(engine().clients[conn.id]).to.equal(undefined);
  });
});
