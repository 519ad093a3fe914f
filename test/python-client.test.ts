/**
 * A real python-socketio client (Debian's python3-socketio 5.7 / python-engineio 4.3) with
 * ordinary one-argument handlers, on a node in memory and on a node in cluster mode, over
 * WebSocket and over long-polling only: JOIN, NOTIFY both ways, EVENT, LEAVE, a burst of 100
 * NOTIFYs in order; with connection-state recovery on (the default), next to a socket.io-client 4
 * that still recovers by itself.
 */
import { expect } from 'chai';
import { io as ioV4, type Socket as ClientSocket } from 'socket.io-client';
import { closeAll, connect, request, TRANSPORTS, type TestClient } from './helpers/clients.js';
import { MODES, startInMode, waitUntil } from './helpers/cluster.js';
import { dropTransport } from './helpers/history.js';
import { PythonClient, requirePythonOrSkip } from './helpers/python.js';
import type { Running } from './helpers/service.js';

for (const mode of MODES) {
  describe(`python-socketio client (${mode === 'memory' ? 'one node in memory' : 'cluster mode'})`, function () {
    let svc: Running;
    let python: string;
    const pys: PythonClient[] = [];
    const opened: ClientSocket[] = [];
    before(async function () {
      python = requirePythonOrSkip(this);
      svc = await startInMode(this, mode);
    });
    after(() => svc?.close());
    afterEach(async () => {
      await Promise.all(pys.splice(0).map((p) => p.close()));
      for (const s of opened.splice(0)) s.close();
      closeAll();
    });

    const pyClient = async (transport: 'websocket' | 'polling'): Promise<PythonClient> => {
      const py = new PythonClient(python, svc.url, '/layout', transport, ['EVENT', 'ERROR']);
      pys.push(py);
      expect(await py.connected()).to.equal(transport);
      return py;
    };

    for (const transport of TRANSPORTS) {
      describe(`over ${transport === 'polling' ? 'long-polling only' : 'WebSocket'}`, () => {
        it('JOIN, NOTIFY both ways, EVENT with one-argument handlers, LEAVE', async () => {
          const room = `py-${mode}-${transport}`;
          const py = await pyClient(transport);
          const [joined] = await py.request('JOIN', { room, name: 'py' });
          expect(joined).to.deep.include({ ok: true, room, name: 'py' });

          const js = await connect('v4', svc.url, '/layout', { transport });
          const jsArgs: unknown[][] = [];
          js.on('EVENT', (...args: unknown[]) => jsArgs.push(args));
          expect(await request(js, 'JOIN', { room, name: 'js' })).to.include({ ok: true });

          // JS -> python: the envelope as the only argument.
          expect(await request(js, 'NOTIFY', { room, message: { from: 'js' } })).to.include({ ok: true, recipients: 1 });
          const [fromJs] = await py.collect('EVENT', 1);
          expect(fromJs).to.deep.include({ sender: 'js', room, message: { from: 'js' } });
          expect(fromJs.meta).to.include({ offset: 1 });

          // python -> JS: a socket.io-client 4 still gets the recovery offset as a last argument.
          const [published] = await py.request('NOTIFY', { room, message: 'from python' });
          expect(published).to.include({ ok: true, room, offset: 2, recipients: 1 });
          await waitUntil('the EVENT at the JS client', () => jsArgs.length === 1);
          expect(jsArgs[0]![0]).to.deep.include({ sender: 'py', room, message: 'from python' });
          expect(jsArgs[0]).to.have.length(2);
          expect(jsArgs[0]![1]).to.be.a('string');

          // A namespace-wide broadcast (socket.io's generic path, not the one-room fast path).
          svc.service.io.of('/layout').emit('EVENT', { sender: 'server', room: '*', message: 'everyone' });
          const [, everyone] = await py.collect('EVENT', 2);
          expect(everyone).to.deep.equal({ sender: 'server', room: '*', message: 'everyone' });

          const [left] = await py.request('LEAVE', { room });
          expect(left).to.include({ ok: true });
          expect(await request(js, 'NOTIFY', { room, message: 'after leave' })).to.include({ ok: true, recipients: 0 });
          expect(py.errors()).to.deep.equal([]);
        });

        it('a burst of 100 NOTIFYs reaches it whole and in order', async () => {
          const room = `py-burst-${mode}-${transport}`;
          const py = await pyClient(transport);
          expect((await py.request('JOIN', { room, name: 'py' }))[0]).to.include({ ok: true });
          const pub = await connect('v4', svc.url, '/layout');
          const acks = Array.from({ length: 100 }, (_, i) => request(pub, 'NOTIFY', { room, message: i }));
          for (const ack of await Promise.all(acks)) expect(ack).to.include({ ok: true, recipients: 1 });

          const got = await py.collect('EVENT', 100, 15_000);
          // Every one reached its handler once (python-engineio runs handlers in threads of their own,
          // in any order) ...
          const inOrder = Array.from({ length: 100 }, (_, i) => i);
          expect(got.map((e) => e.message).sort((a, b) => a - b)).to.deep.equal(inOrder);
          // ... and they came off the connection in order, each an EVENT with one argument.
          const wire = py.wire();
          expect(wire.map((args) => args.length)).to.deep.equal(inOrder.map(() => 2));
          expect(wire.map((args) => (args[1] as { message: number }).message)).to.deep.equal(inOrder);
          expect(wire.map((args) => (args[1] as { meta: { offset: number } }).meta.offset)).to.deep.equal(inOrder.map((i) => i + 1));
          // Still connected and answering.
          expect((await py.request('LEAVE', { room }))[0]).to.include({ ok: true });
          expect(py.errors()).to.deep.equal([]);
        });
      });
    }

    it('a socket.io-client 4 on the same server still recovers a dropped connection by itself', async () => {
      const room = `py-csr-${mode}`;
      const py = await pyClient('websocket');
      expect((await py.request('JOIN', { room, name: 'py' }))[0]).to.include({ ok: true });
      const sub = ioV4(svc.url + '/layout', { transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
      opened.push(sub);
      await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
      const id = sub.id!;
      const messages: unknown[] = [];
      sub.on('EVENT', (e: { message: unknown }) => messages.push(e.message));
      expect(await sub.timeout(5000).emitWithAck('JOIN', { room, name: 'tv' })).to.include({ ok: true });
      const pub: TestClient = await connect('v4', svc.url, '/layout');
      await request(pub, 'NOTIFY', { room, message: 'before' });
      await waitUntil('the first EVENT', () => messages.length === 1);

      const reconnected = new Promise<void>((resolve) => sub.once('connect', () => resolve()));
      const { gone } = dropTransport(svc, '/layout', id);
      expect(await gone).to.equal('transport close');
      await request(pub, 'NOTIFY', { room, message: 'while away' });
      await reconnected;
      expect(sub.recovered).to.equal(true);
      expect(sub.id).to.equal(id);
      await request(pub, 'NOTIFY', { room, message: 'after' });
      await waitUntil('three EVENTs', () => messages.length === 3);
      expect(messages).to.deep.equal(['before', 'while away', 'after']);
      // The python client got the three, one argument each.
      expect((await py.collect('EVENT', 3)).map((e) => e.message)).to.deep.equal(['before', 'while away', 'after']);
      expect(py.errors()).to.deep.equal([]);
    });
  });
}

