/**
 * Engine.IO's heartbeat on the shared timers (lib/transport/shared-heartbeats.ts), with short
 * intervals, for socket.io-client 1.7, 2.x (Engine.IO v3: the client pings) and 4.x (v4: the
 * server pings), over WebSocket and long-polling: healthy clients stay, silent ones are closed
 * for 'ping timeout' within engine.io's deadline, and nothing stays scheduled after they leave.
 */
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { hasSharedHeartbeat, heartbeatQueues, HeartbeatTimer, scheduledHeartbeatSockets } from '../lib/transport/index.js';
import { closeAll, connect, next, request, TRANSPORTS, VERSIONS, type ClientVersion, type TestClient, type TransportName } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

/** Short and unlike any other suite's, so that the queues of these durations are this suite's. */
const PING_INTERVAL = 70;
const PING_TIMEOUT = 110;
/** A silent client is closed this long after the server's last heartbeat from it (v4 and v3 alike). */
const DEADLINE = PING_INTERVAL + PING_TIMEOUT;
/** How late a close may come on a shared, loaded machine. */
const LATE = 1500;

interface EngineConn {
  id: string;
  readyState: string;
  server: unknown;
  pingIntervalTimer: unknown;
  pingTimeoutTimer: unknown;
  on(event: string, listener: (...args: any[]) => void): void;
  off(event: string, listener: (...args: any[]) => void): void;
}

/** Resolves after the `count`-th event, or rejects after `ms`. */
function events(conn: EngineConn, event: string, count: number, ms: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      conn.off(event, listener);
      reject(new Error(`${seen}/${count} ${event} events within ${ms} ms`));
    }, ms);
    const listener = (...args: unknown[]) => {
      if (++seen < count) return;
      clearTimeout(timer);
      conn.off(event, listener);
      resolve(args);
    };
    conn.on(event, listener);
  });
}

/** Makes a client stop answering: v4 drops its PONGs, v3 stops its PINGs; neither closes itself for lack of them. */
function silence(client: TestClient): void {
  const engine = client.raw.io.engine;
  if (client.version === 'v4') {
    const send = engine._sendPacket;
    engine._sendPacket = function (type: string, ...rest: unknown[]) {
      if (type !== 'pong') send.call(this, type, ...rest);
    };
    engine.clearTimeoutFn(engine._pingTimeoutTimer);
    engine._resetPingTimeout = () => undefined;
    // (which a v4 client also checks when it sends: it would close itself)
    engine._pingTimeoutTime = Infinity;
  } else {
    engine.off('heartbeat', engine.onHeartbeat);
    clearTimeout(engine.pingIntervalTimer);
    clearTimeout(engine.pingTimeoutTimer);
    engine.setPing = () => undefined;
  }
}

describe('Engine.IO heartbeats on shared timers', () => {
  const svc = serviceForSuite();
  /** Every server connection the tests made, to check that none stays scheduled. */
  const conns: EngineConn[] = [];

  before(() => {
    const opts = (svc.service.io.engine as unknown as { opts: { pingInterval: number; pingTimeout: number } }).opts;
    opts.pingInterval = PING_INTERVAL;
    opts.pingTimeout = PING_TIMEOUT;
  });

  const serverConn = (tag: string): EngineConn => {
    const found = [...svc.service.io.of('/layout').sockets.values()].find((s) => s.handshake.query.tag === tag);
    expect(found, `server socket tagged ${tag}`).to.not.equal(undefined);
    const conn = found!.conn as unknown as EngineConn;
    conns.push(conn);
    return conn;
  };

  /** Joins `client` to `room` with a v4 sender beside it; returns the sender. */
  const joinWithSender = async (client: TestClient, tag: string, room: string): Promise<TestClient> => {
    const sender = await connect('v4', svc.url, '/layout', { query: { tag: `sender-${tag}` } });
    expect(await request(client, 'JOIN', JSON.stringify({ room, name: tag }))).to.include({ ok: true });
    expect(await request(sender, 'JOIN', JSON.stringify({ room, name: 'sender' }))).to.include({ ok: true });
    return sender;
  };

  /**
   * Five heartbeats (about 5 × PING_INTERVAL, well past the deadline of one missed) with the server
   * side still open; returns a reader of the close reason seen since, if any.
   */
  const staysThroughHeartbeats = async (conn: EngineConn): Promise<() => unknown> => {
    let closed: unknown;
    conn.on('close', (reason: unknown) => (closed = reason));
    await events(conn, 'heartbeat', 5, 20 * DEADLINE + LATE);
    expect(closed, 'server side closed').to.equal(undefined);
    expect(conn.readyState).to.equal('open');
    return () => closed;
  };

  const open = async (version: ClientVersion, transport: TransportName, tag: string): Promise<{ client: TestClient; conn: EngineConn }> => {
    const client = await connect(version, svc.url, '/layout', { transport, query: { tag } });
    return { client, conn: serverConn(tag) };
  };

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: the socket's heartbeat timer is a shared one, queued`, async () => {
        const { conn } = await open(version, transport, `kind-${version}-${transport}`);
        expect(hasSharedHeartbeat(conn), 'shared heartbeat timer').to.equal(true);
        // v4: the server's interval (the PONG deadline is the same object while pending); v3: the deadline for the client's PING.
        const timer = version === 'v4' ? conn.pingIntervalTimer : conn.pingTimeoutTimer;
        expect(timer).to.be.instanceOf(HeartbeatTimer);
        expect(scheduledHeartbeatSockets()).to.include(conn);
      });

      it(`${version} over ${transport}: a healthy client stays through several ping cycles and still receives a NOTIFY`, async () => {
        const tag = `healthy-${version}-${transport}`;
        const room = `hb-${tag}`;
        const { client, conn } = await open(version, transport, tag);
        const sender = await joinWithSender(client, tag, room);
        const closed = await staysThroughHeartbeats(conn);
        const received = next(client, 'EVENT');
        expect(await request(sender, 'NOTIFY', JSON.stringify({ room, message: { n: 1 } }))).to.include({ ok: true });
        expect(await received).to.deep.include({ room, message: { n: 1 } });
        expect(closed(), 'server side closed').to.equal(undefined);
      });

      it(`${version} over ${transport}: a client that stops answering is closed for 'ping timeout' within the deadline`, async () => {
        const { client, conn } = await open(version, transport, `silent-${version}-${transport}`);
        // Taken when the PING (v3) or PONG (v4) packet is emitted, just before engine.io refreshes
        // the deadline from it (the 'heartbeat' event comes after the PONG is written, which can
        // take milliseconds on a loaded machine).
        let lastBeat = 0;
        conn.on('packet', (packet: { type: string }) => {
          if (packet.type === 'ping' || packet.type === 'pong') lastBeat = performance.now();
        });
        await events(conn, 'heartbeat', 1, 10 * DEADLINE + LATE);
        silence(client);
        // Waiting out the deadline is what is tested: the close event, bounded.
        const [reason] = await events(conn, 'close', 1, 10 * DEADLINE + LATE);
        const after = performance.now() - lastBeat;
        expect(reason).to.equal('ping timeout');
        // v4: the PING goes PING_INTERVAL after the last PONG, the deadline PING_TIMEOUT after it;
        // v3: the deadline is PING_INTERVAL + PING_TIMEOUT after the last PING.
        expect(after, 'ms from the last heartbeat to the close').to.be.within(DEADLINE - 2, DEADLINE + LATE);
        expect(scheduledHeartbeatSockets(), 'closed socket still scheduled').to.not.include(conn);
      });
    }
  }

  for (const version of ['v2', 'v4'] as const) {
    it(`${version} upgraded from polling to WebSocket: keeps its heartbeat after an upgrade, receives a NOTIFY`, async () => {
      const tag = `upgraded-${version}`;
      const room = `hb-${tag}`;
      const client = await connect(version, svc.url, '/layout', { transport: 'polling', query: { tag }, extra: { transports: ['polling', 'websocket'], upgrade: true } });
      const conn = serverConn(tag);
      if ((conn as unknown as { transport: { name: string } }).transport.name !== 'websocket') await events(conn, 'upgrade', 1, 5000);
      const sender = await joinWithSender(client, tag, room);
      await staysThroughHeartbeats(conn);
      // engine.io 6.6 drops an Engine.IO v3 socket's PING deadline at the upgrade; it is re-armed
      // here (shared-heartbeats.ts), so both versions still have one.
      expect(hasSharedHeartbeat(conn)).to.equal(true);
      expect(scheduledHeartbeatSockets()).to.include(conn);
      const received = next(client, 'EVENT');
      expect(await request(sender, 'NOTIFY', JSON.stringify({ room, message: { n: 2 } }))).to.include({ ok: true });
      expect(await received).to.deep.include({ room, message: { n: 2 } });
    });
  }

  for (const version of ['v1', 'v2', 'v4'] as const) {
    it(`${version} upgraded from polling to WebSocket, then silent: closed for 'ping timeout' (engine.io alone keeps a v3 one open)`, async () => {
      const tag = `upgraded-silent-${version}`;
      const client = await connect(version, svc.url, '/layout', { transport: 'polling', query: { tag }, extra: { transports: ['polling', 'websocket'], upgrade: true } });
      const conn = serverConn(tag);
      if ((conn as unknown as { transport: { name: string } }).transport.name !== 'websocket') await events(conn, 'upgrade', 1, 5000);
      await events(conn, 'heartbeat', 1, 10 * DEADLINE + LATE);
      silence(client);
      const [reason] = await events(conn, 'close', 1, 10 * DEADLINE + LATE);
      expect(reason).to.equal('ping timeout');
      expect(scheduledHeartbeatSockets(), 'closed socket still scheduled').to.not.include(conn);
    });
  }

  it('v4: a packet while waiting for the PONG extends the deadline once', async () => {
    const { client, conn } = await open('v4', 'websocket', 'extended');
    await events(conn, 'heartbeat', 1, 10 * DEADLINE + LATE);
    silence(client);
    let pinged = 0;
    conn.on('packetCreate', (packet: { type: string }) => {
      if (packet.type === 'ping') pinged = performance.now();
    });
    await events(conn, 'packetCreate', 1, 10 * DEADLINE + LATE);
    // Two messages while the PONG is awaited: the first one refreshes the deadline, the second does not.
    const half = PING_TIMEOUT / 2;
    await new Promise((resolve) => setTimeout(resolve, half));
    client.emit('CLIENTS', JSON.stringify({ room: 'none' }));
    const sent = performance.now();
    await new Promise((resolve) => setTimeout(resolve, half));
    client.emit('CLIENTS', JSON.stringify({ room: 'none' }));
    const [reason] = await events(conn, 'close', 1, 10 * DEADLINE + LATE);
    const closedAt = performance.now();
    expect(reason).to.equal('ping timeout');
    expect(pinged).to.be.greaterThan(0);
    expect(closedAt - sent, 'ms from the first message to the close').to.be.within(PING_TIMEOUT - 2, PING_TIMEOUT + LATE);
  });

  it('nothing stays scheduled once every client has left, and no Node timer is left armed', async () => {
    const left = conns.filter((c) => c.readyState !== 'closed');
    const closes = left.map((c) => events(c, 'close', 1, 10 * DEADLINE + LATE));
    closeAll();
    await Promise.all(closes);
    // Dropped right after engine.io's onClose (which emits 'close' first).
    await new Promise((resolve) => setImmediate(resolve));
    const engine = svc.service.io.engine as unknown;
    expect(scheduledHeartbeatSockets().filter((s) => (s as EngineConn).server === engine)).to.deep.equal([]);
    const ours = heartbeatQueues().filter((q) => [PING_INTERVAL, PING_TIMEOUT, DEADLINE].includes(q.ms));
    expect(ours.length, 'queues of this suite').to.be.greaterThan(0);
    for (const q of ours) expect(q, `queue ${q.role} ${q.ms} ms`).to.include({ entries: 0, armed: false });
  });
});
