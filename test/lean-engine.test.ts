import { expect } from 'chai';
import type { AppSocket } from '../lib/core/app-socket.js';
import { isLeanEngineSocket } from '../lib/transport/index.js';
import { closeAll, connect, next, request, TRANSPORTS, VERSIONS, type ClientVersion, type ConnectOptions, type TestClient, type TransportName } from './helpers/clients.js';
import { startService, type Running } from './helpers/service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Emitter = NodeJS.EventEmitter;
interface EngineConn extends Emitter {
  id: string;
  readyState: string;
  transport: Emitter & { name: string; socket?: Emitter };
}
interface Engine extends Emitter {
  clients: Record<string, EngineConn>;
  clientsCount: number;
  opts: { pingInterval: number; pingTimeout: number };
}

/** The kinds of connection: every client version over each transport, and polling upgraded to WebSocket. */
type Kind = { version: ClientVersion; transport: TransportName; upgrade: boolean };
// (socket.io-client 4 over WebSocket alone is served without Engine.IO's socket: test/websocket-sessions.test.ts.)
const KINDS: Kind[] = [
  ...VERSIONS.flatMap((version) => TRANSPORTS.map((transport) => ({ version, transport, upgrade: false }))).filter((k) => !(k.version === 'v4' && k.transport === 'websocket')),
  { version: 'v2', transport: 'polling', upgrade: true },
  { version: 'v4', transport: 'polling', upgrade: true },
];
const label = (k: Kind): string => `${k.version} over ${k.upgrade ? 'polling upgraded to websocket' : k.transport}`;

/** Stops a client's heartbeat (pings of Engine.IO v3 clients, pongs of v4) without closing it, and its own ping timeout. */
function silence(client: TestClient): void {
  const engine = client.raw.io.engine as Record<string, unknown>;
  engine.sendPacket = () => {};
  engine._sendPacket = () => {};
  engine.onHeartbeat = () => {};
  engine.resetPingTimeout = () => {};
  // engine.io-client 1.x/3.x re-arms its own ping timeout on every packet through a 'heartbeat' listener.
  (client.raw.io.engine as NodeJS.EventEmitter).removeAllListeners('heartbeat');
  for (const timer of ['pingTimeoutTimer', 'pingIntervalTimer', '_pingTimeoutTimer']) clearTimeout(engine[timer] as NodeJS.Timeout | undefined);
}

describe('lean engine: Engine.IO sockets and transports wired with shared listeners', () => {
  let svc: Running;
  let engine: Engine;
  let heartbeat: { pingInterval: number; pingTimeout: number };
  before(async () => {
    svc = await startService();
    engine = svc.service.io.engine as unknown as Engine;
    heartbeat = { pingInterval: engine.opts.pingInterval, pingTimeout: engine.opts.pingTimeout };
  });
  after(() => svc.close());
  afterEach(() => {
    closeAll();
    Object.assign(engine.opts, heartbeat);
  });

  const serverSocket = (tag: string): AppSocket => {
    const found = [...svc.service.io.of('/layout').sockets.values()].find((s) => s.handshake.query.tag === tag);
    expect(found, `server socket tagged ${tag}`).to.not.equal(undefined);
    return found!;
  };

  const open = async (kind: Kind, tag: string): Promise<{ client: TestClient; socket: AppSocket; conn: EngineConn }> => {
    const extra: ConnectOptions['extra'] = kind.upgrade ? { transports: ['polling', 'websocket'], upgrade: true } : undefined;
    const client = await connect(kind.version, svc.url, '/layout', { transport: kind.transport, query: { tag }, extra });
    const socket = serverSocket(tag);
    const conn = socket.conn as unknown as EngineConn;
    if (kind.upgrade) {
      for (let i = 0; i < 200 && conn.transport.name !== 'websocket'; i++) await sleep(10);
      expect(conn.transport.name, 'upgraded').to.equal('websocket');
    }
    expect(await request(client, 'JOIN', { room: `lean-engine-${tag}`, name: tag })).to.include({ ok: true });
    return { client, socket, conn };
  };

  /** The socket's Engine.IO session is forgotten by the server once it closes. */
  const forgotten = async (conn: EngineConn): Promise<void> => {
    for (let i = 0; i < 100 && engine.clients[conn.id] !== undefined; i++) await sleep(10);
    expect(engine.clients[conn.id], 'session forgotten').to.equal(undefined);
    expect(conn.readyState).to.equal('closed');
    // clearTransport() detached the shared listeners from the last transport.
    expect(conn.transport.listeners('packet'), 'transport detached').to.have.length(0);
    expect(conn.transport.listeners('drain')).to.have.length(0);
  };

  for (const kind of KINDS) {
    it(`${label(kind)}: shared listeners, no per-connection closures; messages both ways`, async () => {
      const tag = `wire-${kind.version}-${kind.transport}-${kind.upgrade}`;
      const { client, socket, conn } = await open(kind, tag);
      expect(isLeanEngineSocket(conn), 'lean Engine.IO socket').to.equal(true);
      expect(Object.prototype.hasOwnProperty.call(conn, 'cleanupFn'), 'no own cleanupFn').to.equal(false);
      for (const event of ['error', 'ready', 'packet', 'drain', 'close']) {
        expect(conn.transport.rawListeners(event).map((fn) => fn.name), `transport ${event} listener`).to.include(`onTransport${event[0]!.toUpperCase()}${event.slice(1)}`);
      }
      expect(conn.rawListeners('close')[0]?.name, "the handshake's close listener, first").to.equal('forgetClient');
      const ws = conn.transport.socket;
      if (ws !== undefined) {
        expect(['message', 'close', 'error'].map((e) => ws.rawListeners(e).filter((fn) => fn.name.startsWith('onWs')).length)).to.deep.equal([1, 1, 1]);
      }
      const got = next<unknown>(client, 'PING-BACK');
      (socket as unknown as { emit(event: string, ...args: unknown[]): boolean }).emit('PING-BACK', { n: 1 });
      expect(await got).to.deep.equal({ n: 1 });
    });

    it(`${label(kind)}: a client's close is seen; the session is forgotten`, async () => {
      const tag = `close-${kind.version}-${kind.transport}-${kind.upgrade}`;
      const { client, socket, conn } = await open(kind, tag);
      const before = engine.clientsCount;
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      client.close();
      expect(await gone).to.be.oneOf(['client namespace disconnect', 'transport close']);
      await forgotten(conn);
      expect(engine.clientsCount).to.equal(before - 1);
    });

    it(`${label(kind)}: a lost connection closes with "transport close"`, async () => {
      const tag = `lost-${kind.version}-${kind.transport}-${kind.upgrade}`;
      const { socket, conn } = await open(kind, tag);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      // The transport's own close (as when the TCP connection drops): the shared 'close' listener closes the socket.
      const ws = conn.transport.socket as (Emitter & { terminate(): void }) | undefined;
      if (ws) ws.terminate();
      else (conn.transport as unknown as { onClose(): void }).onClose();
      expect(await gone).to.equal('transport close');
      await forgotten(conn);
    });

    it(`${label(kind)}: a server-side disconnect closes the connection`, async () => {
      const tag = `kick-${kind.version}-${kind.transport}-${kind.upgrade}`;
      const { client, socket, conn } = await open(kind, tag);
      const clientGone = next<string>(client, 'disconnect');
      socket.disconnect(true);
      await clientGone;
      await forgotten(conn);
    });

    if (kind.transport === 'websocket' || kind.upgrade) {
      it(`${label(kind)}: a write through engine.io's send() drains; a failed write closes with "transport error"`, async () => {
        const tag = `write-${kind.version}-${kind.transport}-${kind.upgrade}`;
        const { socket, conn } = await open(kind, tag);
        const transport = conn.transport as unknown as Emitter & { writable: boolean; socket: Emitter & { send: (data: unknown, cb: (err?: Error) => void) => void } };
        const drained = new Promise((resolve) => transport.once('drain', resolve));
        (conn as unknown as { sendPacket(type: string): void }).sendPacket('noop');
        await drained;
        expect(transport.writable).to.equal(true);
        // The next write fails in ws: engine.io's send callback reports it and the connection closes.
        transport.socket.send = (_data, cb) => process.nextTick(cb, new Error('write failed'));
        const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
        (conn as unknown as { sendPacket(type: string): void }).sendPacket('noop');
        expect(await gone).to.equal('transport error');
        await forgotten(conn);
      });
    }

    it(`${label(kind)}: a silent client times out ("ping timeout")`, async () => {
      const tag = `timeout-${kind.version}-${kind.transport}-${kind.upgrade}`;
      // Read by the handshake and at every ping (v4) / ping timeout (v3).
      engine.opts.pingInterval = 150;
      engine.opts.pingTimeout = 150;
      const { client, socket, conn } = await open(kind, tag);
      const reason = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      if (kind.upgrade && kind.version !== 'v4') {
        // Engine.IO v3 after an upgrade: engine.io 6.6 clears the server's ping timeout in clearTransport()
        // and a client ping only refreshes an armed one, so the server never times out (the same without
        // lib/transport/lean-engine.ts). The client's own timeout ends a connection whose pings go unanswered.
        (client.raw.io.engine as Record<string, unknown>).sendPacket = () => {};
        expect(await reason).to.equal('transport close');
      } else {
        silence(client);
        expect(await reason).to.equal('ping timeout');
      }
      await forgotten(conn);
    });
  }

  it('polling: the transport\'s headers still reach the server\'s "headers" event (shared listener after the handshake)', async () => {
    const seen: { sid: string | undefined }[] = [];
    const onHeaders = (_headers: unknown, req: { _query: { sid?: string } }) => seen.push({ sid: req._query.sid });
    engine.on('headers', onHeaders);
    try {
      const { client, conn } = await open({ version: 'v4', transport: 'polling', upgrade: false }, 'headers');
      expect(conn.transport.rawListeners('headers').map((fn) => fn.name)).to.deep.equal(['onTransportHeaders']);
      const before = seen.filter((s) => s.sid === conn.id).length;
      expect(await request(client, 'JOIN', { room: 'headers-2', name: 'h' })).to.include({ ok: true });
      expect(seen.filter((s) => s.sid === conn.id).length, 'headers of later polls').to.be.greaterThan(before);
      expect(seen.some((s) => s.sid === undefined), 'the initial request').to.equal(true);
    } finally {
      engine.off('headers', onHeaders);
    }
  });
});
