/**
 * The receive side's fast path (lib/transport/event-fast-path.ts): a text EVENT on a WebSocket
 * connection goes from the decoder to the namespace's verbs without socket.io's per-packet
 * machinery. Nothing a client sees tells the paths apart, so these tests read the module's counter
 * (it must move for every text event over WebSocket, and not over long-polling), and check what
 * the fast path must keep: acks, and the order of a connection's packets when text events (fast)
 * and binary ones (socket.io's path) are mixed, for socket.io-client 1.7, 2.x and 4.x; and
 * socket.io's own path as soon as a socket has a per-packet middleware.
 */
import { expect } from 'chai';
import { fastEventCount } from '../lib/transport/index.js';
import { collect, connect, next, request, TRANSPORTS, VERSIONS, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';
import { checkSize, measuredMessageCount } from '../lib/core/validate.js';

interface Envelope {
  message: { i: number; blob?: unknown };
  meta: { offset: number };
}

describe('event fast path: text events straight to the verbs', () => {
  const svc = serviceForSuite();

  const joined = async (version: (typeof VERSIONS)[number], room: string, transport: (typeof TRANSPORTS)[number] = 'websocket'): Promise<TestClient> => {
    const client = await connect(version, svc.url, '/layout', { transport });
    expect(await request(client, 'JOIN', { room, name: `${version}-${transport}` })).to.include({ ok: true, room });
    return client;
  };

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: every NOTIFY answered, by the fast path on WebSocket only`, async () => {
        const room = `fast-${version}-${transport}`;
        const publisher = await joined(version, room, transport);
        const member = await joined('v4', room);
        const got = collect<Envelope>(member, 'EVENT', 20);
        const before = fastEventCount();
        const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => request(publisher, 'NOTIFY', { room, message: { i } })));
        const moved = fastEventCount() - before;
        // Handled in the order sent: the room's offsets follow it.
        const offsets = replies.map((r: { ok: boolean; offset: number; recipients: number }) => {
          expect(r).to.include({ ok: true, room, recipients: 1 });
          return r.offset;
        });
        expect(offsets).to.deep.equal(offsets.map((_, i) => offsets[0]! + i));
        expect((await got).map((e) => e.message.i)).to.deep.equal([...Array(20).keys()]);
        expect(moved).to.equal(transport === 'websocket' ? 20 : 0);
      });
    }

    it(`${version}: text (fast) and binary (socket.io's path) NOTIFYs of one connection stay in order`, async () => {
      const room = `mixed-${version}`;
      const publisher = await joined(version, room);
      const member = await joined('v4', room);
      const got = collect<Envelope>(member, 'EVENT', 30);
      const before = fastEventCount();
      // Sent back to back without waiting: a binary packet's parts and the text packets around it
      // arrive in one stream, and each path defers to the same tick queue.
      const replies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => request(publisher, 'NOTIFY', { room, message: i % 3 === 1 ? { i, blob: Buffer.from([i]) } : { i } })),
      );
      expect(fastEventCount() - before).to.equal(20);
      const offsets = replies.map((r: { offset: number }) => r.offset);
      expect(offsets).to.deep.equal(offsets.map((_, i) => offsets[0]! + i));
      const events = await got;
      expect(events.map((e) => e.message.i)).to.deep.equal([...Array(30).keys()]);
      expect(Buffer.from(events[1]!.message.blob as Uint8Array)).to.deep.equal(Buffer.from([1]));
    });
  }

  it('an event without an ack, an unknown event and a refused payload are answered as before', async () => {
    const room = 'fast-answers';
    const publisher = await joined('v4', room);
    const member = await joined('v4', room);
    const got = collect<Envelope>(member, 'EVENT', 1);
    const errors = collect<{ code: string; event: string }>(publisher, 'ERROR', 1);
    publisher.emit('NOTIFY', { room, message: { i: 7 } });
    expect((await got)[0]!.message.i).to.equal(7);
    expect(await request(publisher, 'NO_SUCH_VERB', {})).to.deep.include({ ok: false });
    expect((await request(publisher, 'NOTIFY', { room })) as { error: { code: string } }).to.have.nested.property('error.code', 'INVALID_PAYLOAD');
    publisher.emit('NOTIFY', 'not json');
    expect((await errors)[0]).to.include({ event: 'NOTIFY' });
  });

  it("takes socket.io's path for a socket with a per-packet middleware (socket.use), which then sees every event", async () => {
    const room = 'fast-middleware';
    const publisher = await joined('v4', room);
    const socket = svc.service.io.of('/layout').sockets.get(publisher.id)!;
    const seen: unknown[] = [];
    socket.use((packet, next) => {
      seen.push(packet[0]);
      next();
    });
    const before = fastEventCount();
    expect(await request(publisher, 'NOTIFY', { room, message: { i: 1 } })).to.include({ ok: true });
    expect(await request(publisher, 'LEAVE', { room })).to.include({ ok: true, wasMember: true });
    expect(seen).to.deep.equal(['NOTIFY', 'LEAVE']);
    // Decoded by the fast path, handed to socket.io's _onpacket when its turn came.
    expect(fastEventCount() - before).to.equal(2);
  });
});

describe('event fast path: the packet length bounds a message (checkSize skips measuring it)', () => {
  it('no JSON text re-encodes to more than 6 UTF-8 bytes per character', () => {
    // The worst cases: numbers written out longer than their source, multi-byte characters.
    const texts = ['1e20', '-1e20', '9e20', '1e19', '123e18', '[1e20,1e20,1e20]', '{"a":1e20}', '5e-324', '"é"', '"\\u00e9"', '"😀"', '"\\ud800"', '"\\u0000"', '[0.1,-0,1E20]', '"\\/"'];
    for (let e = 0; e <= 25; e++) texts.push(`1e${e}`, `7e${e}`, `1.5e${e}`, `-3e-${e}`);
    for (const text of texts) {
      const bytes = Buffer.byteLength(JSON.stringify(JSON.parse(text)));
      expect(bytes, text).to.be.at.most(6 * text.length);
    }
  });

  it('answers as before whichever way it decides', () => {
    const limits = { maxPayload: 600 } as Parameters<typeof checkSize>[2];
    // Short packet: cannot exceed, not measured. Long packet: measured, refused when over.
    expect(() => checkSize(undefined, { x: 'y'.repeat(50) }, limits, 90)).not.to.throw();
    expect(() => checkSize(undefined, { x: 'y'.repeat(700) }, limits, 740)).to.throw(/exceeds 600 bytes/);
    expect(() => checkSize(undefined, { x: 'y'.repeat(500) }, limits, 540)).not.to.throw();
  });
});

describe('event fast path: the verbs that bound a message by its packet', () => {
  const svc = serviceForSuite();

  for (const transport of TRANSPORTS) {
    it(`/lobby BROADCAST and RTCSIGNAL, /trigger BROADCAST_*, /chat SEND_PRESENCE_EVENT ${transport === 'websocket' ? 'measure nothing over WebSocket' : 'are measured over polling'}`, async () => {
      const lobbyId = `bound-${transport}`;
      const [a, b] = await Promise.all([connect('v4', svc.url, '/lobby', { transport, query: { lobbyId } }), connect('v4', svc.url, '/lobby', { query: { lobbyId } })]);
      const trigger = await connect('v4', svc.url, '/trigger', { transport });
      const chat = await connect('v4', svc.url, '/chat', { transport, query: { name: 'c' } });
      const subscribed = next(chat, 'CHANNEL_SUBSCRIBED');
      chat.emit('SUBSCRIBE_CHANNEL', { channel: { type: 'topic', _id: lobbyId } });
      await subscribed;
      const before = measuredMessageCount();
      expect(await request(a, 'BROADCAST', { message: { hello: 1 } })).to.include({ ok: true, lobby: lobbyId });
      expect(await request(a, 'RTCSIGNAL', { to: b.id, sdp: 'x' })).to.include({ ok: true, to: b.id });
      expect(await request(trigger, 'BROADCAST_EVENTS', lobbyId, { data: [1, 2] })).to.include({ ok: true, room: lobbyId });
      expect(await request(chat, 'SEND_PRESENCE_EVENT', { channel: { type: 'topic', _id: lobbyId }, category: 'app.event.presence.party.typing', content: { typing: true } })).to.include({ ok: true });
      expect(measuredMessageCount() - before).to.equal(transport === 'websocket' ? 0 : 4);
    });
  }
});

describe('event fast path with a small --max-payload', () => {
  const svc = serviceForSuite({ maxPayload: 600 });

  it('a NOTIFY over WebSocket is refused PAYLOAD_TOO_LARGE when its message is over, accepted just under', async () => {
    const publisher = await connect('v4', svc.url, '/layout');
    const before = fastEventCount();
    const over = await request<{ ok: boolean; error?: { code: string } }>(publisher, 'NOTIFY', { room: 'small', message: { blob: 'x'.repeat(600) } });
    expect(over.error?.code).to.equal('PAYLOAD_TOO_LARGE');
    expect(await request(publisher, 'NOTIFY', { room: 'small', message: { blob: 'x'.repeat(560) } })).to.include({ ok: true });
    expect(await request(publisher, 'NOTIFY', { room: 'small', message: { blob: 'x'.repeat(50) } })).to.include({ ok: true });
    expect(fastEventCount() - before).to.equal(3);
  });
});
