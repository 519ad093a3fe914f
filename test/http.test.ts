import { expect } from 'chai';
import { connect, next, recorder, request } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';

for (const mode of MODES) describe(`HTTP routes${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
  const svc = inModeForSuite(mode, { maxPayload: 64 * 1024 });

  const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(svc.url + path, { method: 'POST', body, headers });

  it('GET /healthcheck answers 200 OK', async () => {
    const res = await fetch(`${svc.url}/healthcheck`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('OK');
  });

  it('GET /readyz answers 200 OK (memory mode; cluster mode with Redis up); other methods 405', async () => {
    const res = await fetch(`${svc.url}/readyz`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('OK');
    expect((await fetch(`${svc.url}/readyz`, { method: 'POST' })).status).to.equal(405);
  });

  it('POST /bus-message/:room reaches every /bus member of that room as EVENT from POST', async () => {
    const [a, b, layout] = await Promise.all([
      connect('v4', svc.url, '/bus'),
      connect('v1', svc.url, '/bus', { transport: 'polling' }),
      connect('v4', svc.url, '/layout'),
    ]);
    await request(a, 'JOIN', { room: 'devices', name: 'a' });
    await request(b, 'JOIN', JSON.stringify({ room: 'devices', name: 'b' }));
    await request(layout, 'JOIN', { room: 'devices', name: 'wrong-namespace' });
    const notLayout = recorder(layout, 'EVENT');
    const gotA = next(a, 'EVENT');
    const gotB = next(b, 'EVENT');
    const body = { command: 'refresh', note: 'ünïcødé ✓' };
    const res = await post('/bus-message/devices', JSON.stringify(body));
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ ok: true, room: 'devices', recipients: 2, offset: 1 });
    const expected = { sender: 'POST', room: 'devices', message: body };
    expect(await gotA).to.deep.include(expected).and.have.nested.property('meta.offset', 1);
    expect(await gotB).to.deep.include(expected);
    await request(layout, 'CLIENTS', { room: 'devices' });
    expect(notLayout.received).to.be.empty;
  });

  it('decodes percent-encoded room names', async () => {
    const a = await connect('v4', svc.url, '/bus');
    await request(a, 'JOIN', { room: 'salle à manger/1', name: 'a' });
    const got = next(a, 'EVENT');
    const res = await post(`/bus-message/${encodeURIComponent('salle à manger/1')}`, '"hello"');
    expect(res.status).to.equal(200);
    expect((await got).message).to.equal('hello');
  });

  it('refuses bad JSON with 400 and a JSON error', async () => {
    const res = await post('/bus-message/r', '{"unterminated":');
    expect(res.status).to.equal(400);
    expect(await res.json()).to.deep.equal({ error: { code: 'INVALID_JSON', message: 'payload is not valid JSON' } });
  });

  it('refuses a body over the size limit with 413, declared or streamed', async () => {
    const big = JSON.stringify({ blob: 'x'.repeat(70 * 1024) });
    const res = await post('/bus-message/r', big);
    expect(res.status).to.equal(413);
    expect(((await res.json()) as any).error.code).to.equal('PAYLOAD_TOO_LARGE');
    // Chunked, so no content-length tells the size up front.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(8 * 1024)));
        controller.close();
      },
    });
    const chunked = await fetch(`${svc.url}/bus-message/r`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).to.equal(413);
  });

  it('answers 404 for unknown routes, 405 for a wrong method, 400 for a bad room', async () => {
    expect((await fetch(`${svc.url}/nope`)).status).to.equal(404);
    expect((await fetch(`${svc.url}/bus-message/r`)).status).to.equal(405);
    expect((await post(`/bus-message/${'r'.repeat(300)}`, '{}')).status).to.equal(400);
    expect((await post('/bus-message/%E0%A4%A', '{}')).status).to.equal(400);
  });

  it('stays healthy after all of that', async () => {
    expect((await fetch(`${svc.url}/healthcheck`)).status).to.equal(200);
  });
});
