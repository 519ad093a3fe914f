/**
 * The WebSocket upgrade's short path (lib/transport/websocket-upgrades.ts): the 101 and Engine.IO's
 * open packet in one write, no CORS middleware on an upgrade, and every failure still answered.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import { heldUpgradeCount, webSocketSessionCount } from '../lib/transport/index.js';
import { connect, request, VERSIONS } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

type Chunk = string | Buffer | Uint8Array;
type WriteFn = (this: net.Socket, ...args: any[]) => unknown;

/** Records every write (one `_write` or `_writev` call: one syscall) of the server's TCP sockets, as text. */
function recordServerWrites(isServerSocket: (socket: net.Socket) => boolean): { writes: Map<net.Socket, string[]>; restore(): void } {
  const proto = net.Socket.prototype as unknown as { _write: WriteFn; _writev: WriteFn };
  const write = proto._write;
  const writev = proto._writev;
  const writes = new Map<net.Socket, string[]>();
  const note = (socket: net.Socket, chunks: Chunk[]): void => {
    if (!isServerSocket(socket)) return;
    const list = writes.get(socket) ?? [];
    list.push(chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('latin1'))).join(''));
    writes.set(socket, list);
  };
  proto._write = function (this: net.Socket, chunk: Chunk, ...rest: unknown[]) {
    note(this, [chunk]);
    return write.call(this, chunk, ...rest);
  };
  proto._writev = function (this: net.Socket, chunks: { chunk: Chunk }[], ...rest: unknown[]) {
    note(this, chunks.map((c) => c.chunk));
    return writev.call(this, chunks, ...rest);
  };
  return {
    writes,
    restore: () => {
      proto._write = write;
      proto._writev = writev;
    },
  };
}

/** The first writes of the server's connection whose first write is a 101. */
function upgradeWrites(writes: Map<net.Socket, string[]>): string[][] {
  return [...writes.values()].filter((list) => list[0]?.startsWith('HTTP/1.1 101'));
}

/** Sends a raw HTTP upgrade request and reads everything until the server closes or `until` matches. */
function rawUpgrade(port: number, path: string, headers: Record<string, string> = {}, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to the upgrade; received: ${JSON.stringify(received)}`));
    }, 5000);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    socket.on('data', (data) => {
      received += data.toString('latin1');
      if (until?.test(received)) done();
    });
    socket.on('close', done);
    socket.on('error', () => undefined);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });
}

describe('WebSocket upgrades: one write for the 101 and the open packet, no CORS middleware', () => {
  const svc = serviceForSuite();
  let recorder: ReturnType<typeof recordServerWrites> | undefined;
  const serverSockets = new WeakSet<net.Socket>();
  before(() => {
    svc.service.httpServer.on('connection', (socket: net.Socket) => serverSockets.add(socket));
  });
  beforeEach(() => {
    recorder = recordServerWrites((socket) => serverSockets.has(socket));
  });
  afterEach(() => {
    recorder?.restore();
    recorder = undefined;
  });

  for (const version of VERSIONS) {
    it(`${version} over WebSocket: the 101 and Engine.IO's open packet leave in one write`, async () => {
      const held = heldUpgradeCount();
      const sessions = webSocketSessionCount();
      const client = await connect(version, svc.url, '/layout');
      expect(await request(client, 'JOIN', { room: 'upgrades', name: version })).to.include({ ok: true });
      const [writes] = upgradeWrites(recorder!.writes);
      expect(writes, 'a server connection that answered with a 101').to.not.equal(undefined);
      // The open packet: Engine.IO v4 `0{"sid"...`, v3 the same text with its own framing.
      expect(writes![0], 'the first write carries the 101 and the open packet').to.match(/^HTTP\/1\.1 101[\s\S]*\r\n\r\n[\s\S]*0\{"sid":"/);
      // v4: a WebSocketSession writes its open packet in the upgrade's own turn, while ws's write
      // of the 101 is still corked (websocket-sessions.ts); v3: Engine.IO's handshake, held.
      expect(heldUpgradeCount() - held).to.equal(version === 'v4' ? 0 : 1);
      expect(webSocketSessionCount() - sessions).to.equal(version === 'v4' ? 1 : 0);
    });
  }

  it('a polling connection that upgrades to WebSocket is not held (no handshake follows its 101)', async () => {
    const held = heldUpgradeCount();
    const client = await connect('v4', svc.url, '/layout', { transport: 'polling', extra: { transports: ['polling', 'websocket'], upgrade: true } });
    const engine = client.raw.io.engine;
    if (engine.transport.name !== 'websocket') await new Promise((resolve) => engine.once('upgrade', resolve));
    expect(await request(client, 'JOIN', { room: 'upgrades', name: 'upgraded' })).to.include({ ok: true });
    expect(heldUpgradeCount() - held).to.equal(0);
    const [writes] = upgradeWrites(recorder!.writes);
    expect(writes![0], 'the 101 alone: the probe answer comes later').to.match(/^HTTP\/1\.1 101[\s\S]*\r\n\r\n$/);
  });

  it('a WebSocket upgrade gets no CORS headers; a long-polling handshake from the same origin does', async () => {
    const origin = 'http://app.example';
    const upgrade = await rawUpgrade(svc.port, '/socket.io/?EIO=4&transport=websocket', { Origin: origin }, /0\{"sid"/);
    expect(upgrade).to.match(/^HTTP\/1\.1 101/);
    expect(upgrade.toLowerCase()).to.not.include('access-control-allow');
    const polling = await fetch(`${svc.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: origin } });
    expect(polling.headers.get('access-control-allow-origin')).to.equal(origin);
    expect(polling.headers.get('access-control-allow-credentials')).to.equal('true');
    await polling.text();
  });

  it('a handshake that fails after the 101 still sends its error before closing', async () => {
    const engine = svc.service.io.engine as unknown as { createTransport(name: string, req: IncomingMessage): unknown };
    const createTransport = engine.createTransport;
    engine.createTransport = () => {
      throw new Error('refused by the test');
    };
    try {
      // (Engine.IO v3: v4 WebSocket sessions make no Engine.IO transport, websocket-sessions.ts)
      const answer = await rawUpgrade(svc.port, '/socket.io/?EIO=3&transport=websocket');
      // engine.io answers a failed handshake with an HTTP error even after the 101 (abortUpgrade).
      expect(answer).to.match(/^HTTP\/1\.1 101[\s\S]*HTTP\/1\.1 400 Bad Request/);
      expect(answer).to.match(/Bad request$/);
    } finally {
      engine.createTransport = createTransport;
    }
  });

  it('with another engine middleware, upgrades go through every middleware again', async () => {
    const engine = svc.service.io.engine as unknown as { middlewares: unknown[]; use(fn: (req: IncomingMessage, res: unknown, next: () => void) => void): void };
    const seen: string[] = [];
    engine.use((req, _res, next) => {
      seen.push(String(req.url));
      next();
    });
    try {
      const upgrade = await rawUpgrade(svc.port, '/socket.io/?EIO=4&transport=websocket&tag=mw', { Origin: 'http://app.example' }, /0\{"sid"/);
      expect(seen.some((url) => url.includes('tag=mw'))).to.equal(true);
      // The CORS middleware ran too (it is first): its headers are on the 101.
      expect(upgrade.toLowerCase()).to.include('access-control-allow-origin: http://app.example');
    } finally {
      engine.middlewares.pop();
    }
  });
});
