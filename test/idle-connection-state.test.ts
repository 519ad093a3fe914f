/**
 * What the service itself keeps for an idle joined connection stays small (docs/PERFORMANCE.md,
 * "What an idle joined connection holds"): no large-packet queue in its decoder, its rate buckets
 * as plain numbers of one object, its presence entry as its name string (test/memory-presence.test.ts).
 */
import v8 from 'node:v8';
import { expect } from 'chai';
import { PacketRates } from '../lib/abuse/packet-rates.js';
import { closeAll, connect, request } from './helpers/clients.js';
import { startService, type Running } from './helpers/service.js';

v8.setFlagsFromString('--allow-natives-syntax');
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

describe('an idle joined connection: the service state it holds', () => {
  let svc: Running;
  before(async () => {
    svc = await startService();
  });
  after(() => svc.close());
  afterEach(() => closeAll());

  it('its decoder has no queue and a literal listener table, its rates are one object of numbers', async () => {
    const client = await connect('v4', svc.url, '/layout', { query: { tag: 'idle' } });
    expect(await request(client, 'JOIN', { room: 'idle-room', name: 'idle-name' })).to.include({ ok: true });
    const socket = [...svc.service.io.of('/layout').sockets.values()].find((s) => s.handshake.query.tag === 'idle')!;
    const decoder = (socket.client as unknown as { decoder: { queue?: unknown; rates: PacketRates; _callbacks: object } }).decoder;
    const added: Record<string, unknown> = {};
    added['$' + 'decoded'] = [];
    expect(sameMap(added, { $decoded: [] }), 'the check tells the two tables apart').to.equal(false);
    expect(sameMap(decoder._callbacks, { $decoded: [] }), 'listener table made by a literal').to.equal(true);
    expect(decoder.queue, 'no large-packet queue made').to.equal(undefined);
    expect(decoder.rates).to.be.instanceOf(PacketRates);
    const limits = (decoder.rates as unknown as { limits: object }).limits;
    const objects = Object.values(decoder.rates).filter((v) => typeof v === 'object' && v !== null);
    expect(objects, 'no bucket objects: only the shared limits').to.deep.equal([limits]);
    const names = socket.data.names;
    expect(names.get('idle-room')).to.equal('idle-name');
  });
});

describe('PacketRates (two leaky buckets in one object)', () => {
  const limits = { eventsPerSecond: 10, eventBurst: 3, bytesPerSecond: 1000, byteBurst: 100 };

  it('refuses past the event burst, cuts past twice the burst', () => {
    const rates = new PacketRates(limits);
    const kinds = Array.from({ length: 8 }, () => rates.packet('event', 1).kind);
    expect(kinds.slice(0, 3)).to.deep.equal(['ok', 'ok', 'ok']);
    expect(kinds.slice(3, 6)).to.deep.equal(['refuse', 'refuse', 'refuse']);
    const last = rates.packet('event', 1);
    expect(last).to.include({ kind: 'refuse', cut: true, limit: 'events' });
  });

  it('counts bytes of every packet and attachment; a packet over the byte burst is PAYLOAD_TOO_LARGE', () => {
    const rates = new PacketRates(limits);
    expect(rates.packet('other', 90).kind).to.equal('ok');
    expect(rates.attachment(50)).to.equal(true);
    expect(rates.packet('ack', 10).kind).to.equal('drop');
    expect(rates.attachment(100)).to.equal(false);
    expect(new PacketRates(limits).packet('event', 101)).to.include({ kind: 'refuse', code: 'PAYLOAD_TOO_LARGE' });
  });

  it('drains at the rate', async () => {
    const rates = new PacketRates({ ...limits, eventsPerSecond: 1000, eventBurst: 2 });
    rates.packet('event', 1);
    rates.packet('event', 1);
    expect(rates.packet('event', 1).kind).to.equal('refuse');
    await new Promise((resolve) => setTimeout(resolve, 20)); // 20 events drained
    expect(rates.packet('event', 1).kind).to.equal('ok');
  });
});
