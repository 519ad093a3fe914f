/**
 * Guards for the fan-out's fast paths (docs/PERFORMANCE.md "What was kept"). Each of them can be
 * lost without any message going astray: socket.io's generic broadcast, Engine.IO's write buffer
 * and a per-member encoding all still deliver. These tests fail when a publication to a room of N
 * socket.io members stops taking them, read through counters the modules keep for this purpose:
 * - the EVENT is encoded once whatever N is (lib/raw-encoder.ts), and once more at most for the
 *   members that get no recovery offset (lib/recovery-offsets.ts);
 * - FanoutAdapter's single-room path is taken rather than socket.io's generic broadcast
 *   (lib/fanout-adapter.ts);
 * - frames to idle WebSocket members go straight to ws through writeFrame, and a member with
 *   something queued in Engine.IO takes the regular path behind it (lib/direct-writes.ts;
 *   test/fanout-order.test.ts pins the ordering).
 * A JOIN on a single node is answered without a promise round (Hub.join; about a dozen promises
 * per connect): a store or resume that turned asynchronous would still answer it, later.
 * In cluster mode the same single-room path must be taken for what a node reads back from the
 * cluster stream (lib/core/socketio-members.ts deliver → deliverHere), not socket.io-adapter's
 * generic broadcast nor a write per member.
 */
import { serverPublisher } from '../lib/core/hub.js';
import { expect } from 'chai';
import { directFlushCount, directFrameCount, encodedEventCount, roomDeliveryCount, singleRoomBroadcastCount } from '../lib/transport/index.js';
import { closeAll, collect, connect, next, request, type ConnectOptions, type TestClient } from './helpers/clients.js';
import { startInMode } from './helpers/cluster.js';
import { serviceForSuite, type Running } from './helpers/service.js';

const MEMBERS = 50;

/** The counters a publication moves, read before and after it. */
interface Counts {
  encoded: number;
  singleRoom: number;
  /** Of those, deliveries the hub handed over as room and publisher id (deliverHere), without socket.io's broadcast options. */
  roomDelivery: number;
  direct: number;
}
const counts = (): Counts => ({ encoded: encodedEventCount(), singleRoom: singleRoomBroadcastCount(), roomDelivery: roomDeliveryCount(), direct: directFrameCount() });
const since = (before: Counts): Counts => {
  const now = counts();
  return { encoded: now.encoded - before.encoded, singleRoom: now.singleRoom - before.singleRoom, roomDelivery: now.roomDelivery - before.roomDelivery, direct: now.direct - before.direct };
};

/** Resolves with the arguments of the client's next EVENT (the envelope, then the offset if any). */
const nextEvent = (client: TestClient): Promise<unknown[]> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no EVENT within 5000 ms')), 5000);
    client.raw.once('EVENT', (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    });
  });

describe('fast paths of a publication to a room', () => {
  const svc = serviceForSuite();

  /** `n` socket.io-client 4 members of `room` over WebSocket. */
  const members = async (room: string, n: number, opts: ConnectOptions = {}): Promise<TestClient[]> => {
    const clients = await Promise.all(Array.from({ length: n }, () => connect('v4', svc.url, '/layout', opts)));
    for (const reply of await Promise.all(clients.map((c, i) => request(c, 'JOIN', { room, name: `m${i}` })))) {
      expect(reply).to.include({ ok: true });
    }
    return clients;
  };

  /** A NOTIFY from a publisher outside the room: what the counters moved by, and what each member got. */
  const notify = async (room: string, to: TestClient[]): Promise<{ moved: Counts; got: unknown[][] }> => {
    const publisher = await connect('v4', svc.url, '/layout');
    const received = Promise.all(to.map(nextEvent));
    const before = counts();
    expect(await request(publisher, 'NOTIFY', { room, message: { hello: room } })).to.include({ ok: true, recipients: to.length });
    const got = await received;
    return { moved: since(before), got };
  };

  it(`encodes the EVENT of a NOTIFY to ${MEMBERS} members once`, async () => {
    const room = 'encode-once';
    const { moved, got } = await notify(room, await members(room, MEMBERS));
    // The publisher's ack is an ACK packet, not counted.
    expect(moved.encoded).to.equal(1);
    for (const args of got) expect(args[0]).to.deep.include({ room, message: { hello: room } });
  });

  it("goes through FanoutAdapter's single-room path, not socket.io's generic broadcast", async () => {
    const room = 'single-room';
    const { moved } = await notify(room, await members(room, MEMBERS));
    expect(moved.singleRoom).to.equal(1);
    expect(moved.roomDelivery, 'handed over as room and publisher id').to.equal(1);
  });

  it("leaves a publisher that is a member out by its id: the others get the EVENT, it gets only its ack", async () => {
    const room = 'publisher-inside';
    const clients = await members(room, 5);
    const [publisher, ...others] = clients as [TestClient, ...TestClient[]];
    const own: unknown[] = [];
    publisher.raw.on('EVENT', (...args: unknown[]) => own.push(args));
    const received = Promise.all(others.map(nextEvent));
    const before = counts();
    expect(await request(publisher, 'NOTIFY', { room, message: 'from inside' })).to.include({ ok: true, recipients: others.length });
    for (const args of await received) expect(args[0]).to.deep.include({ room, message: 'from inside' });
    expect(since(before)).to.include({ roomDelivery: 1, direct: others.length });
    // A second publication from another member: the first publisher gets it, and never its own.
    const second = nextEvent(publisher);
    expect(await request(others[0]!, 'NOTIFY', { room, message: 'second' })).to.include({ ok: true });
    expect((await second)[0]).to.deep.include({ message: 'second' });
    expect(own).to.have.length(1);
  });

  it('writes the frame straight to ws for every idle WebSocket member', async () => {
    const room = 'direct';
    const { moved } = await notify(room, await members(room, MEMBERS));
    expect(moved.direct).to.equal(MEMBERS);
  });

  it("lets a member with a packet queued in Engine.IO's buffer take the regular path behind it", async () => {
    const room = 'queued';
    // Engine.IO's socket (and its write buffer) serves the connections that are not v4 sessions
    // opened on WebSocket (lib/transport/websocket-sessions.ts): here a socket.io-client 2 member.
    const legacy = await connect('v2', svc.url, '/layout', { transport: 'websocket' });
    expect(await request(legacy, 'JOIN', { room, name: 'legacy' })).to.include({ ok: true });
    const clients = [legacy, ...(await members(room, MEMBERS - 1))];
    const nsp = svc.service.io.of('/layout');
    const busy = nsp.sockets.get(clients[0]!.id)!;
    const queuedArrives = next(clients[0]!, 'QUEUED');
    const received = Promise.all(clients.map(nextEvent));
    const before = counts();
    // A binary packet goes out through Engine.IO as two frames: the first is in flight, the second
    // waits in the write buffer until it is done. The publication is made in the same tick, so it
    // finds the buffer still holding it.
    (busy.emit as (event: string, ...args: unknown[]) => boolean)('QUEUED', Buffer.from([1, 2, 3]));
    expect((busy.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length, 'Engine.IO write buffer after a binary packet').to.be.above(0);
    svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: 'behind' });
    expect(since(before).direct).to.equal(MEMBERS - 1);
    expect(Buffer.from(await queuedArrives)).to.deep.equal(Buffer.from([1, 2, 3]));
    for (const args of await received) expect(args[0]).to.deep.include({ room, message: 'behind' });
  });

  it('writes straight to ws behind a binary packet on a v4 WebSocket session: ws keeps the order, nothing waits in Engine.IO', async () => {
    const room = 'queued-session';
    const clients = await members(room, MEMBERS);
    const nsp = svc.service.io.of('/layout');
    const busy = nsp.sockets.get(clients[0]!.id)!;
    // Both arrive at the client in the order they were written: the binary event first.
    const order: string[] = [];
    const both = new Promise<void>((resolve) => {
      clients[0]!.raw.once('QUEUED', () => order.push('QUEUED'));
      clients[0]!.raw.once('EVENT', () => {
        order.push('EVENT');
        resolve();
      });
    });
    const received = Promise.all(clients.slice(1).map(nextEvent));
    const before = counts();
    (busy.emit as (event: string, ...args: unknown[]) => boolean)('QUEUED', Buffer.from([1, 2, 3]));
    expect((busy.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length, 'no Engine.IO write buffer').to.equal(0);
    svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: 'behind' });
    expect(since(before).direct).to.equal(MEMBERS);
    await both;
    expect(order).to.deep.equal(['QUEUED', 'EVENT']);
    for (const args of await received) expect(args[0]).to.deep.include({ room, message: 'behind' });
  });

  it('answers a JOIN on a single node (rooms and presence in memory, no `since`) without a promise round', async () => {
    // Hub.join: every step is synchronous here, so it returns the result itself, not a promise.
    const core = svc.service.core;
    const join = core.join;
    const results: unknown[] = [];
    core.join = (...args) => {
      const joined = join.apply(core, args);
      results.push(joined);
      return joined;
    };
    const client = await connect('v4', svc.url, '/layout');
    try {
      expect(await request(client, 'JOIN', { room: `sync-${Date.now()}`, name: 'm' })).to.include({ ok: true });
      expect(await request(client, 'JOIN', { room: `sync-p-${Date.now()}`, name: 'm', presence: true })).to.include({ ok: true });
    } finally {
      core.join = join;
      client.close();
    }
    expect(results).to.have.length(2);
    expect(results[0], 'a plain JOIN').not.to.be.instanceOf(Promise);
    expect(results[0]).to.include({ name: 'm' });
    // Becoming a watcher is stored too (presence.add of the watcher, in memory here).
    expect(results[1], 'a JOIN with presence').not.to.be.instanceOf(Promise);
  });

  it('encodes the plain EVENT for members without recovery offsets once, whatever their number', async () => {
    expect(svc.service.config.recoveryWindowMs, 'connection-state recovery is on by default').to.be.above(0);
    const room = 'plain-once';
    const half = MEMBERS / 2;
    const withOffsets = await members(room, half);
    const plain = await members(room, half, { query: { recoveryOffsets: '0' } });
    const { moved, got } = await notify(room, [...withOffsets, ...plain]);
    // One encoding with the offset, one without.
    expect(moved.encoded).to.equal(2);
    expect(moved.direct).to.equal(MEMBERS);
    const argCounts = got.map((args) => args.length);
    expect(argCounts.slice(0, half)).to.deep.equal(Array(half).fill(2));
    expect(argCounts.slice(half)).to.deep.equal(Array(half).fill(1));
  });

  it("writes each frame as one buffer, one socket write per member, with and without offsets, and the publisher's ack likewise", async () => {
    const room = 'one-buffer';
    const half = MEMBERS / 2;
    const clients = [...(await members(room, half)), ...(await members(room, half, { query: { recoveryOffsets: '0' } }))];
    const publisher = await connect('v4', svc.url, '/layout');
    const nsp = svc.service.io.of('/layout');
    /** What each connection's TCP socket is asked to write meanwhile: one entry per write() call. */
    const watch = (id: string): Buffer[] => {
      const tcp = (nsp.sockets.get(id)!.conn as unknown as { transport: { socket: { _socket: { write(chunk: Buffer, ...rest: unknown[]): boolean } } } }).transport.socket._socket;
      const writes: Buffer[] = [];
      const write = tcp.write;
      tcp.write = function (this: unknown, chunk: Buffer, ...rest: unknown[]) {
        writes.push(Buffer.from(chunk));
        return write.call(this, chunk, ...rest);
      };
      return writes;
    };
    const memberWrites = clients.map((c) => watch(c.id!));
    const ackWrites = watch(publisher.id!);
    const received = Promise.all(clients.map(nextEvent));
    expect(await request(publisher, 'NOTIFY', { room, message: { hello: room } })).to.include({ ok: true, recipients: MEMBERS });
    await received;
    // A whole frame per write: FIN + text opcode, then the payload's length and the payload.
    const whole = (frame: Buffer | undefined, text: string): void => {
      expect(frame?.[0], 'FIN + text frame').to.equal(0x81);
      expect(frame!.subarray(2).toString()).to.include(text);
    };
    for (const writes of memberWrites) {
      expect(writes, 'socket writes of one member').to.have.length(1);
      whole(writes[0], '"hello":"one-buffer"');
    }
    expect(ackWrites, "socket writes of the publisher's ack").to.have.length(1);
    whole(ackWrites[0], '"recipients"');
  });

  it('corks each member socket once for a burst of publications in one event, and flushes it in one writev', async () => {
    const room = 'burst';
    const BURST = 8;
    const clients = await members(room, MEMBERS);
    const nsp = svc.service.io.of('/layout');
    /** cork() calls and writev chunk counts of a connection's TCP socket meanwhile. */
    const watch = (id: string): { corks: number; writevs: number[] } => {
      const tcp = (nsp.sockets.get(id)!.conn as unknown as { transport: { socket: { _socket: Record<string, (...args: any[]) => unknown> } } }).transport.socket._socket;
      const seen = { corks: 0, writevs: [] as number[] };
      const cork = tcp.cork!;
      tcp.cork = function (this: unknown, ...args: unknown[]) {
        seen.corks++;
        return cork.apply(this, args);
      };
      const writev = tcp._writev!;
      tcp._writev = function (this: unknown, chunks: unknown[], ...rest: unknown[]) {
        seen.writevs.push(chunks.length);
        return writev.call(this, chunks, ...rest);
      };
      return seen;
    };
    const watched = clients.map((c) => watch(c.id!));
    const received = clients.map((c) => collect<{ message: number }>(c, 'EVENT', BURST));
    const before = directFlushCount();
    // One event: every publication of the loop is written before the flush.
    for (let i = 0; i < BURST; i++) svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: i });
    expect(directFlushCount() - before, 'nothing flushed before the event ends').to.equal(0);
    for (const events of await Promise.all(received)) expect(events.map((e) => e.message)).to.deep.equal([...Array(BURST).keys()]);
    expect(directFlushCount() - before, 'one flush per member').to.equal(MEMBERS);
    for (const seen of watched) {
      expect(seen.corks, 'cork() calls of one member socket').to.equal(1);
      expect(seen.writevs, 'writev calls of one member socket, by chunk count').to.deep.equal([BURST]);
    }
  });
});

describe('fast paths of a publication to a room in cluster mode (one node on a private Redis)', () => {
  let svc: Running;
  before(async function () {
    svc = await startInMode(this, 'redis');
  });
  after(() => svc?.close());
  afterEach(closeAll);

  it(`delivers a NOTIFY read back from the cluster stream to ${MEMBERS} members by the single-room path, encoded once`, async () => {
    const room = 'cluster-single-room';
    const clients = await Promise.all(Array.from({ length: MEMBERS }, () => connect('v4', svc.url, '/layout')));
    for (const reply of await Promise.all(clients.map((c, i) => request(c, 'JOIN', { room, name: `m${i}` })))) {
      expect(reply).to.include({ ok: true });
    }
    const publisher = await connect('v4', svc.url, '/layout');
    const received = Promise.all(clients.map(nextEvent));
    const before = counts();
    expect(await request(publisher, 'NOTIFY', { room, message: { hello: room } })).to.include({ ok: true, recipients: MEMBERS });
    // Delivered as the node reads its own publication back from the stream: after the ack, maybe.
    const got = await received;
    const moved = since(before);
    for (const args of got) expect(args[0]).to.deep.include({ room, message: { hello: room } });
    expect(moved.singleRoom, 'broadcasts that took the single-room path').to.equal(1);
    expect(moved.roomDelivery, 'handed over as room and publisher id').to.equal(1);
    expect(moved.encoded, 'encodings of the EVENT').to.equal(1);
    expect(moved.direct, 'frames written straight to ws').to.equal(MEMBERS);
  });
});
