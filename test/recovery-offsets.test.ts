/**
 * Which connections get the recovery offset as a last argument (lib/transport/recovery-offsets.ts): the
 * handshake URLs real clients write, and what real JavaScript clients of every version receive,
 * through the one-room fast path and socket.io's generic broadcast, on one node and in cluster mode.
 */
import { expect } from 'chai';
import { Adapter } from 'socket.io-adapter';
import { chooseOffsetPerConnection, offsetsWanted } from '../lib/transport/index.js';
import { connect, request, TRANSPORTS, VERSIONS, type ClientVersion, type TestClient } from './helpers/clients.js';
import { MODES, waitUntil, inModeForSuite } from './helpers/cluster.js';

describe('recovery offsets: the choice at the handshake', () => {
  const path = '/socket.io/?';
  it('socket.io-client 4 (engine.io-client 6) gets them, over both transports, with a user query too', () => {
    expect(offsetsWanted(path + 'EIO=4&transport=polling&t=ld7zswp7')).to.equal(true); // 6.5+: base36
    expect(offsetsWanted(path + 'EIO=4&transport=polling&t=OJ3b6pK')).to.equal(true); // 6.0-6.4: yeast
    expect(offsetsWanted(path + 'EIO=4&transport=websocket')).to.equal(true);
    expect(offsetsWanted(path + 'token=abc&lobbyId=x&EIO=4&transport=websocket')).to.equal(true);
  });
  it('python-engineio, Engine.IO v3 clients and unknown URLs do not', () => {
    expect(offsetsWanted(path + 'transport=polling&EIO=4&t=1733000000.123456')).to.equal(false);
    expect(offsetsWanted(path + 'transport=websocket&EIO=4')).to.equal(false);
    expect(offsetsWanted(path + 'EIO=3&transport=polling&t=NbT3x9k&b64=1')).to.equal(false);
    expect(offsetsWanted(path + 'EIO=3&transport=websocket')).to.equal(false);
    expect(offsetsWanted(path + 'EIO=4&transport=polling&t=1733000000.5')).to.equal(false);
    expect(offsetsWanted('/socket.io/')).to.equal(false);
    expect(offsetsWanted(undefined)).to.equal(false);
  });
  it('?recoveryOffsets=1|0 overrides it', () => {
    expect(offsetsWanted(path + 'recoveryOffsets=1&transport=polling&EIO=4&t=1733000000.1')).to.equal(true);
    expect(offsetsWanted(path + 'recoveryOffsets=0&EIO=4&transport=websocket')).to.equal(false);
  });
  it('refuses an adapter without the socket.io-adapter internals it hooks (the service does not start)', () => {
    expect(() => chooseOffsetPerConnection({ broadcast() {} })).to.throw(/socket\.io-adapter internals changed/);
    const broken = Object.assign(Object.create(Adapter.prototype) as object, { _encode: undefined });
    expect(() => chooseOffsetPerConnection(broken)).to.throw(/socket\.io-adapter internals changed/);
  });
});

for (const mode of MODES) {
  describe(`recovery offsets: what JavaScript clients receive (${mode === 'memory' ? 'one node in memory' : 'cluster mode'})`, function () {
    const svc = inModeForSuite(mode);

    /** The arguments of every EVENT a client gets. */
    const listen = (client: TestClient): unknown[][] => {
      const got: unknown[][] = [];
      client.on('EVENT', (...args: unknown[]) => got.push(args));
      return got;
    };

    const expected: Record<ClientVersion, number> = { v1: 1, v2: 1, v4: 2 };
    for (const version of VERSIONS) {
      for (const transport of TRANSPORTS) {
        it(`socket.io-client ${version} over ${transport}: ${expected[version] === 2 ? 'the offset' : 'no offset'} (room and namespace-wide broadcasts)`, async () => {
          const room = `off-${version}-${transport}`;
          const sub = await connect(version, svc.url, '/layout', { transport });
          const got = listen(sub);
          expect(await request(sub, 'JOIN', { room, name: 's' })).to.include({ ok: true });
          const pub = await connect('v4', svc.url, '/layout');
          await request(pub, 'NOTIFY', { room, message: 'room' });
          await waitUntil('the room EVENT', () => got.length === 1);
          svc.service.io.of('/layout').emit('EVENT', { sender: 'server', room: '*', message: 'all' });
          await waitUntil('two EVENTs', () => got.length === 2);
          expect(got.map((args) => (args[0] as { message: string }).message)).to.deep.equal(['room', 'all']);
          expect(got.map((args) => args.length)).to.deep.equal([expected[version], expected[version]]);
          if (version === 'v4') expect(got.map((args) => typeof args[1])).to.deep.equal(['string', 'string']);
        });
      }
    }

    it('a socket.io-client 4 with ?recoveryOffsets=0 gets none, next to one that does, in the same room', async () => {
      const room = 'off-mixed';
      const plain = await connect('v4', svc.url, '/layout', { query: { recoveryOffsets: '0' } });
      const usual = await connect('v4', svc.url, '/layout');
      const [gotPlain, gotUsual] = [listen(plain), listen(usual)];
      for (const c of [plain, usual]) expect(await request(c, 'JOIN', { room, name: 'x' })).to.include({ ok: true });
      const pub = await connect('v4', svc.url, '/layout');
      for (let i = 0; i < 3; i++) await request(pub, 'NOTIFY', { room, message: i });
      await waitUntil('three EVENTs each', () => gotPlain.length === 3 && gotUsual.length === 3);
      expect(gotPlain.map((args) => args.length)).to.deep.equal([1, 1, 1]);
      expect(gotUsual.map((args) => args.length)).to.deep.equal([2, 2, 2]);
      expect(gotPlain.map((args) => args[0])).to.deep.equal(gotUsual.map((args) => args[0]));
    });
  });
}
