import { expect } from 'chai';
import { connect, next, recorder, request, type TestClient } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';

// /bus speaks the same protocol as /layout: the whole suite runs on both, in memory and on Redis.
for (const mode of MODES) for (const nsp of ['/layout', '/bus']) {
  describe(`${nsp} namespace${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
    const svc = inModeForSuite(mode);

    const join = async (client: TestClient, room: string, name?: string) => {
      const reply = await request(client, 'JOIN', JSON.stringify(name === undefined ? { room } : { room, name }));
      expect(reply).to.include({ ok: true, room });
      return reply;
    };

    it('JOIN with a JSON string and an ack, as the 2-IMMERSE client library does', async () => {
      const a = await connect('v1', svc.url, nsp, { transport: 'polling' });
      const reply = await request(a, 'JOIN', JSON.stringify({ room: 'r', name: 'alice' }));
      expect(reply).to.deep.equal({ ok: true, room: 'r', name: 'alice' });
    });

    it('JOIN with an object payload', async () => {
      const a = await connect('v4', svc.url, nsp);
      expect(await request(a, 'JOIN', { room: 'obj', name: 'bob' })).to.deep.equal({ ok: true, room: 'obj', name: 'bob' });
    });

    it('NOTIFY reaches every other member as EVENT {sender, room, message}, not the publisher', async () => {
      const [a, b, c] = await Promise.all([connect('v4', svc.url, nsp), connect('v2', svc.url, nsp), connect('v1', svc.url, nsp)]);
      await join(a, 'news', 'alice');
      await join(b, 'news', 'bob');
      await join(c, 'news', 'carol');
      const self = recorder(a, 'EVENT');
      const gotB = next(b, 'EVENT');
      const gotC = next(c, 'EVENT');
      const reply = await request(a, 'NOTIFY', JSON.stringify({ room: 'news', message: { kind: 'layout', n: 1 } }));
      expect(reply).to.deep.equal({ ok: true, room: 'news', offset: 1, recipients: 2 });
      const expected = { sender: 'alice', room: 'news', message: { kind: 'layout', n: 1 } };
      const envelope = await gotB;
      expect(envelope).to.have.keys('sender', 'room', 'message', 'meta');
      expect(envelope).to.deep.include(expected);
      expect(envelope.meta).to.have.keys('offset', 'epoch', 'ts').and.include({ offset: 1 });
      // The real clients read `data.message` of EVENT.
      expect((await gotC).message).to.deep.equal(expected.message);
      // The ack is sent after the fan-out on the same connection: an own EVENT would be here by now.
      expect(self.received).to.be.empty;
    });

    it('keeps the JSON type of message: string stays string, object stays object', async () => {
      const [a, b] = await Promise.all([connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
      await join(b, 'types', 'bob');
      const values: unknown[] = ['plain text', '{"looks":"like json"}', 42, true, null, [1, 'two'], { nested: { deep: [1, 2] } }];
      for (const message of values) {
        const got = next(b, 'EVENT');
        await request(a, 'NOTIFY', { room: 'types', message });
        expect((await got).message).to.deep.equal(message);
      }
    });

    it("names a publisher that never joined 'unknown', and one that joined without a name by its socket id", async () => {
      const [a, b, c] = await Promise.all([connect('v4', svc.url, nsp), connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
      await join(b, 'anon');
      const got = next(b, 'EVENT');
      await request(a, 'NOTIFY', { room: 'anon', message: 'hi' });
      expect(await got).to.deep.include({ sender: 'unknown', room: 'anon', message: 'hi' });

      const joined = await join(c, 'anon');
      expect(joined.name).to.equal(c.id);
      const got2 = next(b, 'EVENT');
      await request(c, 'NOTIFY', { room: 'anon', message: 'from c' });
      expect((await got2).sender).to.equal(c.id);
    });

    it('uses the name a socket joined a room with as the sender in that room', async () => {
      const [a, b] = await Promise.all([connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
      await join(a, 'one', 'a-in-one');
      await join(a, 'two', 'a-in-two');
      await join(b, 'one', 'b');
      const got = next(b, 'EVENT');
      await request(a, 'NOTIFY', { room: 'one', message: 1 });
      expect((await got).sender).to.equal('a-in-one');
    });

    it('LEAVE stops delivery; the socket stays in its other rooms', async () => {
      const [a, b] = await Promise.all([connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
      await join(b, 'stay', 'b');
      await join(b, 'go', 'b');
      expect(await request(b, 'LEAVE', JSON.stringify({ room: 'go' }))).to.deep.equal({ ok: true, room: 'go', wasMember: true });
      const events = recorder(b, 'EVENT');
      await request(a, 'NOTIFY', { room: 'go', message: 'missed' });
      const marker = next(b, 'EVENT');
      await request(a, 'NOTIFY', { room: 'stay', message: 'marker' });
      expect((await marker).message).to.equal('marker');
      expect(events.received.map((e: any) => e.message)).to.deep.equal(['marker']);
    });

    it('CLIENTS replies to the requester only, listing exactly the members of that room', async () => {
      const [a, b, c] = await Promise.all([connect('v4', svc.url, nsp), connect('v1', svc.url, nsp), connect('v2', svc.url, nsp)]);
      await join(a, 'room-x', 'alice');
      await join(b, 'room-x', 'bob');
      await join(c, 'room-y', 'carol');
      const others = recorder(b, 'CLIENTS');
      const event = next(a, 'CLIENTS');
      const reply = await request(a, 'CLIENTS', JSON.stringify({ room: 'room-x' }));
      expect(reply.ok).to.equal(true);
      expect(reply.clients).to.have.members(['alice', 'bob']).and.have.length(2);
      const ev = await event;
      expect(ev.room).to.equal('room-x');
      expect(ev.clients).to.have.members(['alice', 'bob']);
      // A later reply on b's own connection proves no CLIENTS for a arrived at b.
      await request(b, 'CLIENTS', { room: 'room-y' });
      expect(others.received).to.have.length(1);
      expect((others.received[0] as any).clients).to.deep.equal(['carol']);
    });

    it('CLIENTS also answers with an event when the client passes no ack (the original behaviour)', async () => {
      const a = await connect('v1', svc.url, nsp);
      await join(a, 'noack', 'alice');
      const got = next(a, 'CLIENTS');
      a.emit('CLIENTS', JSON.stringify({ room: 'noack' }));
      expect(await got).to.deep.equal({ room: 'noack', clients: ['alice'] });
    });

    it('a disconnect removes the socket from every room it was in', async () => {
      const [a, b] = await Promise.all([connect('v4', svc.url, nsp), connect('v4', svc.url, nsp)]);
      await join(a, 'd1', 'alice');
      await join(a, 'd2', 'alice');
      await join(b, 'd1', 'bob');
      const serverSide = svc.service.io.of(nsp).sockets.get(a.id)!;
      const gone = new Promise((resolve) => serverSide.once('disconnect', resolve));
      a.close();
      await gone;
      expect((await request(b, 'CLIENTS', { room: 'd1' })).clients).to.deep.equal(['bob']);
      expect((await request(b, 'CLIENTS', { room: 'd2' })).clients).to.deep.equal([]);
    });

    it('reports failures as an ERROR event {code, message, event} when no ack is given', async () => {
      const a = await connect('v2', svc.url, nsp);
      const error = next(a, 'ERROR');
      a.emit('JOIN', JSON.stringify({ name: 'no room' }));
      expect(await error).to.deep.include({ code: 'INVALID_ROOM', event: 'JOIN' });
    });

    it('delivers a 2 MB message with the default limit', async () => {
      const [a, b] = await Promise.all([connect('v4', svc.url, nsp), connect('v1', svc.url, nsp, { transport: 'polling' })]);
      await join(b, 'big', 'b');
      const message = 'x'.repeat(2 * 1024 * 1024);
      const got = next(b, 'EVENT', 15000);
      expect(await request(a, 'NOTIFY', JSON.stringify({ room: 'big', message }))).to.include({ ok: true });
      expect((await got).message).to.have.length(message.length);
    });
  });
}
