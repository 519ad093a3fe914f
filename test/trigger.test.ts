import { expect } from 'chai';
import { connect, next, recorder, request } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';

// The same suite in memory and on Redis: only the adapter and the presence store differ.
for (const mode of MODES) describe(`/trigger namespace${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
  const svc = inModeForSuite(mode);

  for (const [verb, event] of [
    ['BROADCAST_EVENTS', 'EVENTS'],
    ['BROADCAST_UPDATES', 'UPDATES'],
    ['BROADCAST_STATUS', 'STATUS'],
  ] as const) {
    it(`${verb} (id, data) sends ${event} data to the other members of room id`, async () => {
      const [a, b, c] = await Promise.all([connect('v4', svc.url, '/trigger'), connect('v2', svc.url, '/trigger'), connect('v1', svc.url, '/trigger')]);
      await request(a, 'JOIN', 'ctx');
      expect(await request(b, 'JOIN', 'ctx')).to.deep.equal({ ok: true, room: 'ctx' });
      await request(c, 'JOIN', 'other');
      const self = recorder(a, event);
      const outsider = recorder(c, event);
      const got = next(b, event);
      const data = { events: [{ id: 'e1', state: 'on' }], text: 'déjà vu' };
      expect(await request(a, verb, 'ctx', data)).to.include({ ok: true, room: 'ctx', recipients: 1 }).and.have.property('offset');
      expect(await got).to.deep.equal(data);
      const marker = next(c, event);
      await request(a, verb, 'other', 'marker');
      expect(await marker).to.equal('marker');
      expect(self.received).to.be.empty;
      expect(outsider.received).to.deep.equal(['marker']);
    });
  }

  it('LEAVE id stops delivery', async () => {
    const [a, b] = await Promise.all([connect('v4', svc.url, '/trigger'), connect('v4', svc.url, '/trigger')]);
    await request(b, 'JOIN', 't1');
    await request(b, 'JOIN', 't2');
    expect(await request(b, 'LEAVE', 't1')).to.deep.equal({ ok: true, room: 't1', wasMember: true });
    const heard = recorder(b, 'STATUS');
    await request(a, 'BROADCAST_STATUS', 't1', 'missed');
    const marker = next(b, 'STATUS');
    await request(a, 'BROADCAST_STATUS', 't2', 'marker');
    await marker;
    expect(heard.received).to.deep.equal(['marker']);
  });

  it('refuses a missing id with INVALID_ROOM', async () => {
    const a = await connect('v4', svc.url, '/trigger');
    expect((await request(a, 'BROADCAST_EVENTS')).error.code).to.equal('INVALID_ROOM');
  });
});
