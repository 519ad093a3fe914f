/**
 * The Redis Streams adapter's entry format, as lib/transport/stream-format.ts writes and reads it,
 * held to the real adapter (@socket.io/redis-streams-adapter on a socket.io server, a private
 * Redis): what the adapter writes for a room broadcast parses to the same rooms, exceptions and
 * data; what the module builds for the same broadcast has the same fields, decodes to the same
 * message, and is delivered by the adapter to the room's members, the excepted one left out. An
 * adapter that renamed a field or changed the message's JSON fails here.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { expect } from 'chai';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { fillBroadcast, markerEntry, parseBroadcast, roomBroadcastTemplate, ROOM_MESSAGE_UID, type RoomBroadcast, type StreamFields } from '../lib/transport/index.js';
import { closeAll, connect, next, type TestClient } from './helpers/clients.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';

type Redis = ReturnType<typeof createClient>;
type Entry = { id: string; message: StreamFields };
type Decode = (raw: StreamFields) => { uid: string; nsp: string; type: number; data?: unknown };

const NSP = '/format';
const ROOM = 'r:format';
/** Arguments with what JSON escapes, a nested object and a number (after the event name). */
const ARGS = [{ room: 'format', message: { text: 'quote " backslash \\ é \u2028', n: [1, 2.5, null] } }, 7];

/** Comma-separated JSON of the arguments, as the publish script fills it in. */
const argsJson = (args: unknown[]): string => JSON.stringify(args).slice(1, -1);

describe('the Redis Streams adapter entry format (lib/transport/stream-format.ts), against the real adapter', function () {
  let redis: RedisServer;
  let client: Redis;
  let reader: Redis;
  let http: HttpServer;
  let io: Server;
  let url: string;
  const prefix = uniquePrefix('stream-format');
  const stream = `${prefix}:stream`;

  before(async function () {
    requireRedisOrSkip(this);
    redis = await useRedis();
    client = createClient({ url: redis.url });
    reader = client.duplicate();
    await Promise.all([client.connect(), reader.connect()]);
    http = createServer();
    io = new Server(http, { adapter: createAdapter(client, { streamName: stream, channelPrefix: `${prefix}:channel`, blockTimeInMs: 500 }) });
    io.of(NSP).on('connection', (socket) => void socket.join(ROOM));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(closeAll);

  after(async () => {
    if (!redis) return;
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await deletePrefix(redis.url, prefix);
    client.destroy();
    reader.destroy();
    await redis.stop();
  });

  /** The stream's last id now ('0-0' when empty): entries written after are read from it. */
  async function lastId(): Promise<string> {
    const newest = await client.xRevRange(stream, '+', '-', { COUNT: 1 });
    return newest?.[0]?.id ?? '0-0';
  }

  /** The first entry after `after`, waiting for it (XREAD BLOCK). */
  async function entryAfter(after: string): Promise<Entry> {
    const reply = (await reader.xRead({ key: stream, id: after }, { BLOCK: 5000, COUNT: 1 })) as { messages: Entry[] }[] | null;
    const entry = reply?.[0]?.messages[0];
    if (!entry) throw new Error('the adapter wrote nothing to its stream within 5 s');
    return entry;
  }

  /** The entry the real adapter writes for `nsp.to(ROOM).except(except).emit(event, ...ARGS)`. */
  async function adapterEntry(except: string): Promise<Entry> {
    const after = await lastId();
    io.of(NSP).to(ROOM).except(except).emit('EVENT', ...ARGS);
    return entryAfter(after);
  }

  const broadcast = (except: string[]): RoomBroadcast => ({ nsp: NSP, rooms: [ROOM], except, event: 'EVENT' });
  const decode = (raw: StreamFields): ReturnType<Decode> => (io.of(NSP).adapter.constructor as unknown as { decode: Decode }).decode(raw);

  it("parses the adapter's room broadcast to its rooms, exceptions and data", async () => {
    const entry = await adapterEntry('some-socket');
    expect(parseBroadcast(entry.message, NSP)).to.deep.equal({ data: ['EVENT', ...ARGS], rooms: new Set([ROOM]), except: new Set(['some-socket']) });
    expect(parseBroadcast(entry.message, '/other'), 'another namespace').to.equal(undefined);
  });

  it('builds, for the same broadcast, the fields the adapter writes, which it decodes to the same message', async () => {
    const theirs = (await adapterEntry('some-socket')).message;
    const ours = fillBroadcast(roomBroadcastTemplate(broadcast(['some-socket'])), argsJson(ARGS));
    expect(Object.keys(ours).sort(), 'field names').to.deep.equal(Object.keys(theirs).sort());
    expect(ours.nsp).to.equal(theirs.nsp);
    expect(ours.type).to.equal(theirs.type);
    // Ours names the packet's namespace too, which socket.io-adapter's broadcast sets on delivery anyway.
    const expected = decode(theirs) as { uid: string; data: { packet: Record<string, unknown> } };
    expected.uid = ROOM_MESSAGE_UID;
    expected.data.packet.nsp = NSP;
    expect(decode(ours)).to.deep.equal(expected);
    expect(parseBroadcast(ours, NSP)).to.deep.equal(parseBroadcast(theirs, NSP));
  });

  it('the adapter delivers an entry the module built to the room, not to the excepted socket, and passes a marker', async () => {
    const [kept, excepted] = (await Promise.all([connect('v4', url, NSP), connect('v4', url, NSP)])) as [TestClient, TestClient];
    const gotEvent = next(kept, 'EVENT');
    const gotDone = next(excepted, 'DONE');
    let exceptedGotEvent = false;
    excepted.on('EVENT', () => (exceptedGotEvent = true));
    // The marker first: an entry every reader passes without acting on it.
    await client.xAdd(stream, '*', markerEntry(NSP));
    await client.xAdd(stream, '*', fillBroadcast(roomBroadcastTemplate(broadcast([excepted.id])), argsJson(ARGS)));
    // Read in stream order: by DONE, the EVENT before it was delivered or skipped.
    await client.xAdd(stream, '*', fillBroadcast(roomBroadcastTemplate({ ...broadcast([]), event: 'DONE' }), argsJson([1])));
    expect(await gotEvent).to.deep.equal(ARGS[0]);
    await gotDone;
    expect(exceptedGotEvent, 'the excepted socket got the event').to.equal(false);
  });
});
