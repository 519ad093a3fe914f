/**
 * The server HTTP API (lib/http/api-routes.ts): history, stored messages, presence and rooms of any
 * namespace's rooms, a user's token used where its rights allow, and POST /users/:user/disconnect
 * with a block, on one node and in cluster mode; real socket.io, /sock and SSE clients.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import { connect, next, request } from './helpers/clients.js';
import { MODES, waitUntil, inModeForSuite } from './helpers/cluster.js';
import { hsToken, refusal, secretAuth, withToken } from './helpers/auth.js';
import { tempDir } from './helpers/process.js';
import { serviceForSuite } from './helpers/service.js';
import { openSock, refusedUpgrade } from './helpers/sock.js';
import { openSse } from './helpers/sse.js';

const KEY = { 'x-api-key': 'k' };
const auth = secretAuth({ apiKeys: ['k'] });
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

const get = async (url: string, headers: Record<string, string> = KEY): Promise<{ status: number; body: any }> => {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
};
const post = async (url: string, body: string, headers: Record<string, string> = KEY): Promise<{ status: number; body: any }> => {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: await res.json() };
};

for (const mode of MODES) {
  describe(`server HTTP API${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
    const svc = inModeForSuite(mode, { auth });

    it('every route: 401 without or with bad credentials; the API-key-only routes are 403 for a user token', async () => {
      const token = await hsToken({ sub: 'ann', rooms: { subscribe: ['*'], publish: ['*'] } });
      const routes: [string, string][] = [
        ['GET', '/rooms/layout/a/history'],
        ['GET', '/rooms/layout/a/messages'],
        ['GET', '/rooms/layout/a/presence'],
        ['GET', '/rooms'],
        ['POST', '/users/ann/disconnect'],
        ['POST', '/publish/layout/a'],
      ];
      for (const [method, path] of routes) {
        for (const headers of [{}, { 'x-api-key': 'wrong' }, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
          const res = await fetch(svc.url + path, { method, headers, body: method === 'POST' ? '{}' : undefined });
          expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).to.equal(401);
          expect(((await res.json()) as any).error.code).to.equal('UNAUTHORIZED');
        }
      }
      expect((await get(`${svc.url}/rooms`, bearer(token))).status).to.equal(403);
      expect(await post(`${svc.url}/users/ann/disconnect`, '{}', bearer(token))).to.deep.include({ status: 403 });
    });

    it("a user's token: history, messages and presence with the subscribe right, publish with the publish right, else 403", async () => {
      const reader = await hsToken({ sub: 'ann', rooms: { subscribe: ['team-*'] } });
      const writer = await hsToken({ sub: 'bob', rooms: { publish: ['team-*'] } });
      for (const route of ['history', 'messages', 'presence']) {
        expect((await get(`${svc.url}/rooms/layout/team-1/${route}`, bearer(reader))).status, route).to.equal(200);
        const refused = await get(`${svc.url}/rooms/layout/other/${route}`, bearer(reader));
        expect(refused.status, route).to.equal(403);
        expect(refused.body.error.code).to.equal('FORBIDDEN');
      }
      expect(await post(`${svc.url}/publish/layout/team-1`, '{"n":1}', bearer(writer))).to.deep.equal({ status: 200, body: { ok: true, recipients: 0, offset: 1 } });
      expect((await post(`${svc.url}/publish/layout/other`, '{"n":1}', bearer(writer))).status).to.equal(403);
      expect((await post(`${svc.url}/publish/layout/team-1`, '{"n":1}', bearer(reader))).status).to.equal(403);
    });

    it('GET /rooms/:namespace/:room/history: the envelopes of HISTORY, oldest first; limit and since', async () => {
      for (let n = 1; n <= 3; n++) expect((await post(`${svc.url}/publish/layout/h1`, JSON.stringify({ n }))).status).to.equal(200);
      const all = await get(`${svc.url}/rooms/layout/h1/history`);
      expect(all.status).to.equal(200);
      expect(all.body.messages.map((m: any) => m.message.n)).to.deep.equal([1, 2, 3]);
      expect(all.body.messages[0]).to.deep.include({ sender: 'POST', room: 'h1' }).and.have.nested.property('meta.offset', 1);
      const c = await connect('v4', svc.url, '/layout', withToken('v4', await hsToken({ sub: 'ann', rooms: { subscribe: ['*'] } })));
      await request(c, 'JOIN', { room: 'h1', name: 'x' });
      const viaSocket = await request(c, 'HISTORY', { room: 'h1' });
      expect(all.body.messages).to.deep.equal(viaSocket.messages);
      expect((await get(`${svc.url}/rooms/layout/h1/history?limit=2`)).body.messages.map((m: any) => m.message.n)).to.deep.equal([2, 3]);
      const epoch = all.body.messages[0].meta.epoch;
      expect((await get(`${svc.url}/rooms/layout/h1/history?since=${epoch}:1`)).body.messages.map((m: any) => m.message.n)).to.deep.equal([2, 3]);
      expect((await get(`${svc.url}/rooms/layout/h1/history?since=${epoch}:1&limit=1`)).body.messages.map((m: any) => m.message.n)).to.deep.equal([2]);
      for (const bad of ['limit=0', 'limit=x', 'since=nope']) {
        const res = await get(`${svc.url}/rooms/layout/h1/history?${bad}`);
        expect(res.status, bad).to.equal(400);
        expect(res.body.error.code).to.equal('INVALID_PAYLOAD');
      }
      expect((await get(`${svc.url}/rooms/nope/h1/history`)).status).to.equal(404);
      expect((await fetch(`${svc.url}/rooms/layout/h1/history`, { method: 'DELETE', headers: KEY })).status).to.equal(405);
    });

    it('GET /rooms/:namespace/:room/presence: every connection with its name, user, protocol and node', async () => {
      const ann = await hsToken({ sub: 'ann', name: 'Ann', rooms: { subscribe: ['*'] } });
      const bob = await hsToken({ sub: 'bob', name: 'Bob', rooms: { subscribe: ['*'] } });
      const c = await connect('v4', svc.url, '/layout', withToken('v4', ann));
      await request(c, 'JOIN', { room: 'p1', name: 'ignored' });
      const stream = await openSse(`${svc.url}/events/layout/p1`, bearer(bob));
      expect(stream.status).to.equal(200);
      const sock = await openSock(svc.url, `/sock?token=${ann}`);
      sock.send({ action: 'subscribe', topic: 'p1' });
      await sock.next('subscribe-topic');
      let members: any[] = [];
      // The stream's join completes after its headers: wait for presence to list it.
      await waitUntil('the stream in presence', async () => (members = (await get(`${svc.url}/rooms/layout/p1/presence`)).body.members).length === 2);
      const byProtocol = Object.fromEntries(members.map((m) => [m.protocol, m]));
      expect(members).to.have.length(2);
      expect(byProtocol.socketio).to.deep.include({ id: c.id, name: 'Ann', user: 'ann' });
      expect(byProtocol.sse).to.deep.include({ name: 'Bob', user: 'bob' });
      expect(byProtocol.socketio.node).to.be.a('string').and.equal(byProtocol.sse.node);
      const topic = (await get(`${svc.url}/rooms/sock/p1/presence`)).body.members;
      expect(topic).to.deep.equal([{ id: sock.connectionId, name: 'Ann', user: 'ann', protocol: 'sock', node: byProtocol.sse.node }]);
    });

    it('GET /rooms: rooms with members by namespace then room, filtered, a page at a time', async () => {
      const token = await hsToken({ sub: 'ann', rooms: { subscribe: ['*'] } });
      const c = await connect('v4', svc.url, '/layout', withToken('v4', token));
      for (const room of ['lr-b', 'lr-a', 'lr-c', 'other']) await request(c, 'JOIN', { room, name: 'x' });
      const t = await connect('v4', svc.url, '/trigger', withToken('v4', token));
      await request(t, 'JOIN', 'lr-a');
      const first = await get(`${svc.url}/rooms?namespace=layout&prefix=lr-&limit=2`);
      expect(first.body.rooms).to.deep.equal([
        { namespace: 'layout', room: 'lr-a', members: 1 },
        { namespace: 'layout', room: 'lr-b', members: 1 },
      ]);
      expect(first.body.next).to.be.a('string');
      const second = await get(`${svc.url}/rooms?namespace=layout&prefix=lr-&limit=2&cursor=${first.body.next}`);
      expect(second.body).to.deep.equal({ rooms: [{ namespace: 'layout', room: 'lr-c', members: 1 }], next: null });
      const everywhere = (await get(`${svc.url}/rooms?prefix=lr-a`)).body.rooms;
      expect(everywhere).to.deep.include.members([
        { namespace: 'layout', room: 'lr-a', members: 1 },
        { namespace: 'trigger', room: 'lr-a', members: 1 },
      ]);
      expect((await get(`${svc.url}/rooms?cursor=garbage`)).status).to.equal(400);
      expect((await get(`${svc.url}/rooms?namespace=nope`)).status).to.equal(404);
      expect((await get(`${svc.url}/rooms?limit=100000`)).status).to.equal(400);
    });

    it('POST /users/:user/disconnect: socket.io, /sock and SSE connections of the user told DISCONNECTED_BY_SERVER and closed; a block refuses it', async () => {
      const rooms = { subscribe: ['*'], publish: ['*'] };
      const eve = await hsToken({ sub: 'eve', rooms });
      const ann = await hsToken({ sub: 'ann', rooms });
      const io = await connect('v4', svc.url, '/layout', withToken('v4', eve));
      const legacy = await connect('v2', svc.url, '/bus', withToken('v2', eve));
      const sock = await openSock(svc.url, `/sock?token=${eve}`);
      const stream = await openSse(`${svc.url}/events/layout/d1`, bearer(eve));
      const bystander = await connect('v4', svc.url, '/layout', withToken('v4', ann));
      const errors = [next(io, 'ERROR'), next(legacy, 'ERROR')];
      const gone = [next(io, 'disconnect'), next(legacy, 'disconnect')];
      const answer = await post(`${svc.url}/users/eve/disconnect`, JSON.stringify({ block: '10m' }));
      expect(answer).to.deep.equal({ status: 200, body: { ok: true, disconnected: 4 } });
      for (const e of await Promise.all(errors)) expect(e).to.include({ code: 'DISCONNECTED_BY_SERVER' });
      await Promise.all(gone);
      expect((await sock.next('error')).payload).to.include({ code: 'DISCONNECTED_BY_SERVER' });
      expect(await sock.closed).to.equal(4002);
      const last = await stream.next('disconnect');
      expect(last.json).to.deep.equal({ code: 'DISCONNECTED_BY_SERVER' });
      await stream.ended;
      // The others stay; the blocked user is refused everywhere, with a message that says so.
      expect(await request(bystander, 'JOIN', { room: 'still', name: 'x' })).to.have.property('room', 'still');
      const refused = await refusal('v4', svc.url, '/layout', withToken('v4', eve));
      expect(refused).to.include({ code: 'UNAUTHORIZED' });
      expect(refused.message).to.match(/blocked/);
      expect((await refusedUpgrade(svc.url, `/sock?token=${eve}`)).status).to.equal(401);
      const viaApi = await get(`${svc.url}/rooms/layout/d1/history`, bearer(eve));
      expect(viaApi.status).to.equal(401);
      expect(viaApi.body.error.message).to.match(/blocked/);
      // Without a block: disconnected, not refused afterwards.
      const annAgain = await post(`${svc.url}/users/ann/disconnect`, '');
      expect(annAgain.body).to.deep.equal({ ok: true, disconnected: 1 });
      await connect('v4', svc.url, '/layout', withToken('v4', ann));
      for (const bad of ['{"block": "forever"}', '{"block": -1}', '[1]', 'nope']) expect((await post(`${svc.url}/users/x/disconnect`, bad)).status, bad).to.equal(400);
    });
  });
}

describe('GET /rooms/:namespace/:room/messages (a message store)', () => {
  const svc = serviceForSuite({ auth, storage: { kind: 'sqlite', dataDir: join(tempDir('ns-api-'), 'data') } });

  it('the newest `limit` (default 10) stored messages below `before`, oldest first, with hasMore', async () => {
    for (let n = 1; n <= 12; n++) expect((await post(`${svc.url}/publish/layout/m1?store=true`, JSON.stringify({ n }))).status).to.equal(200);
    const page = await get(`${svc.url}/rooms/layout/m1/messages`);
    expect(page.status).to.equal(200);
    expect(page.body.hasMore).to.equal(true);
    expect(page.body.messages.map((m: any) => m.message.n)).to.deep.equal([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const older = await get(`${svc.url}/rooms/layout/m1/messages?before=3`);
    expect(older.body.messages.map((m: any) => m.message.n)).to.deep.equal([1, 2]);
    expect(older.body.hasMore).to.equal(false);
    expect((await get(`${svc.url}/rooms/layout/m1/messages?limit=3&before=10`)).body.messages.map((m: any) => m.message.n)).to.deep.equal([7, 8, 9]);
    expect((await get(`${svc.url}/rooms/layout/empty/messages`)).body).to.deep.equal({ messages: [], hasMore: false });
    expect((await get(`${svc.url}/rooms/layout/m1/messages?limit=101`)).status).to.equal(400);
    expect((await get(`${svc.url}/rooms/layout/m1/messages?before=x`)).status).to.equal(400);
  });
});
