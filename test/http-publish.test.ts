/**
 * POST /publish/:namespace/:room: one HTTP route for every namespace that takes HTTP messages,
 * each member getting it as its namespace's clients get a message (sender POST), on one node and in
 * cluster mode; the API key rules of POST /bus-message.
 */
import { expect } from 'chai';
import { connect, next, recorder, request } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';
import { secretAuth } from './helpers/auth.js';
import { serviceForSuite } from './helpers/service.js';
import { openSock } from './helpers/sock.js';

const post = (url: string, body: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', body, headers });
const errorCode = async (res: Response): Promise<string> => ((await res.json()) as { error: { code: string } }).error.code;

for (const mode of MODES) {
  describe(`POST /publish/:namespace/:room${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
    const svc = inModeForSuite(mode);

    it('/layout and /bus members get EVENT {sender: POST, room, message}; the other namespace does not', async () => {
      const [layout, bus] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v2', svc.url, '/bus')]);
      await request(layout, 'JOIN', { room: 'r1', name: 'l' });
      await request(bus, 'JOIN', { room: 'r1', name: 'b' });
      const notBus = recorder(bus, 'EVENT');
      const got = next(layout, 'EVENT');
      const res = await post(`${svc.url}/publish/layout/r1`, JSON.stringify({ n: 1 }));
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ ok: true, recipients: 1, offset: 1 });
      expect(await got).to.deep.include({ sender: 'POST', room: 'r1', message: { n: 1 } }).and.have.nested.property('meta.offset', 1);
      const onBus = next(bus, 'EVENT');
      expect(await (await post(`${svc.url}/publish/bus/r1`, '"x"')).json()).to.deep.equal({ ok: true, recipients: 1, offset: 1 });
      expect(await onBus).to.deep.include({ sender: 'POST', room: 'r1', message: 'x' });
      expect(notBus.received).to.have.length(1);
    });

    it('/chat subscribers get MESSAGE_SENT with category chat, the body as content and the service as sender', async () => {
      const c = await connect('v4', svc.url, '/chat', { query: { name: 'ann' } });
      await request(c, 'SUBSCRIBE_CHANNEL', { channel: { _id: 'space-9', type: 'topic' } });
      const got = next(c, 'MESSAGE_SENT');
      const res = await post(`${svc.url}/publish/chat/space-9`, JSON.stringify({ bodyText: 'hello' }));
      expect(await res.json()).to.deep.equal({ ok: true, recipients: 1, offset: 1 });
      const message = await got;
      expect(message).to.deep.include({ category: 'chat', topicId: 'space-9', content: { bodyText: 'hello' } });
      expect(message.sender).to.deep.equal({ _id: 'POST', displayname: 'POST', type: 'service' });
      expect(message._id).to.be.a('string').and.not.equal('');
      expect(new Date(message.created).toISOString()).to.equal(message.created);
      expect(message.meta).to.include({ offset: 1 });
    });

    it('/sock subscribers get a message frame {sender: POST, action: message, topic, payload, store, meta}', async () => {
      const ws = await openSock(svc.url.replace(/^http/, 'ws'));
      ws.send({ action: 'subscribe', topic: 't-1' });
      await ws.next('subscribe-topic');
      const got = ws.next('message');
      const res = await post(`${svc.url}/publish/sock/t-1`, JSON.stringify({ hello: 'sock' }));
      expect(await res.json()).to.deep.equal({ ok: true, recipients: 1, offset: 1 });
      const frame = await got;
      expect(frame).to.deep.include({ sender: 'POST', action: 'message', topic: 't-1', payload: { hello: 'sock' }, store: false });
      expect(frame.meta).to.include({ offset: 1 });
      expect(new Date(frame.timestamp as string).toISOString()).to.equal(frame.timestamp);
    });

    it('/lobby members get MESSAGE {from: POST, message}', async () => {
      const a = await connect('v4', svc.url, '/lobby');
      await request(a, 'JOIN', 'lob');
      const got = next(a, 'MESSAGE');
      expect((await post(`${svc.url}/publish/lobby/lob`, '[1,2]')).status).to.equal(200);
      expect(await got).to.deep.include({ from: 'POST', message: [1, 2] });
    });

    it('refuses namespaces that take no HTTP messages (404), bad rooms (400), other methods (405), bad JSON (400)', async () => {
      for (const path of ['/publish/trigger/r', '/publish/nothing/r', '/publish/layout', '/publish/Layout/r']) {
        const res = await post(svc.url + path, '{}');
        expect(res.status, path).to.equal(404);
        expect(await errorCode(res), path).to.equal('NOT_FOUND');
      }
      const bad = await post(`${svc.url}/publish/layout/${encodeURIComponent('x'.repeat(300))}`, '{}');
      expect(bad.status).to.equal(400);
      expect(await errorCode(bad)).to.equal('INVALID_ROOM');
      expect((await fetch(`${svc.url}/publish/layout/r`)).status).to.equal(405);
      const json = await post(`${svc.url}/publish/layout/r`, '{nope');
      expect(json.status).to.equal(400);
      expect(await errorCode(json)).to.equal('INVALID_JSON');
    });
  });
}

describe('POST /publish/:namespace/:room with auth on', () => {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: ['the-key'] }) });

  it('needs the API key (Bearer or X-API-Key): 401 without or with a wrong one', async () => {
    const url = `${svc.url}/publish/layout/r`;
    for (const headers of [{}, { 'x-api-key': 'wrong' }, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const res = await post(url, '{}', headers);
      expect(res.status).to.equal(401);
      expect(await errorCode(res)).to.equal('UNAUTHORIZED');
    }
    expect((await post(url, '{}', { 'x-api-key': 'the-key' })).status).to.equal(200);
    expect((await post(url, '{}', { authorization: 'Bearer the-key' })).status).to.equal(200);
  });
});
