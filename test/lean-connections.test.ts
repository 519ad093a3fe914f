import { IncomingMessage, ServerResponse } from 'node:http';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import type { AppSocket } from '../lib/core/app-socket.js';
import { hasCompactListeners, isLeanSocket, isSharedHeaderValue, NO_AUTH, noteCompactedTables } from '../lib/transport/index.js';
import { closeAll, connect, request, TRANSPORTS, VERSIONS, type ConnectOptions } from './helpers/clients.js';
import { startService, type Running } from './helpers/service.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lean connections: the opening HTTP request is released', () => {
  let svc: Running;
  /** every WebSocket upgrade request the engine saw, weakly */
  let upgrades: WeakRef<IncomingMessage>[] = [];
  /** the WebSocketResponse engine.io made for each of them, weakly */
  let responses: WeakRef<object>[] = [];
  before(async () => {
    noteCompactedTables();
    svc = await startService();
    // Runs after the service's own middleware.
    (svc.service.io.engine as unknown as { use(fn: (req: IncomingMessage, res: unknown, next: () => void) => void): void }).use((req, res, next) => {
      if (!(res instanceof ServerResponse)) {
        upgrades.push(new WeakRef(req));
        responses.push(new WeakRef(res as object));
      }
      next();
    });
  });
  after(() => svc.close());
  afterEach(() => {
    closeAll();
    upgrades = [];
    responses = [];
  });

  const serverSocket = (tag: string): AppSocket => {
    const found = [...svc.service.io.of('/layout').sockets.values()].find((s) => s.handshake.query.tag === tag);
    expect(found, `server socket tagged ${tag}`).to.not.equal(undefined);
    return found!;
  };

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: socket.handshake is complete, socket.request keeps only what it needs`, async () => {
        const tag = `${version}-${transport}`;
        const client = await connect(version, svc.url, '/layout', { transport, query: { tag } });
        const socket = serverSocket(tag);
        expect(socket.handshake.headers.host).to.equal(`127.0.0.1:${svc.port}`);
        expect(socket.handshake.url).to.include(`tag=${tag}`);
        expect(socket.handshake.secure).to.equal(false);
        expect(socket.handshake.address).to.be.a('string').and.not.empty;
        expect(socket.request).to.not.be.instanceOf(IncomingMessage);
        expect(socket.request.headers).to.equal(socket.handshake.headers);
        expect(await request(client, 'JOIN', { room: 'lean', name: tag })).to.include({ ok: true });
      });
    }
  }

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: no acks Map, handshake.time read from issued, a shared empty auth, one decoder listener`, async () => {
        const tag = `lean-${version}-${transport}`;
        await connect(version, svc.url, '/layout', { transport, query: { tag } });
        const socket = serverSocket(tag);
        expect(isLeanSocket(socket), 'lean socket (no own acks Map, lean handshake)').to.equal(true);
        expect(socket.handshake.time).to.equal(new Date(socket.handshake.issued).toString());
        expect(JSON.parse(JSON.stringify(socket.handshake))).to.include({ time: socket.handshake.time, url: socket.handshake.url });
        // Engine.IO v3 clients' auth is the namespace's query (socket.io's rule); v4 clients send none here.
        if (version === 'v4') {
          expect(socket.handshake.auth).to.equal(NO_AUTH);
          expect(Object.isFrozen(socket.handshake.auth)).to.equal(true);
        } else {
          expect(socket.handshake.auth).to.deep.equal({ tag });
        }
        const decoder = (socket.client as unknown as { decoder: { opts: object; _callbacks: Record<string, unknown[]> } }).decoder;
        expect(Object.isFrozen(decoder.opts), 'shared decoder options').to.equal(true);
        expect(decoder._callbacks.$decoded).to.have.length(1);
        // Listener tables in fast-mode objects, on every emitter of the connection.
        expect(hasCompactListeners(socket), 'socket.io Socket').to.equal(true);
        expect(hasCompactListeners(socket.conn), 'Engine.IO socket').to.equal(true);
        expect(hasCompactListeners(socket.conn.transport), 'Engine.IO transport').to.equal(true);
        // The polling cap's flush only on connections that poll.
        expect(Object.prototype.hasOwnProperty.call(socket.conn, 'flush')).to.equal(transport === 'polling');
        if (transport === 'websocket') {
          const ws = (socket.conn.transport as unknown as { socket: NodeJS.EventEmitter & { _receiver: unknown; _socket: unknown } }).socket;
          expect(ws.listeners('error').map((fn) => fn.name)).to.not.include('onUpgradeError');
          expect([ws, ws._receiver, ws._socket].map(hasCompactListeners), 'ws WebSocket, Receiver, TCP socket').to.deep.equal([true, true, true]);
        }
      });
    }
  }

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: header values shared between connections (none of the secret ones), the headers unchanged`, async () => {
        const tags = [`share-a-${version}-${transport}`, `share-b-${version}-${transport}`];
        const extraHeaders = { 'user-agent': 'lean-test/1.0', authorization: 'Bearer not-shared', 'x-custom': 'mine' };
        for (const tag of tags) await connect(version, svc.url, '/layout', { transport, query: { tag }, extra: { extraHeaders } });
        for (const tag of tags) {
          const headers = serverSocket(tag).handshake.headers;
          expect(headers).to.include({ host: `127.0.0.1:${svc.port}`, 'user-agent': 'lean-test/1.0', authorization: 'Bearer not-shared', 'x-custom': 'mine' });
          expect(isSharedHeaderValue(headers.host!), 'host shared').to.equal(true);
          expect(isSharedHeaderValue(headers['user-agent']!), 'user-agent shared').to.equal(true);
          expect(isSharedHeaderValue(headers.authorization!), 'authorization never shared').to.equal(false);
          expect(isSharedHeaderValue('mine'), 'other headers not shared').to.equal(false);
        }
      });
    }
  }

  it('v4 with an auth payload keeps it; a server emit with an ack still gets its answer', async () => {
    const client = await connect('v4', svc.url, '/layout', { query: { tag: 'auth' }, extra: { auth: { pid: 'x', extra: 1 } } });
    const socket = serverSocket('auth');
    expect(socket.handshake.auth).to.deep.equal({ pid: 'x', extra: 1 });
    client.on('ASK', (n: number, answer: (v: number) => void) => answer(n + 1));
    const loose = socket as unknown as { emit(event: string, ...args: unknown[]): boolean; timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> } };
    const answer = await new Promise((resolve) => loose.emit('ASK', 41, resolve));
    expect(answer).to.equal(42);
    expect(await loose.timeout(2000).emitWithAck('ASK', 1)).to.equal(2);
    expect(isLeanSocket(socket)).to.equal(true);
  });

  const released = async (count: number): Promise<void> => {
    expect(upgrades).to.have.length(count);
    for (let i = 0; i < 10 && upgrades.some((r) => r.deref() !== undefined); i++) {
      await sleep(20);
      gc();
    }
    expect(upgrades.filter((r) => r.deref() !== undefined), 'upgrade requests still alive').to.have.length(0);
    expect(responses.filter((r) => r.deref() !== undefined), 'WebSocketResponses still alive (the close forwarding on the TCP socket)').to.have.length(0);
  };

  for (const version of VERSIONS) {
    it(`${version} over websocket: the upgrade request can be collected while the connection lives`, async () => {
      const client = await connect(version, svc.url, '/layout', { query: { tag: `gc-${version}` } });
      await released(1);
      expect(await request(client, 'JOIN', { room: 'lean', name: 'x' })).to.include({ ok: true });
    });
  }

  it('v4 polling upgraded to websocket: the upgrade request can be collected too', async () => {
    const extra: ConnectOptions['extra'] = { transports: ['polling', 'websocket'], upgrade: true };
    const client = await connect('v4', svc.url, '/layout', { query: { tag: 'upgrade' }, extra });
    const socket = serverSocket('upgrade');
    for (let i = 0; i < 100 && socket.conn.transport.name !== 'websocket'; i++) await sleep(20);
    expect(socket.conn.transport.name).to.equal('websocket');
    await released(1);
    expect(await request(client, 'JOIN', { room: 'lean', name: 'x' })).to.include({ ok: true });
  });
});
