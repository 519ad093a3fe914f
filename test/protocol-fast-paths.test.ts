/**
 * Guards for the fan-out fast paths of the two protocols without socket.io (docs/PERFORMANCE.md):
 * losing one would deliver every message all the same, only at several times the CPU. These tests
 * fail when a publication stops taking them, read through counters the modules keep for this:
 * - /sock: a publication is framed once and the same frame is written to every subscriber through
 *   ws's frame writer (lib/transport/ws-frames.ts), not `ws.send(text)` per subscriber;
 * - SSE: a delivery is encoded once and written as one shared chunk straight to each stream's socket
 *   (lib/transport/sse-writes.ts), not `res.write(text)` per stream;
 * - both: the writes of a burst are coalesced (fewer socket flushes than writes), and every
 *   subscriber still gets every message once, in order.
 */
import net from 'node:net';
import { expect } from 'chai';
import { sharedChunkCount, sharedFrameCount } from '../lib/transport/index.js';
import { serviceForSuite, type Running } from './helpers/service.js';
import { closeSockets, openSock, type SockClient, type SockFrameIn } from './helpers/sock.js';
import { closeStreams, openSse, type SseClient } from './helpers/sse.js';

const MEMBERS = 20;
const BURST = 200;

async function subscribe(client: SockClient, topic: string): Promise<void> {
  client.send({ action: 'subscribe', topic });
  const own = await client.next('subscribe-topic');
  expect(own.sender).to.equal(client.connectionId);
}

/** Waits until the hub counts `n` members of the room on this node (a stream has joined once it is counted). */
async function members(svc: Running, ns: string, room: string, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (svc.service.core.localCount(ns, room) < n) {
    if (Date.now() > deadline) throw new Error(`${ns} ${room}: ${svc.service.core.localCount(ns, room)} members, not ${n}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The next `n` frames of `action`, in order. */
async function frames(client: SockClient, action: string, n: number): Promise<SockFrameIn[]> {
  const out: SockFrameIn[] = [];
  while (out.length < n) out.push(await client.next(action));
  return out;
}

describe('fast paths of /sock and SSE fan-out', () => {
  const svc = serviceForSuite();
  afterEach(() => {
    closeSockets();
    closeStreams();
  });

  describe('/sock', () => {
    const topicOf = async (topic: string, n: number): Promise<{ publisher: SockClient; subscribers: SockClient[] }> => {
      const subscribers = await Promise.all(Array.from({ length: n }, (_, i) => openSock(svc.url, `/sock?name=s${i}`)));
      for (const s of subscribers) await subscribe(s, topic);
      const publisher = await openSock(svc.url, '/sock?name=publisher');
      await subscribe(publisher, topic);
      // The subscribe-topic notices of the later subscribers have reached the earlier ones.
      for (const s of subscribers) await s.next('subscribe-topic');
      return { publisher, subscribers };
    };

    it(`frames a publication to ${MEMBERS} subscribers once and writes that frame to each (the sender too)`, async () => {
      const { publisher, subscribers } = await topicOf('framed-once', MEMBERS);
      const before = sharedFrameCount();
      publisher.send({ action: 'hello', topic: 'framed-once', payload: { n: 1 } });
      const got = await Promise.all([...subscribers, publisher].map((c) => c.next('hello')));
      const after = sharedFrameCount();
      expect(after.framed - before.framed, 'frames built').to.equal(1);
      expect(after.written - before.written, 'frames written through the short path').to.equal(MEMBERS + 1);
      for (const frame of got) expect(frame).to.deep.include({ sender: publisher.connectionId, action: 'hello', topic: 'framed-once', payload: { n: 1 } });
    });

    it('writes that frame as one buffer: one socket write per subscriber, header and payload together', async () => {
      const { publisher, subscribers } = await topicOf('one-buffer', MEMBERS);
      // Every write() of the server's side of a connection (its local port is the service's) meanwhile.
      const writes: Buffer[] = [];
      const write = net.Socket.prototype.write;
      net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
        if (this.localPort === svc.port && Buffer.isBuffer(chunk)) writes.push(Buffer.from(chunk));
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof write;
      try {
        publisher.send({ action: 'hello', topic: 'one-buffer', payload: { n: 2 } });
        await Promise.all([...subscribers, publisher].map((c) => c.next('hello')));
      } finally {
        net.Socket.prototype.write = write;
      }
      expect(writes, 'socket writes, one per subscriber and the sender').to.have.length(MEMBERS + 1);
      for (const frame of writes) {
        expect(frame[0], 'FIN + text frame').to.equal(0x81);
        expect(frame.subarray(2).toString()).to.include('"topic":"one-buffer"');
      }
    });

    it(`a burst of ${BURST} publications: every subscriber gets each once, in order; writes are coalesced`, async () => {
      const { publisher, subscribers } = await topicOf('burst', 5);
      const before = sharedFrameCount();
      // One synchronous loop: the frames reach the server together, as from a busy publisher.
      for (let i = 1; i <= BURST; i++) publisher.send({ action: 'tick', topic: 'burst', payload: i });
      for (const client of [...subscribers, publisher]) {
        const got = await frames(client, 'tick', BURST);
        expect(got.map((f) => f.payload)).to.deep.equal(Array.from({ length: BURST }, (_, i) => i + 1));
        const offsets = got.map((f) => f.meta!.offset);
        expect(offsets, 'offsets increase').to.deep.equal([...offsets].sort((a, b) => a - b));
      }
      const after = sharedFrameCount();
      const written = after.written - before.written;
      expect(written).to.equal(BURST * 6);
      expect(after.flushes - before.flushes, `socket flushes for ${written} writes`).to.be.above(0).and.below(written);
      // Nothing more arrived than was sent: a last publication comes after any stray copy on each
      // connection (a topic's frames keep their order), so once it is in, the count is final.
      publisher.send({ action: 'tock', topic: 'burst' });
      await Promise.all(subscribers.map((c) => c.next('tock')));
      for (const client of subscribers) expect(client.frames.filter((f) => f.action === 'tick')).to.have.length(BURST);
    });

    it('a frame to one connection keeps its place between shared frames', async () => {
      const { subscribers } = await topicOf('mixed', 2);
      const [a] = subscribers;
      // Handled in order on a's connection: a shared frame, an error frame to a alone, a shared frame.
      a!.send({ action: 'one', topic: 'mixed' });
      a!.send({ action: 'subscribe-topic', topic: 'mixed' }); // reserved: answered with an error frame
      a!.send({ action: 'two', topic: 'mixed' });
      await a!.next('two');
      const actions = a!.frames.map((f) => f.action).filter((x) => ['one', 'error', 'two'].includes(x));
      expect(actions).to.deep.equal(['one', 'error', 'two']);
    });
  });

  describe('SSE', () => {
    /** `n` streams of /layout room `room`, joined. */
    const streams = async (room: string, n: number): Promise<SseClient[]> => {
      const list = await Promise.all(Array.from({ length: n }, () => openSse(`${svc.url}/events/layout/${room}`)));
      await members(svc, '/layout', room, n);
      return list;
    };

    /** POSTs each body to /publish/layout/<room> on one connection, pipelined in one write; resolves with the raw answers. */
    const pipelined = (room: string, bodies: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const port = Number(new URL(svc.url).port);
        const socket = net.connect({ host: '127.0.0.1', port }, () => {
          socket.write(bodies.map((b) => `POST /publish/layout/${room} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`).join(''));
        });
        let answers = '';
        socket.on('data', (d: Buffer) => {
          answers += d.toString('latin1');
          if ((answers.match(/HTTP\/1\.1 200/g) ?? []).length === bodies.length && /\}$/.test(answers)) {
            socket.end();
            resolve(answers);
          }
        });
        socket.on('error', reject);
      });

    it(`encodes a delivery to ${MEMBERS} streams once and writes that chunk to each`, async () => {
      const list = await streams('encoded-once', MEMBERS);
      const before = sharedChunkCount();
      const answer = await pipelined('encoded-once', ['{"n":1}']);
      expect(answer).to.include(`"recipients":${MEMBERS}`);
      const got = await Promise.all(list.map((s) => s.next('EVENT')));
      const after = sharedChunkCount();
      expect(after.encoded - before.encoded, 'events encoded').to.equal(1);
      expect(after.written - before.written, 'events written through the short path').to.equal(MEMBERS);
      for (const event of got) {
        expect(event.json).to.deep.include({ sender: 'POST', room: 'encoded-once', message: { n: 1 } });
        expect(event.id).to.equal(`${event.json.meta.epoch}:${event.json.meta.offset}`);
      }
    });

    it(`a burst of ${BURST} pipelined publications: every stream gets each once, in order; writes are coalesced`, async () => {
      const list = await streams('sse-burst', 5);
      const before = sharedChunkCount();
      await pipelined('sse-burst', Array.from({ length: BURST }, (_, i) => JSON.stringify({ n: i + 1 })));
      for (const stream of list) {
        const got = [];
        while (got.length < BURST) got.push(await stream.next('EVENT'));
        expect(got.map((e) => e.json.message.n)).to.deep.equal(Array.from({ length: BURST }, (_, i) => i + 1));
        const offsets = got.map((e) => Number(e.id!.split(':')[1]));
        expect(offsets, 'ids increase').to.deep.equal([...offsets].sort((a, b) => a - b));
      }
      const after = sharedChunkCount();
      const written = after.written - before.written;
      expect(written).to.equal(BURST * 5);
      expect(after.flushes - before.flushes, `socket flushes for ${written} writes`).to.be.above(0).and.below(written);
    });

    it('an HTTP/1.0 reader (no chunked encoding) gets the plain events, pings and messages in order', async () => {
      const port = Number(new URL(svc.url).port);
      const socket = net.connect({ host: '127.0.0.1', port });
      let text = '';
      // Resolves once the second message is in (the stream never ends by itself).
      const secondIn = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no second message within 5000 ms: ${JSON.stringify(text)}`)), 5000);
        socket.on('data', (d: Buffer) => {
          text += d.toString('utf8');
          if (text.includes('"n":2')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise<void>((resolve) => socket.on('connect', resolve));
      socket.write('GET /events/layout/http10 HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n');
      await members(svc, '/layout', 'http10', 1);
      await pipelined('http10', ['{"n":1}', '{"n":2}']);
      await secondIn.finally(() => socket.destroy());
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      expect(text).to.not.match(/transfer-encoding: chunked/i);
      const events = body.split('\n\n').filter((e) => e.includes('event: EVENT'));
      expect(events.map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: '))!.slice(6)).message)).to.deep.equal([{ n: 1 }, { n: 2 }]);
      expect(body.startsWith('retry: ')).to.equal(true);
    });
  });
});
