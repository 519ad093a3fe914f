/**
 * socket.io-client 1.7 and 2.x (Engine.IO v3) next to v4 clients, over websocket and
 * long-polling, with text outside ASCII in both directions.
 */
import { expect } from 'chai';
import { connect, next, request, TRANSPORTS, VERSIONS, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

const TEXTS = ['café crème, naïve façade', '日本語のテキスト, 中文, 한국어', 'emoji 😀🎉👍🏽 and 𝄞', 'mixed: Ünïcødé ✓ € — “quotes” \u2028 end'];

describe('legacy and current clients together', () => {
  const svc = serviceForSuite();

  for (const transport of TRANSPORTS) {
    it(`v1.7, v2 and v4 clients exchange EVENTs in one room over ${transport}`, async () => {
      const clients = await Promise.all(VERSIONS.map((v) => connect(v, svc.url, '/layout', { transport })));
      for (const c of clients) {
        expect(await request(c, 'JOIN', JSON.stringify({ room: `mixed-${transport}`, name: c.version }))).to.include({ ok: true });
      }
      for (const sender of clients) {
        const others = clients.filter((c) => c !== sender);
        const received = others.map((c) => next(c, 'EVENT'));
        await request(sender, 'NOTIFY', JSON.stringify({ room: `mixed-${transport}`, message: { from: sender.version } }));
        for (const got of await Promise.all(received)) {
          expect(got).to.deep.include({ sender: sender.version, room: `mixed-${transport}`, message: { from: sender.version } });
        }
      }
      const reply = await request(clients[0]!, 'CLIENTS', JSON.stringify({ room: `mixed-${transport}` }));
      expect(reply.clients).to.have.members(['v1', 'v2', 'v4']);
    });

    for (const version of VERSIONS) {
      it(`${version} over ${transport}: non-ASCII text arrives intact in both directions`, async () => {
        const peerTransport = transport === 'polling' ? 'websocket' : 'polling';
        const subject = await connect(version, svc.url, '/layout', { transport });
        const peers: TestClient[] = await Promise.all([
          connect('v4', svc.url, '/layout', { transport: peerTransport }),
          connect('v1', svc.url, '/layout', { transport: peerTransport }),
        ]);
        const room = `utf8-${version}-${transport}`;
        // Non-ASCII in the room and name too.
        const name = `nom-${version}-é日😀`;
        expect(await request(subject, 'JOIN', JSON.stringify({ room: `${room}-ø`, name }))).to.deep.equal({ ok: true, room: `${room}-ø`, name });
        for (const p of peers) await request(p, 'JOIN', { room: `${room}-ø`, name: `peer-${p.version}` });

        for (const text of TEXTS) {
          // client -> server -> client, as a JSON string payload and as a plain object
          for (const asString of [true, false]) {
            const received = peers.map((p) => next(p, 'EVENT'));
            const payload = { room: `${room}-ø`, message: { text, list: [text] } };
            const ack = await request(subject, 'NOTIFY', asString ? JSON.stringify(payload) : payload);
            expect(ack).to.include({ ok: true });
            for (const got of await Promise.all(received)) {
              expect(got).to.deep.include({ sender: name, room: `${room}-ø`, message: { text, list: [text] } });
            }
          }
          // server -> this client: text published by a peer
          const incoming = next(subject, 'EVENT');
          await request(peers[0]!, 'NOTIFY', { room: `${room}-ø`, message: text });
          expect((await incoming).message).to.equal(text);
        }
        // and in the names CLIENTS lists
        const listed = next(subject, 'CLIENTS');
        subject.emit('CLIENTS', JSON.stringify({ room: `${room}-ø` }));
        expect((await listed).clients).to.include(name);
      });
    }

    it(`a 2 MB non-ASCII message passes between v1 and v2 over ${transport}`, async () => {
      const [a, b] = await Promise.all([connect('v1', svc.url, '/layout', { transport }), connect('v2', svc.url, '/layout', { transport })]);
      await request(b, 'JOIN', JSON.stringify({ room: 'big-utf8', name: 'b' }));
      await request(a, 'JOIN', JSON.stringify({ room: 'big-utf8', name: 'a' }));
      const message = 'é😀日'.repeat(170_000); // about 2 MB of UTF-8
      const got = next(b, 'EVENT', 20_000);
      expect(await request(a, 'NOTIFY', JSON.stringify({ room: 'big-utf8', message }))).to.include({ ok: true });
      expect((await got).message === message).to.equal(true);
      const back = next(a, 'EVENT', 20_000);
      await request(b, 'NOTIFY', { room: 'big-utf8', message });
      expect((await back).message === message).to.equal(true);
    });
  }
});
