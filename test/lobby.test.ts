import { expect } from 'chai';
import { connect, next, recorder, request } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';

// The same suite in memory and on Redis: only the adapter and the presence store differ.
for (const mode of MODES) describe(`/lobby namespace${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
  const svc = inModeForSuite(mode);

  it('joins the lobby given as ?lobbyId= at connect: PEERS to the joiner, JOINED to the lobby', async () => {
    const a = await connect('v4', svc.url, '/lobby', { query: { lobbyId: 'q1' } });
    const joined = next(a, 'JOINED');
    let resolvePeers: (peers: string[]) => void;
    const peers = new Promise<string[]>((resolve) => (resolvePeers = resolve));
    const b = await connect('v2', svc.url, '/lobby', { query: { lobbyId: 'q1' }, listeners: { PEERS: (p) => resolvePeers(p) } });
    expect(await peers).to.deep.equal([a.id]);
    expect(await joined).to.equal(b.id);
  });

  it('JOIN id answers PEERS and an ack with the joiner id; a second lobby is refused', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/lobby'), connect('v1', svc.url, '/lobby')]);
    expect(await request(a, 'JOIN', 'L1')).to.deep.equal({ ok: true, lobby: 'L1', id: a.id, peers: [] });
    const peers = next(b, 'PEERS');
    const joined = next(a, 'JOINED');
    const reply = await request(b, 'JOIN', 'L1');
    expect(reply).to.deep.equal({ ok: true, lobby: 'L1', id: b.id, peers: [a.id] });
    expect(await peers).to.deep.equal([a.id]);
    expect(await joined).to.equal(b.id);
    const again = await request(b, 'JOIN', 'L2');
    expect(again).to.deep.equal({ ok: false, error: { code: 'ALREADY_IN_LOBBY', message: 'already in lobby "L1": LEAVE it first' } });
    // Joining the same lobby again is harmless.
    expect(await request(b, 'JOIN', 'L1')).to.include({ ok: true });
  });

  it('sends LEFT on LEAVE and on disconnect', async () => {
    const [a, b, c] = await Promise.all([
      connect('v4', svc.url, '/lobby', { query: { lobbyId: 'L3' } }),
      connect('v2', svc.url, '/lobby', { query: { lobbyId: 'L3' } }),
      connect('v1', svc.url, '/lobby', { query: { lobbyId: 'L3' } }),
    ]);
    // Wait until all three are members.
    await request(c, 'JOIN', 'L3');
    const left1 = next(a, 'LEFT');
    expect(await request(b, 'LEAVE', 'L3')).to.deep.equal({ ok: true, lobby: 'L3' });
    expect(await left1).to.equal(b.id);
    const left2 = next(a, 'LEFT');
    c.close();
    expect(await left2).to.equal(c.id);
    expect(await request(b, 'LEAVE', 'L3')).to.deep.include({ ok: false });
  });

  it('a member gone while its join was under way is announced LEFT only, never JOINED after its LEFT', async () => {
    const a = await connect('v4', svc.url, '/lobby', { query: { lobbyId: 'gone' } });
    const heard: Array<[string, string]> = [];
    a.on('JOINED', (id: string) => heard.push(['JOINED', id]));
    a.on('LEFT', (id: string) => heard.push(['LEFT', id]));
    // The joins held until the test lets them go, as a slow presence store (Redis) holds them.
    const core = svc.service.core;
    const join = core.join;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let joined!: () => void;
    const finished = new Promise<void>((resolve) => (joined = resolve));
    core.join = async (...args) => {
      await gate;
      try {
        return await join.apply(core, args);
      } finally {
        joined();
      }
    };
    try {
      const left = next(a, 'LEFT');
      const b = await connect('v4', svc.url, '/lobby', { query: { lobbyId: 'gone' } });
      const id = b.id;
      b.close();
      expect(await left).to.equal(id);
      release();
      await finished;
    } finally {
      core.join = join;
    }
    // A later member's JOINED: a notice announced before it would have come by then.
    const marker = next(a, 'JOINED');
    const c = await connect('v4', svc.url, '/lobby', { query: { lobbyId: 'gone' } });
    expect(await marker).to.equal(c.id);
    expect(heard.map(([event]) => event)).to.deep.equal(['LEFT', 'JOINED']);
    expect(heard[1]).to.deep.equal(['JOINED', c.id]);
  });

  it('BROADCAST {message} sends MESSAGE {from, message} to the other members', async () => {
    const [a, b] = await Promise.all([
      connect('v4', svc.url, '/lobby', { query: { lobbyId: 'L4' } }),
      connect('v1', svc.url, '/lobby', { transport: 'polling', query: { lobbyId: 'L4' } }),
    ]);
    await request(b, 'JOIN', 'L4');
    const self = recorder(a, 'MESSAGE');
    const got = next(b, 'MESSAGE');
    expect(await request(a, 'BROADCAST', JSON.stringify({ message: { hello: 'lobby' } }))).to.deep.equal({ ok: true, lobby: 'L4', offset: 1, recipients: 1 });
    expect(await got).to.deep.include({ from: a.id, message: { hello: 'lobby' } }).and.have.nested.property('meta.offset', 1);
    expect(self.received).to.be.empty;
  });

  it('BROADCAST outside a lobby is refused with NOT_IN_LOBBY', async () => {
    const a = await connect('v4', svc.url, '/lobby');
    expect((await request(a, 'BROADCAST', { message: 1 })).error.code).to.equal('NOT_IN_LOBBY');
  });

  it('RTCSIGNAL is relayed to one peer of the same lobby with `from` set by the server', async () => {
    const [a, b, c] = await Promise.all([
      connect('v4', svc.url, '/lobby', { query: { lobbyId: 'rtc' } }),
      connect('v2', svc.url, '/lobby', { query: { lobbyId: 'rtc' } }),
      connect('v4', svc.url, '/lobby', { query: { lobbyId: 'rtc' } }),
    ]);
    await request(b, 'JOIN', 'rtc');
    await request(c, 'JOIN', 'rtc');
    const bystander = recorder(c, 'RTCSIGNAL');
    const got = next(b, 'RTCSIGNAL');
    const signal = { to: b.id, type: 'offer', sdp: 'v=0...', from: 'spoofed' };
    expect(await request(a, 'RTCSIGNAL', JSON.stringify(signal))).to.deep.equal({ ok: true, to: b.id });
    expect(await got).to.deep.equal({ ...signal, from: a.id });
    // c hears a later signal of its own, so it would have had the first one by now.
    const marker = next(c, 'RTCSIGNAL');
    await request(a, 'RTCSIGNAL', { to: c.id, type: 'marker' });
    expect((await marker).type).to.equal('marker');
    expect(bystander.received).to.have.length(1);
  });

  it('RTCSIGNAL to a socket outside the lobby is refused with PEER_NOT_FOUND', async () => {
    const [a, outsider] = await Promise.all([
      connect('v4', svc.url, '/lobby', { query: { lobbyId: 'rtc2' } }),
      connect('v4', svc.url, '/lobby', { query: { lobbyId: 'elsewhere' } }),
    ]);
    const heard = recorder(outsider, 'RTCSIGNAL');
    const reply = await request(a, 'RTCSIGNAL', { to: outsider.id, type: 'offer' });
    expect(reply.error.code).to.equal('PEER_NOT_FOUND');
    expect((await request(a, 'RTCSIGNAL', { type: 'offer' })).error.code).to.equal('INVALID_PAYLOAD');
    await request(outsider, 'JOIN', 'elsewhere');
    expect(heard.received).to.be.empty;
  });

  it('reports a bad lobbyId in the query as an ERROR event and stays usable', async () => {
    let resolveError: (e: any) => void;
    const error = new Promise<any>((resolve) => (resolveError = resolve));
    const a = await connect('v4', svc.url, '/lobby', { query: { lobbyId: 'x'.repeat(300) }, listeners: { ERROR: (e) => resolveError(e) } });
    expect((await error).code).to.equal('INVALID_ROOM');
    expect(await request(a, 'JOIN', 'fine')).to.include({ ok: true });
  });
});
