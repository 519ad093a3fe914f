/**
 * /chat on three nodes joined by one Redis, with --auth jwt: tickets from POST /ticket redeemed on
 * another node, a 1.7 client with a query token, messages from every node to subscribers on every
 * node (each once, in offset order, the sender's copy with its loopbackMetadata), presence once per
 * user across nodes, GET_HISTORY and SUBSCRIBE_CHANNEL with `since` on another node than the
 * publisher's.
 */
import { expect } from 'chai';
import { ALL_ROOMS, hsToken, refusal, secretAuth } from './helpers/auth.js';
import { closeAll, collect, connect, next, recorder, request, type ClientVersion, type TestClient } from './helpers/clients.js';
import { clusterNodesForSuite, waitUntil } from './helpers/cluster.js';

const ONLINE = 'app.event.presence.party.online';
const OFFLINE = 'app.event.presence.party.offline';
const channel = (_id: string) => ({ type: 'topic', _id });
const message = (topicId: string, bodyText: string, extra: Record<string, unknown> = {}) => ({ category: 'chat', content: { bodyText }, topicId, ...extra });
const user = (sub: string) => ({ sub, name: sub.toUpperCase(), rooms: ALL_ROOMS });

/** SUBSCRIBE_CHANNEL the way Avaya clients do (no ack): resolves with CHANNEL_SUBSCRIBED. */
function subscribe(client: TestClient, id: string, extra: Record<string, unknown> = {}): Promise<any> {
  const answered = next(client, 'CHANNEL_SUBSCRIBED');
  client.emit('SUBSCRIBE_CHANNEL', { channel: channel(id), ...extra });
  return answered;
}

async function ticketFrom(url: string, sub: string): Promise<string> {
  const res = await fetch(`${url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${await hsToken(user(sub))}` } });
  expect(res.status).to.equal(200);
  return ((await res.json()) as { ticket: string }).ticket;
}

/** The Avaya way: websocket only (the helper's default), the token in the query; 4.x in the handshake auth. */
async function withToken(version: ClientVersion, url: string, sub: string): Promise<TestClient> {
  const token = await hsToken(user(sub));
  if (version === 'v4') return connect('v4', url, '/chat', { extra: { auth: { token } } });
  return connect(version, url, '/chat', { query: { tokenType: 'jwt', token } });
}

describe('/chat on three nodes (Redis, --auth jwt)', function () {
  this.timeout(20_000);
  const nodes = clusterNodesForSuite('chat3', 3, { auth: secretAuth() });
  const urls = () => nodes().map((n) => n.url) as [string, string, string];
  afterEach(closeAll);

  it('a ticket from POST /ticket on one node connects on another, once, with its token\'s identity; a 1.7 query token on a third', async () => {
    const [one, two, three] = urls();
    const ticket = await ticketFrom(one, 'u-tia');
    const tia = await connect('v4', two, '/chat', { query: { ticket } });
    for (const url of [one, two, three]) {
      expect(await refusal('v4', url, '/chat', { query: { ticket } })).to.deep.equal({ code: 'UNAUTHORIZED', message: 'invalid ticket' });
    }
    // A 2.x client with a ticket of node two, on node three.
    const ted = await connect('v2', three, '/chat', { query: { ticket: await ticketFrom(two, 'u-ted') } });
    const ada = await withToken('v1', three, 'u-ada');
    await subscribe(tia, 'tickets');
    const onlines = collect(tia, 'PRESENCE_EVENT_RESPONSE', 2);
    await subscribe(ted, 'tickets');
    await subscribe(ada, 'tickets');
    expect((await onlines).map((n) => n.sender)).to.deep.equal([
      { _id: 'u-ted', displayname: 'U-TED', type: 'user' },
      { _id: 'u-ada', displayname: 'U-ADA', type: 'user' },
    ]);
    const got = [tia, ted].map((c) => next(c, 'MESSAGE_SENT'));
    ada.emit('SEND_MESSAGE', message('tickets', 'hi', { sender: { _id: 'forged', displayname: 'forged', type: 'user' } }));
    for (const m of await Promise.all(got)) {
      expect(m.sender).to.deep.equal({ _id: 'u-ada', displayname: 'U-ADA', type: 'user' });
      expect(m.content.cid).to.equal('u-ada');
    }
  });

  it('subscribers on all three nodes get every MESSAGE_SENT once, in offset order; each sender its own copy with its loopbackMetadata', async () => {
    const [one, two, three] = urls();
    const spread: [ClientVersion, string, string][] = [
      ['v4', one, 'u-a1'], ['v1', one, 'u-a2'],
      ['v2', two, 'u-b1'], ['v4', two, 'u-b2'],
      ['v1', three, 'u-c1'], ['v4', three, 'u-c2'],
    ];
    const clients = await Promise.all(spread.map(([version, url, sub]) => withToken(version, url, sub)));
    for (const c of clients) await subscribe(c, 'tri');
    const senders = [clients[0]!, clients[2]!, clients[4]!]; // one per node
    const PER_SENDER = 5;
    const total = senders.length * PER_SENDER;
    const records = clients.map((c) => recorder(c, 'MESSAGE_SENT'));
    const all = clients.map((c) => collect(c, 'MESSAGE_SENT', total));
    // Concurrently from the three nodes, so that the nodes' messages interleave.
    for (let i = 0; i < PER_SENDER; i++) {
      senders.forEach((s, n) => s.emit('SEND_MESSAGE', message('tri', `${n}-${i}`, { loopbackMetadata: { n, i } })));
    }
    const got = await Promise.all(all);
    const ids = got[0]!.map((m) => m._id);
    expect(new Set(ids).size).to.equal(total);
    got.forEach((list, k) => {
      const client = spread[k]![2];
      expect(list.map((m) => m.meta.offset), client).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
      expect(list.map((m) => m._id), client).to.deep.equal(ids);
      // Each sender's own messages in the order it sent them.
      for (let n = 0; n < senders.length; n++) {
        expect(list.map((m) => m.content.bodyText).filter((t) => t.startsWith(`${n}-`)), client).to.deep.equal(Array.from({ length: PER_SENDER }, (_, i) => `${n}-${i}`));
      }
      const own = senders.indexOf(clients[k]!);
      for (const m of list) {
        const n = Number(m.content.bodyText.split('-')[0]);
        if (n === own) expect(m.loopbackMetadata, client).to.deep.equal({ n, i: Number(m.content.bodyText.split('-')[1]) });
        else expect(m, client).to.not.have.property('loopbackMetadata');
        expect(m.sender._id).to.equal(spread[[0, 2, 4][n]!]![2]);
      }
    });
    // A marker after: no second copy was on its way.
    const markers = clients.map((c) => next(c, 'MESSAGE_SENT'));
    clients[5]!.emit('SEND_MESSAGE', message('tri', 'marker'));
    await Promise.all(markers);
    for (const r of records) expect(r.received).to.have.length(total + 1);
  });

  it('presence spans the nodes: one online and one offline per user, whichever node its connections are on', async () => {
    const [one, two, three] = urls();
    const w1 = await withToken('v4', one, 'u-w1');
    const w2 = await withToken('v1', two, 'u-w2');
    await subscribe(w1, 'span3');
    const w2Online = next(w1, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(w2, 'span3');
    expect(await w2Online).to.deep.include({ category: ONLINE, sender: { _id: 'u-w2', displayname: 'U-W2', type: 'user' } });
    const notices = [recorder(w1, 'PRESENCE_EVENT_RESPONSE'), recorder(w2, 'PRESENCE_EVENT_RESPONSE')];

    const zoe = { _id: 'u-zoe', displayname: 'U-ZOE', type: 'user' };
    const onlines = [next(w1, 'PRESENCE_EVENT_RESPONSE'), next(w2, 'PRESENCE_EVENT_RESPONSE')];
    const zoeTwo = await withToken('v2', two, 'u-zoe');
    await subscribe(zoeTwo, 'span3');
    for (const n of await Promise.all(onlines)) expect(n).to.deep.equal({ channel: { _id: 'span3', type: 'topic' }, category: ONLINE, sender: zoe });
    // Zoe on nodes three and one too: online already, no notice.
    const zoeThree = await withToken('v1', three, 'u-zoe');
    await subscribe(zoeThree, 'span3');
    const zoeOne = await withToken('v4', one, 'u-zoe');
    await subscribe(zoeOne, 'span3');
    // Two of them leave (a close, an unsubscribe): the third is still there.
    zoeTwo.close();
    await waitUntil('zoe gone from node two', async () => !(await nodes()[1]!.service.core.isMember('/chat', 'span3', zoeTwo.id)));
    await request(zoeOne, 'UNSUBSCRIBE_CHANNEL', { channel: channel('span3') });

    const offlines = [next(w1, 'PRESENCE_EVENT_RESPONSE'), next(w2, 'PRESENCE_EVENT_RESPONSE')];
    zoeThree.close();
    for (const n of await Promise.all(offlines)) expect(n).to.deep.equal({ channel: { _id: 'span3', type: 'topic' }, category: OFFLINE, sender: zoe });
    // The marker: a presence event from each watcher reaches the other after anything sent before.
    const markers = [next(w1, 'PRESENCE_EVENT_RESPONSE'), next(w2, 'PRESENCE_EVENT_RESPONSE')];
    w2.emit('SEND_PRESENCE_EVENT', { channel: channel('span3'), category: 'app.event.presence.marker' });
    w1.emit('SEND_PRESENCE_EVENT', { channel: channel('span3'), category: 'app.event.presence.marker' });
    await Promise.all(markers);
    for (const n of notices) expect(n.received.map((e: any) => `${e.category} ${e.sender._id}`)).to.deep.equal([`${ONLINE} u-zoe`, `${OFFLINE} u-zoe`, 'app.event.presence.marker ' + (n === notices[0] ? 'u-w2' : 'u-w1')]);
  });

  it('GET_HISTORY on another node than the publisher\'s answers its messages, as they were delivered', async () => {
    const [one, two, three] = urls();
    const writer = await withToken('v4', one, 'u-writer');
    const listener = await withToken('v2', two, 'u-listener');
    await subscribe(writer, 'hist3');
    await subscribe(listener, 'hist3');
    const live = collect(listener, 'MESSAGE_SENT', 3);
    for (const text of ['h1', 'h2', 'h3']) expect(await request(writer, 'SEND_MESSAGE', message('hist3', text, { loopbackMetadata: 'mine' }))).to.include({ ok: true });
    const delivered = await live;

    const reader = await withToken('v1', three, 'u-reader');
    await subscribe(reader, 'hist3');
    const history = next(reader, 'HISTORY');
    reader.emit('GET_HISTORY', { channel: channel('hist3') });
    expect(await history).to.deep.equal({ channel: { _id: 'hist3', type: 'topic' }, messages: delivered });
    const page = await request(reader, 'GET_HISTORY', { channel: channel('hist3'), limit: 2 });
    expect(page.messages).to.deep.equal(delivered.slice(1));
  });

  it('SUBSCRIBE_CHANNEL with since on another node replays exactly the messages missed, then the live ones follow once', async () => {
    const [one, two, three] = urls();
    const sender = await withToken('v4', two, 'u-sender');
    await subscribe(sender, 'resume3');
    const away = await withToken('v4', one, 'u-away');
    await subscribe(away, 'resume3');
    const seen = next(away, 'MESSAGE_SENT');
    // The sender's own copy of m1 comes from its node's read of the cluster stream, possibly after
    // the ack and after `away` has it: taken here so that the copies collected below are m2-m4.
    const ownCopy = next(sender, 'MESSAGE_SENT');
    await request(sender, 'SEND_MESSAGE', message('resume3', 'm1'));
    const last = (await seen).meta;
    expect((await ownCopy).content.bodyText).to.equal('m1');
    away.close();
    const missed = collect(sender, 'MESSAGE_SENT', 3);
    for (const text of ['m2', 'm3', 'm4']) sender.emit('SEND_MESSAGE', message('resume3', text));
    const sent = (await missed).map(({ loopbackMetadata, ...m }) => m);

    const back = await withToken('v1', three, 'u-away');
    const order: any[] = [];
    back.on('MESSAGE_SENT', (m: any) => order.push(m));
    back.on('CHANNEL_SUBSCRIBED', () => order.push('subscribed'));
    const reply = await subscribe(back, 'resume3', { since: { epoch: last.epoch, offset: last.offset } });
    expect(reply).to.include({ sessionId: back.id, recovered: true, replayed: 3, offset: 4 });
    expect(order).to.deep.equal([...sent, 'subscribed']);

    const live = next(back, 'MESSAGE_SENT');
    await request(sender, 'SEND_MESSAGE', message('resume3', 'm5'));
    expect((await live).content.bodyText).to.equal('m5');
    const marker = next(back, 'MESSAGE_SENT');
    await request(sender, 'SEND_MESSAGE', message('resume3', 'marker'));
    await marker;
    expect(order.slice(1 + sent.length).map((m) => m.content.bodyText)).to.deep.equal(['m5', 'marker']);
  });
});
