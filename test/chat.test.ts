/**
 * /chat: Avaya Spaces-style channels with real socket.io clients (1.7, 2.x, 4.x): subscribe,
 * messages to every subscriber (the sender's own connection included), presence once per user,
 * history, recovery with `since`, bad input for every verb, rights, the message store across a
 * restart, and two nodes on Redis (each message once per member, presence across nodes, a killed
 * node's users going offline).
 */
import { expect } from 'chai';
import { io as ioV4 } from 'socket.io-client';
import { closeAll, collect, connect, next, recorder, request, type ClientVersion, type TestClient } from './helpers/clients.js';
import { MODES, clusterNodesForSuite, startNodes, waitUntil, inModeForSuite } from './helpers/cluster.js';
import { startService, type Running } from './helpers/service.js';
import { ALL_ROOMS, TestHttpServer, hsToken, secretAuth } from './helpers/auth.js';
import { postgresBackend, sqliteBackend, type StoreBackend } from './helpers/store-backends.js';
import { MESSAGES_TABLE } from '../lib/storage/migrations.js';
import { createTestDatabase, dropTransport, requirePostgresOrSkip, type TestDatabase } from './helpers/history.js';
import { defaultSqliteDriver } from '../lib/storage/sqlite-driver.js';
import { openMessageStore } from '../lib/storage/index.js';
import { join } from 'node:path';
import { faultyStore, type FaultyStore } from './helpers/faulty-store.js';
import { startCli, tempDir, type RunningProcess } from './helpers/process.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';

const ONLINE = 'app.event.presence.party.online';
const OFFLINE = 'app.event.presence.party.offline';
const channel = (_id: string) => ({ type: 'topic', _id });

const as = (version: ClientVersion, url: string, name?: string): Promise<TestClient> =>
  connect(version, url, '/chat', name === undefined ? {} : { query: { name } });

/** SUBSCRIBE_CHANNEL the way Avaya clients do (no ack): resolves with CHANNEL_SUBSCRIBED. */
function subscribe(client: TestClient, id: string, extra: Record<string, unknown> = {}): Promise<any> {
  const answered = next(client, 'CHANNEL_SUBSCRIBED');
  client.emit('SUBSCRIBE_CHANNEL', { channel: channel(id), ...extra });
  return answered;
}

const message = (topicId: string, bodyText: string, extra: Record<string, unknown> = {}) => ({ category: 'chat', content: { bodyText }, topicId, ...extra });

/** Resolves with the next failure event `event`, after sending `verb payload` without an ack. */
function failure(client: TestClient, verb: string, payload: unknown, event = `${verb}_FAILED`): Promise<any> {
  const failed = next(client, event);
  client.emit(verb, payload);
  return failed;
}

for (const mode of MODES) describe(`/chat namespace${mode === 'redis' ? ' (cluster mode, one node)' : ''}`, () => {
  const svc = inModeForSuite(mode);

  it('SUBSCRIBE_CHANNEL answers CHANNEL_SUBSCRIBED {channel, sessionId} to v1.7, v2 and v4 clients; twice is harmless', async () => {
    for (const version of ['v1', 'v2', 'v4'] as const) {
      const c = await as(version, svc.url, `user-${version}`);
      expect(await subscribe(c, 'space-1')).to.deep.equal({ channel: { _id: 'space-1', type: 'topic' }, sessionId: c.id });
      // With an ack: the same in the ack, and the event all the same.
      const event = next(c, 'CHANNEL_SUBSCRIBED');
      const reply = await request(c, 'SUBSCRIBE_CHANNEL', { channel: channel('space-1') });
      expect(reply).to.deep.equal({ ok: true, channel: { _id: 'space-1', type: 'topic' }, sessionId: c.id });
      expect(await event).to.deep.equal({ channel: { _id: 'space-1', type: 'topic' }, sessionId: c.id });
    }
    // Subscribed twice, still one membership: one copy of each message.
    const [a, b] = await Promise.all([as('v4', svc.url, 'twice-a'), as('v1', svc.url, 'twice-b')]);
    await subscribe(a, 'twice');
    await subscribe(a, 'twice');
    await subscribe(b, 'twice');
    const copies = recorder(a, 'MESSAGE_SENT');
    const first = next(b, 'MESSAGE_SENT');
    b.emit('SEND_MESSAGE', message('twice', 'one'));
    await first;
    const marker = next(a, 'MESSAGE_SENT');
    b.emit('SEND_MESSAGE', message('twice', 'marker'));
    await marker;
    expect(copies.received.map((m: any) => m.content.bodyText)).to.deep.equal(['one', 'marker']);
  });

  it('SEND_MESSAGE: MESSAGE_SENT to every subscriber, the sender included; sender from the identity; loopbackMetadata to the sender only', async () => {
    const [alice, bob, carol] = await Promise.all([as('v4', svc.url, 'alice'), as('v2', svc.url, 'bob'), as('v1', svc.url, 'carol')]);
    for (const c of [alice, bob, carol]) await subscribe(c, 'team');
    const outsider = await as('v4', svc.url, 'dave');
    const outsiders = recorder(outsider, 'MESSAGE_SENT');
    const got = [alice, bob, carol].map((c) => next(c, 'MESSAGE_SENT'));
    const before = Date.now();
    alice.emit('SEND_MESSAGE', {
      category: 'task',
      content: { bodyText: 'ship it', data: [{ k: 1 }], description: 'd', assignees: ['bob'], status: 'open', dueDate: '2027-01-01', cid: 'forged', extra: 'dropped' },
      topicId: 'team',
      parentMsg: 'parent-1',
      loopbackMetadata: { local: 'x-1' },
      sender: { _id: 'forged', displayname: 'forged', type: 'user' },
    });
    const [own, toBob, toCarol] = await Promise.all(got);
    for (const m of [own, toBob, toCarol]) {
      expect(m).to.include({ category: 'task', topicId: 'team', parentMsg: 'parent-1' });
      expect(m.sender).to.deep.equal({ _id: 'alice', displayname: 'alice', type: 'user' });
      expect(m.content).to.deep.equal({ bodyText: 'ship it', data: [{ k: 1 }], description: 'd', assignees: ['bob'], status: 'open', dueDate: '2027-01-01', cid: 'alice' });
      expect(m._id).to.be.a('string').and.equal(own._id);
      expect(Date.parse(m.created)).to.be.at.least(before - 1000);
      expect(m.created).to.equal(new Date(Date.parse(m.created)).toISOString());
      expect(m.meta).to.include({ offset: 1 });
      expect(m.meta.epoch).to.be.a('string');
    }
    expect(own.loopbackMetadata).to.deep.equal({ local: 'x-1' });
    expect(toBob).to.not.have.property('loopbackMetadata');
    expect(toCarol).to.not.have.property('loopbackMetadata');

    // `created` from the sender when given; the ack reports the message.
    const next2 = next(bob, 'MESSAGE_SENT');
    const ack = await request(carol, 'SEND_MESSAGE', message('team', 'later', { created: '2026-05-01T10:00:00.000Z' }));
    expect(ack).to.include({ ok: true, topicId: 'team', offset: 2, recipients: 2 });
    const later = await next2;
    expect(later).to.include({ _id: ack._id, created: '2026-05-01T10:00:00.000Z' });
    expect(later).to.not.have.property('parentMsg');
    expect(later.sender).to.deep.equal({ _id: 'carol', displayname: 'carol', type: 'user' }); // 1.7: ?name= in the query
    const fromBob = next(bob, 'MESSAGE_SENT'); // its own copy: bob has had every earlier one
    bob.emit('SEND_MESSAGE', message('team', 'from 2.x'));
    expect((await fromBob).sender).to.deep.equal({ _id: 'bob', displayname: 'bob', type: 'user' }); // 2.x: the namespace query arrives as auth
    expect(outsiders.received).to.deep.equal([]);
  });

  it('an anonymous connection (no name) is its connection id', async () => {
    const [anon, peer] = await Promise.all([as('v4', svc.url), as('v4', svc.url, 'peer')]);
    await subscribe(peer, 'anon');
    const online = next(peer, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(anon, 'anon');
    expect((await online).sender).to.deep.equal({ _id: anon.id, displayname: anon.id, type: 'user' });
    const got = next(peer, 'MESSAGE_SENT');
    anon.emit('SEND_MESSAGE', message('anon', 'hi'));
    expect((await got).content.cid).to.equal(anon.id);
  });

  it('a name query parameter that is not a usable name: ERROR INVALID_NAME and the connection is closed', async () => {
    let error: any;
    const closed = new Promise<void>((resolve) => {
      void connect('v4', svc.url, '/chat', { query: { name: 'x'.repeat(300) }, listeners: { ERROR: (e: unknown) => (error = e), disconnect: () => resolve() } });
    });
    await closed;
    expect(error).to.include({ code: 'INVALID_NAME', event: 'connect' });
  });

  it('presence: one online per user at its first connection, offline when its last one leaves (unsubscribe or disconnect)', async () => {
    const watcher = await as('v4', svc.url, 'watcher');
    await subscribe(watcher, 'lobby-p');
    const notices = recorder(watcher, 'PRESENCE_EVENT_RESPONSE');
    const [bob1, bob2] = await Promise.all([as('v4', svc.url, 'bob'), as('v1', svc.url, 'bob')]);

    const online = next(watcher, 'PRESENCE_EVENT_RESPONSE');
    const selfNotices = recorder(bob1, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(bob1, 'lobby-p');
    expect(await online).to.deep.equal({ channel: { _id: 'lobby-p', type: 'topic' }, category: ONLINE, sender: { _id: 'bob', displayname: 'bob', type: 'user' } });
    await subscribe(bob2, 'lobby-p'); // bob is online already: no second notice
    expect((await request(bob1, 'UNSUBSCRIBE_CHANNEL', { channel: channel('lobby-p') })).ok).to.equal(true); // bob2 is still there

    const offline = next(watcher, 'PRESENCE_EVENT_RESPONSE');
    bob2.close();
    expect(await offline).to.deep.equal({ channel: { _id: 'lobby-p', type: 'topic' }, category: OFFLINE, sender: { _id: 'bob', displayname: 'bob', type: 'user' } });
    expect(notices.received.map((n: any) => n.category)).to.deep.equal([ONLINE, OFFLINE]);
    expect(selfNotices.received).to.deep.equal([]);

    // Back again, then gone by UNSUBSCRIBE_CHANNEL.
    const again = await as('v2', svc.url, 'bob');
    const online2 = next(watcher, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(again, 'lobby-p');
    expect((await online2).category).to.equal(ONLINE);
    const offline2 = next(watcher, 'PRESENCE_EVENT_RESPONSE');
    const unsubscribed = next(again, 'CHANNEL_UNSUBSCRIBED');
    again.emit('UNSUBSCRIBE_CHANNEL', { channel: channel('lobby-p') });
    expect(await unsubscribed).to.deep.equal({ channel: { _id: 'lobby-p', type: 'topic' } });
    expect((await offline2).category).to.equal(OFFLINE);
  });

  it('SEND_PRESENCE_EVENT relays PRESENCE_EVENT_RESPONSE to the other subscribers, subscribers only', async () => {
    const [a, b] = await Promise.all([as('v4', svc.url, 'pa'), as('v1', svc.url, 'pb')]);
    await subscribe(a, 'typing');
    const online = next(a, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(b, 'typing');
    expect((await online).category).to.equal(ONLINE);
    const own = recorder(a, 'PRESENCE_EVENT_RESPONSE');
    const got = next(b, 'PRESENCE_EVENT_RESPONSE');
    a.emit('SEND_PRESENCE_EVENT', { channel: channel('typing'), category: 'app.event.presence.party.typing', content: { typing: true } });
    expect(await got).to.deep.equal({
      channel: { _id: 'typing', type: 'topic' },
      category: 'app.event.presence.party.typing',
      content: { typing: true },
      sender: { _id: 'pa', displayname: 'pa', type: 'user' },
    });
    expect(await request(a, 'SEND_PRESENCE_EVENT', { channel: channel('typing'), category: 'app.event.presence.party.idle' })).to.deep.equal({ ok: true, channel: { _id: 'typing', type: 'topic' } });
    const outsider = await as('v4', svc.url, 'po');
    const refused = await failure(outsider, 'SEND_PRESENCE_EVENT', { channel: channel('typing'), category: 'app.event.presence.party.typing' });
    expect(refused.channel).to.deep.equal({ _id: 'typing', type: 'topic' });
    expect(refused.error.code).to.equal('NOT_SUBSCRIBED');
    // The marker: b's own event reaches a, so anything a sent to itself would have come first.
    const marker = next(a, 'PRESENCE_EVENT_RESPONSE');
    b.emit('SEND_PRESENCE_EVENT', { channel: channel('typing'), category: 'app.event.presence.party.marker' });
    await marker;
    expect(own.received.map((e: any) => e.category)).to.deep.equal(['app.event.presence.party.marker']);
  });

  it('GET_HISTORY answers HISTORY {channel, messages} oldest first, to subscribers', async () => {
    const a = await as('v4', svc.url, 'historian');
    await subscribe(a, 'hist');
    for (const text of ['h1', 'h2', 'h3']) await request(a, 'SEND_MESSAGE', message('hist', text));
    const history = next(a, 'HISTORY');
    a.emit('GET_HISTORY', { channel: channel('hist'), limit: 2 });
    const reply = await history;
    expect(reply.channel).to.deep.equal({ _id: 'hist', type: 'topic' });
    expect(reply.messages.map((m: any) => m.content.bodyText)).to.deep.equal(['h2', 'h3']);
    expect(reply.messages[0]).to.include({ topicId: 'hist', category: 'chat' }).and.not.have.property('loopbackMetadata');
    expect(reply.messages[0].meta).to.include({ offset: 2 });
    const acked = await request(a, 'GET_HISTORY', { channel: channel('hist') });
    expect(acked.messages.map((m: any) => m.content.bodyText)).to.deep.equal(['h1', 'h2', 'h3']);

    const outsider = await as('v4', svc.url, 'nosy');
    const refused = await failure(outsider, 'GET_HISTORY', { channel: channel('hist') });
    expect(refused).to.deep.include({ channel: { _id: 'hist', type: 'topic' } });
    expect(refused.error.code).to.equal('NOT_SUBSCRIBED');
  });

  it('SUBSCRIBE_CHANNEL with since replays the missed MESSAGE_SENT in order, then answers recovered: true', async () => {
    const [a, b] = await Promise.all([as('v4', svc.url, 'ra'), as('v2', svc.url, 'rb')]);
    await subscribe(a, 'resume');
    await subscribe(b, 'resume');
    const first = next(a, 'MESSAGE_SENT');
    b.emit('SEND_MESSAGE', message('resume', 'm1'));
    const last = (await first).meta;
    await request(a, 'UNSUBSCRIBE_CHANNEL', { channel: channel('resume') });
    for (const text of ['m2', 'm3']) await request(b, 'SEND_MESSAGE', message('resume', text));

    const order: string[] = [];
    a.on('MESSAGE_SENT', (m: any) => order.push(m.content.bodyText));
    a.on('CHANNEL_SUBSCRIBED', () => order.push('subscribed'));
    const reply = await subscribe(a, 'resume', { since: { epoch: last.epoch, offset: last.offset } });
    expect(reply).to.include({ sessionId: a.id, recovered: true, replayed: 2, offset: 3 });
    expect(order).to.deep.equal(['m2', 'm3', 'subscribed']);

    // A position the channel never gave out: recovered: false, and the subscription stands.
    const c = await as('v4', svc.url, 'rc');
    const unknown = await subscribe(c, 'resume', { since: { epoch: last.epoch, offset: 99 } });
    expect(unknown).to.include({ recovered: false, reason: 'UNKNOWN_OFFSET' });
    const live = next(c, 'MESSAGE_SENT');
    b.emit('SEND_MESSAGE', message('resume', 'm4'));
    expect((await live).content.bodyText).to.equal('m4');
  });

  it('a v4 connection restored by connection-state recovery keeps its channels; the others see it offline, then online again', async () => {
    const restoring = ioV4(`${svc.url}/chat`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, query: { name: 'phoenix' } });
    try {
      await new Promise<void>((resolve) => restoring.once('connect', () => resolve()));
      const watcher = await as('v4', svc.url, 'csr-watcher');
      await subscribe(watcher, 'csr');
      const online = next(watcher, 'PRESENCE_EVENT_RESPONSE');
      const subscribed = new Promise((resolve) => restoring.once('CHANNEL_SUBSCRIBED', resolve));
      restoring.emit('SUBSCRIBE_CHANNEL', { channel: channel('csr') });
      await subscribed;
      expect((await online).category).to.equal(ONLINE);
      // Recovery resumes after the last broadcast the client got: it needs one.
      const first = new Promise<void>((resolve) => restoring.once('MESSAGE_SENT', () => resolve()));
      watcher.emit('SEND_MESSAGE', message('csr', 'before'));
      await first;

      const notices = collect(watcher, 'PRESENCE_EVENT_RESPONSE', 2);
      const reconnected = new Promise<void>((resolve) => restoring.once('connect', () => resolve()));
      const { gone } = dropTransport(svc, '/chat', restoring.id!);
      await gone;
      await reconnected;
      expect(restoring.recovered).to.equal(true);
      expect((await notices).map((n) => `${n.category} ${n.sender._id}`)).to.deep.equal([`${OFFLINE} phoenix`, `${ONLINE} phoenix`]);
      const got = new Promise<any>((resolve) => restoring.on('MESSAGE_SENT', resolve));
      watcher.emit('SEND_MESSAGE', message('csr', 'welcome back'));
      expect((await got).content.bodyText).to.equal('welcome back');
    } finally {
      restoring.close();
    }
  });

  it('UNSUBSCRIBE_CHANNEL of a channel not subscribed: UNSUBSCRIBE_CHANNEL_FAILED NOT_SUBSCRIBED', async () => {
    const a = await as('v1', svc.url, 'un');
    const refused = await failure(a, 'UNSUBSCRIBE_CHANNEL', { channel: channel('never') });
    expect(refused).to.deep.include({ channel: { _id: 'never', type: 'topic' } });
    expect(refused.error.code).to.equal('NOT_SUBSCRIBED');
    const acked = await request(a, 'UNSUBSCRIBE_CHANNEL', { channel: channel('never') });
    expect(acked.ok).to.equal(false);
    expect(acked.error.code).to.equal('NOT_SUBSCRIBED');
  });

  it('SEND_MESSAGE to a channel not subscribed: SEND_MESSAGE_FAILED NOT_SUBSCRIBED with the subscription type, nothing delivered', async () => {
    const [a, member] = await Promise.all([as('v4', svc.url, 'ns-a'), as('v4', svc.url, 'ns-m')]);
    await subscribe(member, 'closed');
    const delivered = recorder(member, 'MESSAGE_SENT');
    const refused = await failure(a, 'SEND_MESSAGE', message('closed', 'x', { loopbackMetadata: 7 }));
    expect(refused).to.deep.include({ topicId: 'closed', loopbackMetadata: 7, type: 'app.event.channel.subscription.required' });
    expect(refused.error.code).to.equal('NOT_SUBSCRIBED');
    const marker = next(member, 'MESSAGE_SENT');
    member.emit('SEND_MESSAGE', message('closed', 'marker'));
    await marker;
    expect(delivered.received.map((m: any) => m.content.bodyText)).to.deep.equal(['marker']);
  });

  describe('bad input for every verb: INVALID_PAYLOAD in the failure event, the connection kept', () => {
    const badChannels: [string, unknown][] = [
      ['no payload', undefined],
      ['a number', 42],
      ['not JSON', '{nope'],
      ['no channel', {}],
      ['channel not an object', { channel: 'space' }],
      ['type not topic', { channel: { type: 'group', _id: 'x' } }],
      ['no _id', { channel: { type: 'topic' } }],
      ['empty _id', { channel: { type: 'topic', _id: '' } }],
      ['_id a number', { channel: { type: 'topic', _id: 5 } }],
      ['_id too long', { channel: { type: 'topic', _id: 'x'.repeat(257) } }],
    ];
    for (const verb of ['SUBSCRIBE_CHANNEL', 'UNSUBSCRIBE_CHANNEL', 'GET_HISTORY', 'SEND_PRESENCE_EVENT']) {
      it(verb, async () => {
        const c = await as('v4', svc.url, `bad-${verb}`);
        for (const [what, payload] of badChannels) {
          const refused = await failure(c, verb, payload);
          expect(refused.error.code, what).to.equal('INVALID_PAYLOAD');
          expect(refused, what).to.have.property('channel');
        }
        const typed = await failure(c, verb, { channel: { type: 'group', _id: 'g' } });
        expect(typed.channel).to.deep.equal({ type: 'group', _id: 'g' });
        // The ack gets the same refusal.
        const acked = await request(c, verb, { channel: { type: 'topic' } });
        expect(acked.ok).to.equal(false);
        expect(acked.error.code).to.equal('INVALID_PAYLOAD');
        await subscribe(c, 'ok-after');
      });
    }

    it('SUBSCRIBE_CHANNEL since, GET_HISTORY limit and before, SEND_PRESENCE_EVENT category', async () => {
      const c = await as('v4', svc.url, 'bad-fields');
      await subscribe(c, 'f');
      const cases: [string, string, unknown][] = [
        ['SUBSCRIBE_CHANNEL', 'since not a position', { channel: channel('f'), since: { offset: 'x' } }],
        ['GET_HISTORY', 'limit 0', { channel: channel('f'), limit: 0 }],
        ['GET_HISTORY', 'limit a string', { channel: channel('f'), limit: '5' }],
        ['GET_HISTORY', 'before not a position', { channel: channel('f'), before: 3 }],
        ['SEND_PRESENCE_EVENT', 'no category', { channel: channel('f') }],
        ['SEND_PRESENCE_EVENT', 'another prefix', { channel: channel('f'), category: 'app.event.chat.x' }],
        ['SEND_PRESENCE_EVENT', 'category a number', { channel: channel('f'), category: 1 }],
      ];
      for (const [verb, what, payload] of cases) {
        const refused = await failure(c, verb, payload);
        expect(refused.error.code, `${verb}: ${what}`).to.equal('INVALID_PAYLOAD');
      }
    });

    it('SEND_MESSAGE: every invalid field, nothing delivered', async () => {
      const [c, member] = await Promise.all([as('v4', svc.url, 'bad-send'), as('v4', svc.url, 'bad-send-m')]);
      await subscribe(c, 's');
      await subscribe(member, 's');
      const delivered = recorder(member, 'MESSAGE_SENT');
      const good = message('s', 'ok');
      const cases: [string, unknown][] = [
        ['no payload', undefined],
        ['an array', [good]],
        ['not JSON', '{"topicId":'],
        ['no topicId', { ...good, topicId: undefined }],
        ['topicId a number', { ...good, topicId: 3 }],
        ['empty topicId', { ...good, topicId: '' }],
        ['no category', { ...good, category: undefined }],
        ['unknown category', { ...good, category: 'post' }],
        ['no content', { ...good, content: undefined }],
        ['content a string', { ...good, content: 'hi' }],
        ['no bodyText', { ...good, content: {} }],
        ['bodyText a number', { ...good, content: { bodyText: 1 } }],
        ['data not an array', { ...good, content: { bodyText: 'x', data: {} } }],
        ['description not a string', { ...good, content: { bodyText: 'x', description: 1 } }],
        ['assignees not an array', { ...good, content: { bodyText: 'x', assignees: 'bob' } }],
        ['status not a string', { ...good, content: { bodyText: 'x', status: true } }],
        ['dueDate not a string', { ...good, content: { bodyText: 'x', dueDate: 5 } }],
        ['created not a time', { ...good, created: 'yesterday' }],
        ['created without a zone', { ...good, created: '2026-01-01T10:00:00' }],
        ['created impossible', { ...good, created: '2026-13-45T10:00:00Z' }],
        ['created a number', { ...good, created: 1700000000000 }],
        ['parentMsg a number', { ...good, parentMsg: 1 }],
        ['parentMsg empty', { ...good, parentMsg: '' }],
      ];
      for (const [what, payload] of cases) {
        const refused = await failure(c, 'SEND_MESSAGE', payload);
        expect(refused.error.code, what).to.equal('INVALID_PAYLOAD');
        expect(refused, what).to.have.property('topicId');
      }
      const withEcho = await failure(c, 'SEND_MESSAGE', { ...good, category: 'x', loopbackMetadata: { n: 1 } });
      expect(withEcho).to.deep.include({ topicId: 's', loopbackMetadata: { n: 1 } });
      expect(withEcho).to.not.have.property('type');
      const marker = next(member, 'MESSAGE_SENT');
      c.emit('SEND_MESSAGE', good);
      await marker;
      expect(delivered.received.map((m: any) => m.content.bodyText)).to.deep.equal(['ok']);
      // A large message (read in slices by the decoder) is checked and delivered like any other.
      const large = next(member, 'MESSAGE_SENT', 10_000);
      c.emit('SEND_MESSAGE', message('s', 'é'.repeat(200_000), { loopbackMetadata: 'y'.repeat(70_000) }));
      expect((await large).content).to.deep.equal({ bodyText: 'é'.repeat(200_000), cid: 'bad-send' });
      // Over --max-payload (on a connection of its own, whose byte rate is not spent yet).
      const fresh = await as('v4', svc.url, 'bad-send-big');
      const big = await failure(fresh, 'SEND_MESSAGE', message('s', 'x'.repeat(svc.service.config.maxPayload + 10)), 'SEND_MESSAGE_FAILED');
      expect(big.error.code).to.equal('PAYLOAD_TOO_LARGE');
    });

    it('an unknown verb is an ERROR UNKNOWN_EVENT', async () => {
      const c = await as('v4', svc.url, 'unknown');
      const error = next(c, 'ERROR');
      c.emit('JOIN_CHANNEL', {});
      expect(await error).to.include({ code: 'UNKNOWN_EVENT', event: 'JOIN_CHANNEL' });
    });
  });
});

describe('/chat with authentication: identity from the token, rights per channel', () => {
  let svc: Running;
  before(async () => {
    svc = await startService({ auth: secretAuth() });
  });
  after(() => svc.close());
  afterEach(closeAll);

  /** The Avaya way: a 1.7 client, websocket only, the token in the query. */
  const legacy = async (sub: string, name: string, rooms: unknown) =>
    connect('v1', svc.url, '/chat', { query: { tokenType: 'jwt', token: await hsToken({ sub, name, rooms }) } });
  const current = async (sub: string, name: string, rooms: unknown) => connect('v4', svc.url, '/chat', { extra: { auth: { token: await hsToken({ sub, name, rooms }) } } });

  it('the sender is the token user (sub) and name; the name query parameter is ignored', async () => {
    const a = await legacy('u-1', 'Ada', ALL_ROOMS);
    const b = await current('u-2', 'Bob', ALL_ROOMS);
    await subscribe(b, 'auth-space');
    const online = next(b, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(a, 'auth-space');
    expect((await online).sender).to.deep.equal({ _id: 'u-1', displayname: 'Ada', type: 'user' });
    const got = next(b, 'MESSAGE_SENT');
    a.emit('SEND_MESSAGE', message('auth-space', 'hello'));
    const m = await got;
    expect(m.sender).to.deep.equal({ _id: 'u-1', displayname: 'Ada', type: 'user' });
    expect(m.content.cid).to.equal('u-1');
  });

  it('FORBIDDEN: subscribe without the subscribe right, send without the publish right; nothing delivered', async () => {
    const admin = await current('u-admin', 'Admin', ALL_ROOMS);
    await subscribe(admin, 'news');
    await subscribe(admin, 'secret');
    const reader = await legacy('u-reader', 'Reader', { subscribe: ['news'], publish: [] });

    const refused = await failure(reader, 'SUBSCRIBE_CHANNEL', { channel: channel('secret') });
    expect(refused).to.deep.include({ channel: { _id: 'secret', type: 'topic' } });
    expect(refused.error.code).to.equal('FORBIDDEN');
    const acked = await request(reader, 'SUBSCRIBE_CHANNEL', { channel: channel('secret') });
    expect(acked.ok).to.equal(false);
    expect(acked.error.code).to.equal('FORBIDDEN');

    await subscribe(reader, 'news');
    const delivered = recorder(admin, 'MESSAGE_SENT');
    const readerCopies = recorder(reader, 'MESSAGE_SENT');
    const denied = await failure(reader, 'SEND_MESSAGE', message('news', 'leak', { loopbackMetadata: 'lb' }));
    expect(denied).to.deep.include({ topicId: 'news', loopbackMetadata: 'lb' });
    expect(denied.error.code).to.equal('FORBIDDEN');
    expect(denied).to.not.have.property('type');

    // Readers read: the history, and what the admin sends.
    const got = [next(reader, 'MESSAGE_SENT'), next(admin, 'MESSAGE_SENT')];
    admin.emit('SEND_MESSAGE', message('news', 'headline'));
    for (const m of await Promise.all(got)) expect(m.content.bodyText).to.equal('headline');
    expect(delivered.received.map((m: any) => m.content.bodyText)).to.deep.equal(['headline']);
    expect(readerCopies.received.map((m: any) => m.content.bodyText)).to.deep.equal(['headline']);
    const history = await request(reader, 'GET_HISTORY', { channel: channel('news') });
    expect(history.messages.map((m: any) => m.content.bodyText)).to.deep.equal(['headline']);
  });

  it('a connection without credentials is refused at connect', async () => {
    let refusal: any;
    const c = await connect('v4', svc.url, '/chat', { expectError: true, listeners: { connect_error: (e: any) => (refusal = e) } });
    c.close();
    expect(refusal?.data?.code).to.equal('UNAUTHORIZED');
  });
});

describe('/chat with --authorize-url: the backend is asked for namespace /chat and room = channel _id', () => {
  let backend: TestHttpServer;
  let svc: Running;
  const asked = () => backend.bodies.map((b) => JSON.parse(b));

  before(async () => {
    // Denies every channel starting with "closed", and publishing to u-reader.
    backend = await new TestHttpServer((body) => {
      const q = JSON.parse(body) as { room: string; action: string; user: string };
      return { json: { allow: !q.room.startsWith('closed') && !(q.action === 'publish' && q.user === 'u-reader') } };
    }).start('/authorize');
    svc = await startService({ auth: secretAuth({ authorize: { url: backend.url, cacheTtlMs: 60_000, timeoutMs: 2000 } }) });
  });
  after(async () => {
    await svc?.close();
    await backend?.close();
  });
  afterEach(closeAll);

  const as1 = async (sub: string) => connect('v1', svc.url, '/chat', { query: { tokenType: 'jwt', token: await hsToken({ sub, name: sub, rooms: ALL_ROOMS }) } });

  it('SUBSCRIBE_CHANNEL denied: SUBSCRIBE_CHANNEL_FAILED FORBIDDEN, not a member; allowed: subscribed', async () => {
    const c = await as1('u-alice');
    const id = 'closed space/#1 é';
    const refused = await failure(c, 'SUBSCRIBE_CHANNEL', { channel: channel(id) });
    expect(refused).to.deep.include({ channel: { _id: id, type: 'topic' } });
    expect(refused.error.code).to.equal('FORBIDDEN');
    expect(asked()).to.deep.include({ user: 'u-alice', namespace: '/chat', room: id, action: 'subscribe' });
    // Asked again, answered from the cache the same way.
    expect((await request(c, 'SUBSCRIBE_CHANNEL', { channel: channel(id) })).error.code).to.equal('FORBIDDEN');
    expect(await svc.service.core.isMember('/chat', id, c.id)).to.equal(false);
    expect((await failure(c, 'SEND_MESSAGE', message(id, 'x'))).error.code).to.equal('NOT_SUBSCRIBED');

    const open = 'open space/#1 é';
    expect(await subscribe(c, open)).to.deep.equal({ channel: { _id: open, type: 'topic' }, sessionId: c.id });
    expect(asked()).to.deep.include({ user: 'u-alice', namespace: '/chat', room: open, action: 'subscribe' });
  });

  it('SEND_MESSAGE denied: SEND_MESSAGE_FAILED FORBIDDEN and nothing delivered (asked, then cached); allowed: delivered to all', async () => {
    const [writer, reader] = await Promise.all([as1('u-writer'), as1('u-reader')]);
    await subscribe(writer, 'desk');
    await subscribe(reader, 'desk');
    const toWriter = recorder(writer, 'MESSAGE_SENT');
    const toReader = recorder(reader, 'MESSAGE_SENT');
    for (const attempt of ['asked', 'cached']) {
      const denied = await failure(reader, 'SEND_MESSAGE', message('desk', attempt, { loopbackMetadata: attempt }));
      expect(denied, attempt).to.deep.include({ topicId: 'desk', loopbackMetadata: attempt });
      expect(denied.error.code, attempt).to.equal('FORBIDDEN');
    }
    expect(asked().filter((q) => q.action === 'publish' && q.user === 'u-reader')).to.deep.equal([{ user: 'u-reader', namespace: '/chat', room: 'desk', action: 'publish' }]);

    const got = [next(writer, 'MESSAGE_SENT'), next(reader, 'MESSAGE_SENT')];
    const ack = await request(writer, 'SEND_MESSAGE', message('desk', 'allowed', { loopbackMetadata: 'w' }));
    expect(ack).to.include({ ok: true, topicId: 'desk', offset: 1, recipients: 1 });
    const [own, theirs] = await Promise.all(got);
    expect(own).to.include({ _id: ack._id, loopbackMetadata: 'w' });
    expect(theirs).to.include({ _id: ack._id }).and.not.have.property('loopbackMetadata');
    expect(asked()).to.deep.include({ user: 'u-writer', namespace: '/chat', room: 'desk', action: 'publish' });
    expect(toWriter.received.map((m: any) => m.content.bodyText)).to.deep.equal(['allowed']);
    expect(toReader.received.map((m: any) => m.content.bodyText)).to.deep.equal(['allowed']);
    expect((await request(reader, 'GET_HISTORY', { channel: channel('desk') })).messages.map((m: any) => m.content.bodyText)).to.deep.equal(['allowed']);
  });
});

/**
 * Two messages through one service, then GET_HISTORY from a new service on the same store: the
 * messages as they were delivered (no loopbackMetadata), oldest first. Resolves with the delivered ones.
 */
async function keptAcrossRestart(backend: StoreBackend): Promise<any[]> {
  let delivered: any[];
  const first = await startService({ storage: backend.storage });
  try {
    const [a, b] = await Promise.all([as('v4', first.url, 'keeper'), as('v1', first.url, 'listener')]);
    await subscribe(a, 'durable');
    await subscribe(b, 'durable');
    const live = collect(b, 'MESSAGE_SENT', 2);
    expect(await request(a, 'SEND_MESSAGE', message('durable', 'kept', { loopbackMetadata: 'not stored' }))).to.include({ ok: true, offset: 1 });
    expect(await request(a, 'SEND_MESSAGE', message('durable', 'kept too', { created: '2026-05-01T10:00:00.000Z' }))).to.include({ ok: true, offset: 2 });
    delivered = await live;
    closeAll();
  } finally {
    await first.close();
  }
  const second = await startService({ storage: backend.storage });
  try {
    const c = await as('v2', second.url, 'reader');
    await subscribe(c, 'durable');
    const history = await request(c, 'GET_HISTORY', { channel: channel('durable') });
    expect(history.messages).to.deep.equal(delivered);
    const [m] = history.messages;
    expect(m).to.include({ category: 'chat', topicId: 'durable' }).and.not.have.property('loopbackMetadata');
    expect(m.content).to.deep.equal({ bodyText: 'kept', cid: 'keeper' });
    expect(m.sender).to.deep.equal({ _id: 'keeper', displayname: 'keeper', type: 'user' });
    expect(m.meta).to.include({ offset: 1 });
    closeAll();
  } finally {
    await second.close();
  }
  return delivered;
}

describe('/chat messages are kept in the message store across a restart', () => {
  it('SQLite: GET_HISTORY after a restart answers the stored messages', async () => {
    const backend = sqliteBackend(defaultSqliteDriver());
    try {
      await keptAcrossRestart(backend);
    } finally {
      await backend.cleanup();
    }
  });

  describe('PostgreSQL (a fresh database)', () => {
    let db: TestDatabase | undefined;
    before(async function () {
      await requirePostgresOrSkip(this);
      db = await createTestDatabase();
    });
    after(() => db?.drop());

    it('the messages are rows of the database, and GET_HISTORY after a restart answers them', async () => {
      const delivered = await keptAcrossRestart(postgresBackend(db!));
      const rows = (await db!.query(`SELECT ns, room, msg_offset, event, payload FROM ${MESSAGES_TABLE} ORDER BY msg_offset`)).rows;
      expect(rows.map((r) => [r.ns, r.room, Number(r.msg_offset), r.event])).to.deep.equal([
        ['/chat', 'durable', 1, 'MESSAGE_SENT'],
        ['/chat', 'durable', 2, 'MESSAGE_SENT'],
      ]);
      // Stored without its meta (columns of their own) and without the sender's loopbackMetadata.
      expect(rows.map((r) => JSON.parse(r.payload))).to.deep.equal(delivered.map(({ meta, ...m }) => m));
    });
  });
});

describe('/chat on two nodes (cluster mode)', () => {
  const nodes = clusterNodesForSuite('chat', 2);
  afterEach(closeAll);

  it('members of a channel on both nodes get each message exactly once, the sender its own copy', async () => {
    const [A, B] = nodes().map((n) => n.url) as [string, string];
    const [a1, a2, b1, b2] = await Promise.all([as('v4', A, 'a1'), as('v1', A, 'a2'), as('v2', B, 'b1'), as('v4', B, 'b2')]);
    for (const c of [a1, a2, b1, b2]) await subscribe(c, 'both');
    const all = [a1, a2, b1, b2];
    const records = all.map((c) => recorder(c, 'MESSAGE_SENT'));
    const firsts = all.map((c) => collect(c, 'MESSAGE_SENT', 2));
    a1.emit('SEND_MESSAGE', message('both', 'from A'));
    await Promise.all(all.map((c) => next(c, 'MESSAGE_SENT')));
    b1.emit('SEND_MESSAGE', message('both', 'from B'));
    const got = await Promise.all(firsts);
    for (const list of got) expect(list.map((m) => m.content.bodyText)).to.deep.equal(['from A', 'from B']);
    expect(new Set(got.map((list) => list[0]._id)).size).to.equal(1);
    // A marker after: no second copy was on its way.
    const markers = all.map((c) => next(c, 'MESSAGE_SENT'));
    b2.emit('SEND_MESSAGE', message('both', 'marker'));
    await Promise.all(markers);
    for (const r of records) expect(r.received.map((m: any) => m.content.bodyText)).to.deep.equal(['from A', 'from B', 'marker']);
  });

  it('presence spans nodes: one online for a user on both nodes, offline when its last connection (on either node) leaves', async () => {
    const [A, B] = nodes().map((n) => n.url) as [string, string];
    const watcherA = await as('v4', A, 'watch-a');
    const watcherB = await as('v1', B, 'watch-b');
    await subscribe(watcherA, 'span');
    const watcherOnline = next(watcherA, 'PRESENCE_EVENT_RESPONSE');
    await subscribe(watcherB, 'span');
    expect((await watcherOnline).sender._id).to.equal('watch-b');
    const notices = [recorder(watcherA, 'PRESENCE_EVENT_RESPONSE'), recorder(watcherB, 'PRESENCE_EVENT_RESPONSE')];

    const onlines = [next(watcherA, 'PRESENCE_EVENT_RESPONSE'), next(watcherB, 'PRESENCE_EVENT_RESPONSE')];
    const zoeA = await as('v4', A, 'zoe');
    await subscribe(zoeA, 'span');
    for (const n of await Promise.all(onlines)) expect(n).to.deep.include({ category: ONLINE, sender: { _id: 'zoe', displayname: 'zoe', type: 'user' } });
    const zoeB = await as('v2', B, 'zoe');
    await subscribe(zoeB, 'span'); // online on node A already: no notice
    zoeA.close(); // zoe is still on node B: no notice
    await waitUntil('zoe gone from node A', async () => !(await nodes()[0]!.service.core.isMember('/chat', 'span', zoeA.id)));

    const offlines = [next(watcherA, 'PRESENCE_EVENT_RESPONSE'), next(watcherB, 'PRESENCE_EVENT_RESPONSE')];
    await request(zoeB, 'UNSUBSCRIBE_CHANNEL', { channel: channel('span') });
    for (const n of await Promise.all(offlines)) expect(n).to.deep.include({ category: OFFLINE, sender: { _id: 'zoe', displayname: 'zoe', type: 'user' } });
    // The marker: a presence event from a watcher reaches the other one after anything sent before.
    const marker = next(watcherA, 'PRESENCE_EVENT_RESPONSE');
    watcherB.emit('SEND_PRESENCE_EVENT', { channel: channel('span'), category: 'app.event.presence.marker' });
    await marker;
    expect(notices[0]!.received.map((n: any) => n.category)).to.deep.equal([ONLINE, OFFLINE, 'app.event.presence.marker']);
    expect(notices[1]!.received.map((n: any) => n.category)).to.deep.equal([ONLINE, OFFLINE]);
  });
});

describe('/chat: a killed node\'s users go offline', function () {
  const TTL_MS = 1000;
  const prefix = uniquePrefix('chat-kill');
  let redis: RedisServer | undefined;
  let survivors: Running[] = [];
  let doomed: RunningProcess | undefined;
  before(async function () {
    requireRedisOrSkip(this);
    redis = await useRedis();
    survivors = await startNodes(1, redis.url, prefix, {}, TTL_MS);
    doomed = await startCli(['--redis', redis.url, '--redis-prefix', prefix, '--presence-ttl', `${TTL_MS}ms`]);
  });
  after(async () => {
    doomed?.child.kill('SIGKILL');
    await doomed?.exited;
    await Promise.allSettled(survivors.map((n) => n.close()));
    if (redis) await deletePrefix(redis.url, prefix);
    await redis?.stop();
  });
  afterEach(closeAll);

  it('within 4/3 of --presence-ttl, once; a user also on a surviving node stays online', async () => {
    const A = survivors[0]!.url;
    const D = doomed!.url;
    const watcher = await as('v4', A, 'watcher');
    await subscribe(watcher, 'doom');
    const notices = recorder(watcher, 'PRESENCE_EVENT_RESPONSE');
    const onlines = collect(watcher, 'PRESENCE_EVENT_RESPONSE', 2);
    const gone = await as('v4', D, 'gone');
    await subscribe(gone, 'doom');
    const both = await as('v1', D, 'both');
    await subscribe(both, 'doom');
    expect((await onlines).map((n) => n.sender._id).sort()).to.deep.equal(['both', 'gone']);
    const bothHere = await as('v4', A, 'both');
    await subscribe(bothHere, 'doom');

    const offline = next(watcher, 'PRESENCE_EVENT_RESPONSE', 10_000);
    const killedAt = Date.now();
    doomed!.child.kill('SIGKILL');
    await doomed!.exited;
    expect(await offline).to.deep.equal({ channel: { _id: 'doom', type: 'topic' }, category: OFFLINE, sender: { _id: 'gone', displayname: 'gone', type: 'user' } });
    expect(Date.now() - killedAt).to.be.below(TTL_MS + TTL_MS / 3 + 1500);

    const marker = next(watcher, 'PRESENCE_EVENT_RESPONSE');
    bothHere.emit('SEND_PRESENCE_EVENT', { channel: channel('doom'), category: 'app.event.presence.marker' });
    await marker;
    expect(notices.received.map((n: any) => `${n.category} ${n.sender._id}`)).to.deep.equal([
      `${ONLINE} gone`,
      `${ONLINE} both`,
      `${OFFLINE} gone`,
      'app.event.presence.marker both',
    ]);
  });
});

describe('/chat with a message store: stored first', () => {
  let faulty: FaultyStore;
  let svc: Running;
  before(async () => {
    const inner = (await openMessageStore({ kind: 'sqlite', dataDir: join(tempDir('ns-chat-first-'), 'data') }))!;
    faulty = faultyStore(inner);
    svc = await startService({}, { store: faulty.store });
  });
  after(() => svc?.close());
  afterEach(() => {
    closeAll();
    faulty.fail.savePending = false;
    faulty.fail.place = false;
  });

  it('a message that cannot be stored is not sent: SEND_MESSAGE_FAILED STORE_FAILED, nobody gets it, no offset taken', async () => {
    const [sender, other] = await Promise.all([as('v4', svc.url, 'ann'), as('v4', svc.url, 'bob')]);
    await subscribe(sender, 'kept-1');
    await subscribe(other, 'kept-1');
    const seen = recorder(other, 'MESSAGE_SENT');
    faulty.fail.savePending = true;
    const failed = await failure(sender, 'SEND_MESSAGE', message('kept-1', 'lost', { loopbackMetadata: 7 }));
    expect(failed).to.deep.include({ topicId: 'kept-1', loopbackMetadata: 7 });
    expect(failed.error.code).to.equal('STORE_FAILED');
    faulty.fail.savePending = false;
    const got = next(other, 'MESSAGE_SENT');
    const ack = await request(sender, 'SEND_MESSAGE', message('kept-1', 'kept'));
    expect(ack).to.include({ ok: true, topicId: 'kept-1', offset: 1, recipients: 1 });
    expect((await got).content.bodyText).to.equal('kept');
    expect(seen.received).to.have.length(1);
    const history = await request(sender, 'GET_HISTORY', { channel: channel('kept-1') });
    expect(history.messages.map((m: any) => m.content.bodyText)).to.deep.equal(['kept']);
  });

  it('stored but not completed after it went out: delivered, and STORE_FAILED with {offset, recipients} in the ack, not SEND_MESSAGE_FAILED', async () => {
    const [sender, other] = await Promise.all([as('v4', svc.url, 'ann'), as('v4', svc.url, 'bob')]);
    await subscribe(sender, 'kept-2');
    await subscribe(other, 'kept-2');
    const notFailed = recorder(sender, 'SEND_MESSAGE_FAILED');
    faulty.fail.place = true;
    const got = next(other, 'MESSAGE_SENT');
    const ack = await request(sender, 'SEND_MESSAGE', message('kept-2', 'half'));
    expect(ack.ok).to.equal(false);
    expect(ack.error).to.deep.include({ code: 'STORE_FAILED', details: { offset: 1, recipients: 1 } });
    expect((await got).content.bodyText).to.equal('half');
    expect(notFailed.received).to.be.empty;
  });

  it('POST /publish/chat: a message that cannot be stored is not sent (500 STORE_FAILED)', async () => {
    const c = await as('v4', svc.url, 'cat');
    await subscribe(c, 'kept-3');
    const seen = recorder(c, 'MESSAGE_SENT');
    faulty.fail.savePending = true;
    const res = await fetch(`${svc.url}/publish/chat/kept-3`, { method: 'POST', body: '{"bodyText":"x"}' });
    expect(res.status).to.equal(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('STORE_FAILED');
    faulty.fail.savePending = false;
    const got = next(c, 'MESSAGE_SENT');
    const stored = await fetch(`${svc.url}/publish/chat/kept-3`, { method: 'POST', body: '{"bodyText":"y"}' });
    expect(((await stored.json()) as { offset: number }).offset).to.equal(1);
    await got;
    expect(seen.received).to.have.length(1);
  });
});
