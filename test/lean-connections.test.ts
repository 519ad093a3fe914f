import { IncomingMessage, ServerResponse } from 'node:http';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import type { AppSocket } from '../lib/core/app-socket.js';
import { closeAll, connect, request, TRANSPORTS, VERSIONS, type ConnectOptions } from './helpers/clients.js';
import { startService, type Running } from './helpers/service.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lean connections: the opening HTTP request is released', () => {
  let svc: Running;
  /** every WebSocket upgrade request the engine saw, weakly */
  let upgrades: WeakRef<IncomingMessage>[] = [];
  before(async () => {
    svc = await startService();
    // Runs after the service's own middleware.
    (svc.service.io.engine as unknown as { use(fn: (req: IncomingMessage, res: unknown, next: () => void) => void): void }).use((req, res, next) => {
      if (!(res instanceof ServerResponse)) upgrades.push(new WeakRef(req));
      next();
    });
  });
  after(() => svc.close());
  afterEach(() => {
    closeAll();
    upgrades = [];
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

  const released = async (count: number): Promise<void> => {
    expect(upgrades).to.have.length(count);
    for (let i = 0; i < 10 && upgrades.some((r) => r.deref() !== undefined); i++) {
      await sleep(20);
      gc();
    }
    expect(upgrades.filter((r) => r.deref() !== undefined), 'upgrade requests still alive').to.have.length(0);
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
