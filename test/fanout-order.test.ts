import { expect } from 'chai';
import { connect, next, request, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

/**
 * The fan-out writes pre-encoded frames straight to idle WebSocket connections and coalesces a
 * burst into one write per subscriber; Engine.IO's own packets (acks, replies) to the same
 * connection take its regular path. Whatever the mix, every subscriber must see every message
 * once, in publish order, and its own replies must still arrive.
 */
describe('fan-out ordering under bursts', () => {
  const svc = serviceForSuite();

  const BURST = 400;

  /** Resolves with the `n` values of the first `count` EVENTs. */
  const collect = (client: TestClient, count: number): Promise<number[]> =>
    new Promise((resolve) => {
      const seen: number[] = [];
      client.on('EVENT', (event: { message: { n: number } }) => {
        seen.push(event.message.n);
        if (seen.length === count) resolve(seen);
      });
    });

  it('delivers a burst of NOTIFYs once each and in order to every client version and transport', async () => {
    const publisher = await connect('v4', svc.url, '/layout');
    const subscribers = await Promise.all([
      connect('v4', svc.url, '/layout'),
      connect('v4', svc.url, '/layout', { transport: 'polling' }),
      connect('v2', svc.url, '/layout'),
      connect('v1', svc.url, '/layout', { transport: 'polling' }),
    ]);
    for (const s of subscribers) expect(await request(s, 'JOIN', { room: 'burst' })).to.include({ ok: true });
    const received = subscribers.map((s) => collect(s, BURST));
    // Fire without waiting, so many NOTIFYs reach the server in one read.
    for (let n = 0; n < BURST; n++) publisher.emit('NOTIFY', { room: 'burst', message: { n } });
    const expected = Array.from({ length: BURST }, (_, n) => n);
    for (const got of await Promise.all(received)) expect(got).to.deep.equal(expected);
  });

  it("keeps a subscriber's own replies flowing while it receives a burst", async () => {
    const [publisher, subscriber] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    await request(subscriber, 'JOIN', { room: 'mixed', name: 'sub' });
    const received = collect(subscriber, BURST);
    const replies: Promise<unknown>[] = [];
    for (let n = 0; n < BURST; n++) {
      publisher.emit('NOTIFY', { room: 'mixed', message: { n } });
      if (n % 50 === 0) replies.push(request(subscriber, 'CLIENTS', { room: 'mixed' }));
    }
    expect(await received).to.deep.equal(Array.from({ length: BURST }, (_, n) => n));
    for (const reply of await Promise.all(replies)) expect(reply).to.deep.include({ ok: true, clients: ['sub'] });
  });

  it('orders EVENTs after the JOIN ack that admitted the subscriber', async () => {
    const [publisher, subscriber] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    await request(subscriber, 'JOIN', { room: 'late' });
    const first = next(subscriber, 'EVENT');
    await request(publisher, 'NOTIFY', { room: 'late', message: 'hello' });
    expect(await first).to.deep.include({ room: 'late', message: 'hello' });
  });
});

describe('fan-out of binary messages', () => {
  const svc = serviceForSuite();

  it('delivers a message with binary content (sent as attachments, not as one text frame)', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
    await request(b, 'JOIN', { room: 'bin' });
    const got = next(b, 'EVENT');
    const reply = await request(a, 'NOTIFY', { room: 'bin', message: { blob: Buffer.from([1, 2, 3, 250]) } });
    expect(reply).to.include({ ok: true });
    const event = await got;
    expect(Buffer.from(event.message.blob)).to.deep.equal(Buffer.from([1, 2, 3, 250]));
  });
});
