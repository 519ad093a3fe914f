/**
 * socket.io connection-state recovery of v4 clients on the fan-out adapter: a dropped transport is
 * recovered with no code on the client, the restored socket passes the middlewares again, and JOIN
 * `since` on top of it neither replays nor doubles anything.
 */
import { serverPublisher } from '../lib/core/hub.js';
import { expect } from 'chai';
import { io as ioV4, type Socket as ClientSocket } from 'socket.io-client';
import type { MessageMeta } from '../lib/history/types.js';
import { RecoveringFanoutAdapter } from '../lib/history/recovery.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { dropTransport } from './helpers/history.js';
import { startService, type Running } from './helpers/service.js';

interface Envelope {
  sender: string;
  room: string;
  message: unknown;
  meta: MessageMeta;
}

/** A v4 client that reconnects by itself, as applications run it. */
function recoveringClient(url: string, nsp: string, query?: Record<string, string>): Promise<ClientSocket> {
  const socket = ioV4(url + nsp, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, query });
  opened.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}
const opened: ClientSocket[] = [];

const ack = <T = any>(socket: ClientSocket, event: string, ...args: unknown[]): Promise<T> =>
  socket.timeout(5000).emitWithAck(event, ...args) as Promise<T>;

describe('connection-state recovery (socket.io v4 clients)', () => {
  let svc: Running;
  const middlewareSaw: boolean[] = [];
  before(async () => {
    svc = await startService();
    // Any connection middleware (authentication, once there is one) must see recovered sockets too.
    svc.service.io.of('/layout').use((socket, nextMw) => {
      middlewareSaw.push(socket.recovered);
      nextMw();
    });
  });
  after(() => svc.close());
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    closeAll();
  });

  it('recovers a dropped transport: same socket, rooms and name, the missed messages in order, then live ones', async () => {
    const room = 'csr';
    const nsp = svc.service.io.of('/layout');
    const sub = await recoveringClient(svc.url, '/layout');
    const id = sub.id!;
    expect(await ack(sub, 'JOIN', { room, name: 'tv' })).to.include({ ok: true });
    const events: Envelope[] = [];
    // Live and replayed alike: the envelope, then the one packet id socket.io appends.
    const trailing: unknown[][] = [];
    sub.on('EVENT', (e: Envelope, ...rest: unknown[]) => (events.push(e), trailing.push(rest)));
    const pub = await connect('v4', svc.url, '/layout');
    for (let i = 1; i <= 3; i++) await request(pub, 'NOTIFY', { room, message: `m${i}` });
    while (events.length < 3) await new Promise((r) => sub.once('EVENT', r));

    // Two go out as the connection is cut under them, two more while it is away.
    svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: 'm4' });
    svc.service.core.publish(serverPublisher(nsp.name), room, 'EVENT', { sender: 'server', room, message: 'm5' });
    const reconnected = new Promise<void>((resolve) => sub.once('connect', () => resolve()));
    const { gone } = dropTransport(svc, '/layout', id);
    expect(await gone).to.equal('transport close');
    await request(pub, 'NOTIFY', { room, message: 'm6' });
    await request(pub, 'NOTIFY', { room, message: 'm7' });
    const sawBefore = middlewareSaw.length;
    await reconnected;

    expect(sub.recovered).to.equal(true);
    expect(sub.id).to.equal(id);
    expect(middlewareSaw.slice(sawBefore)).to.deep.equal([true]);
    // Still in the room under its name (presence restored), without a new JOIN.
    expect((await request(pub, 'CLIENTS', { room })).clients).to.deep.equal(['tv']);
    await request(pub, 'NOTIFY', { room, message: 'm8' });
    while (events.length < 8) await new Promise((r) => sub.once('EVENT', r));
    expect(events.map((e) => e.message)).to.deep.equal(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']);
    expect(events.map((e) => e.meta.offset)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(trailing.map((rest) => rest.length)).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1]);

    // A client that always re-JOINs with `since` on connect gets nothing twice.
    const rejoin = await ack(sub, 'JOIN', { room, name: 'tv', since: events[7]!.meta });
    expect(rejoin).to.include({ ok: true, recovered: true, replayed: 0 });
    await request(pub, 'NOTIFY', { room, message: 'm9' });
    while (events.length < 9) await new Promise((r) => sub.once('EVENT', r));
    expect(events.map((e) => e.meta.offset)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a session the middlewares refuse gets nothing', async () => {
    const refusing = await startService();
    let refuse = false;
    refusing.service.io.of('/layout').use((_socket, nextMw) => nextMw(refuse ? new Error('credentials revoked') : undefined));
    try {
      const sub = await recoveringClient(refusing.url, '/layout');
      await ack(sub, 'JOIN', { room: 'secret', name: 'tv' });
      const pub = await connect('v4', refusing.url, '/layout');
      const got = new Promise((r) => sub.once('EVENT', r));
      await request(pub, 'NOTIFY', { room: 'secret', message: 'before' });
      await got;
      // Every packet that reaches the client, whether its socket would show it or not.
      const leaked: unknown[] = [];
      sub.io.on('packet', (packet: { type: number; data?: unknown }) => {
        if (packet.type === 2) leaked.push(packet.data);
      });
      refuse = true;
      const refused = new Promise((r) => sub.once('connect_error', r));
      const { gone } = dropTransport(refusing, '/layout', sub.id!);
      await gone;
      await request(pub, 'NOTIFY', { room: 'secret', message: 'while away' });
      expect(((await refused) as Error).message).to.equal('credentials revoked');
      sub.close();
      // The refused session left no member behind, and nothing was sent to it.
      expect((await request(pub, 'CLIENTS', { room: 'secret' })).clients).to.deep.equal([]);
      expect(leaked).to.deep.equal([]);
    } finally {
      await refusing.close();
    }
  });

  it('/lobby: a recovered member is announced again (the lobby saw it leave)', async () => {
    const a = await recoveringClient(svc.url, '/lobby', { lobbyId: 'csr-lobby' });
    const b = await connect('v4', svc.url, '/lobby', { query: { lobbyId: 'csr-lobby' } });
    await request(b, 'JOIN', 'csr-lobby');
    const left = next(b, 'LEFT');
    const joined = next(b, 'JOINED');
    const { gone } = dropTransport(svc, '/lobby', a.id!);
    await gone;
    expect(await left).to.equal(a.id);
    expect(await joined).to.equal(a.id);
    expect(a.recovered).to.equal(true);
    const message = new Promise((r) => a.once('MESSAGE', r));
    await request(b, 'BROADCAST', { message: 'welcome back' });
    expect(await message).to.deep.include({ from: b.id, message: 'welcome back' });
  });

  it('/layout: a recovered member is announced again to the room\'s presence watchers (they saw it leave)', async () => {
    const a = await recoveringClient(svc.url, '/layout');
    await ack(a, 'JOIN', { room: 'csr-watched', name: 'alice' });
    const w = await connect('v4', svc.url, '/layout');
    expect(await request(w, 'JOIN', { room: 'csr-watched', name: 'w', presence: true })).to.include({ ok: true, presence: true });
    // A message received: what the client resumes from.
    const event = new Promise((r) => a.once('EVENT', r));
    await request(w, 'NOTIFY', { room: 'csr-watched', message: 'hello' });
    await event;
    const left = next(w, 'LEFT');
    const joined = next(w, 'JOINED');
    const { gone } = dropTransport(svc, '/layout', a.id!);
    await gone;
    const notice = { room: 'csr-watched', id: a.id, name: 'alice' };
    expect(await left).to.deep.equal(notice);
    expect(await joined).to.deep.equal(notice);
    expect(a.recovered).to.equal(true);
  });

  it('keeps no session for Engine.IO v3 clients (1.x, 2.x never resume)', async () => {
    const adapter = svc.service.io.of('/layout').adapter as RecoveringFanoutAdapter;
    expect(adapter).to.be.instanceOf(RecoveringFanoutAdapter);
    const sessions = (adapter as unknown as { sessions: Map<string, unknown> }).sessions;
    const before = sessions.size;
    const legacy = await connect('v2', svc.url, '/layout');
    await request(legacy, 'JOIN', { room: 'legacy' });
    const { gone } = dropTransport(svc, '/layout', legacy.id);
    await gone;
    expect(sessions.size).to.equal(before);
  });

  it('--recovery-window 0 turns it off: the plain fan-out adapter, a new socket after a drop', async () => {
    const off = await startService({ recoveryWindowMs: 0 });
    try {
      expect(off.service.io.of('/layout').adapter).to.not.be.instanceOf(RecoveringFanoutAdapter);
      const sub = await recoveringClient(off.url, '/layout');
      const id = sub.id;
      await ack(sub, 'JOIN', { room: 'r' });
      const reconnected = new Promise<void>((resolve) => sub.once('connect', () => resolve()));
      await dropTransport(off, '/layout', id!).gone;
      await reconnected;
      expect(sub.recovered).to.not.equal(true);
      expect(sub.id).to.not.equal(id);
      // The EVENT a listener reads has no extra trailing argument then.
      const pub = await connect('v4', off.url, '/layout');
      await ack(sub, 'JOIN', { room: 'r' });
      const args = new Promise<unknown[]>((r) => sub.once('EVENT', (...a: unknown[]) => r(a)));
      await request(pub, 'NOTIFY', { room: 'r', message: 1 });
      expect(await args).to.have.length(1);
    } finally {
      await off.close();
    }
  });
});
