/**
 * The cluster history store: offsets, epochs and recent history of rooms in Redis, shared by every
 * node, so a client can resume on whichever node it reconnects to.
 *
 * Per room two keys: a hash (`…:hm:<ns>|<room>`: epoch, last offset) and a stream of its recent
 * messages (`…:hs:<ns>|<room>`, entry id `<offset>-0`, at most --history-size entries and
 * --history-max-bytes (a byte total in the hash; oldest trimmed first), expiring
 * --history-ttl after the last message). One Lua script publishes a message: it takes the next
 * offset (a new epoch when the room had none), writes the message with its meta to the room's
 * stream and, as a BROADCAST entry (built by lib/transport/stream-format.ts), to the cluster
 * adapter's stream, which every node (this one included) reads in order and delivers from. One
 * atomic step for all three is what makes every node deliver a room's messages in offset order,
 * whoever published them. The publications of one event go in one call of the script, in order
 * (lib/history/publish-batches.ts).
 *
 * A room's hash outlives its messages by a day (ROOM_IDLE_MS): a client that comes back within it
 * with a position from a room that fell quiet is told TOO_OLD, not a misleading EPOCH_CHANGED. A
 * flushed or replaced Redis loses the hash, and the next message starts a new epoch.
 *
 * While Redis is away, messages are delivered on this node only (lib/cluster/cluster.ts) with a node-local
 * epoch from `fallback`: positions from that time cannot be resumed, and say so (EPOCH_CHANGED).
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../core/errors.js';
import { ROOM_PREFIX } from '../core/app-socket.js';
import type { RedisConnection } from '../cluster/redis-connection.js';
import { RedisScript } from '../cluster/redis-script.js';
import { stringifyWithRaw } from '../json/raw-json.js';
import { roomBroadcastTemplate } from '../transport/index.js';
import { CATCH_UP_WAIT_MS, compareStreamIds, type DeliveryCursor } from './delivery-cursor.js';
import { PublishBatches } from './publish-batches.js';
import type { MemoryHistory } from './memory.js';
import { attachMeta, newEpoch, type HistoryEntry, type HistoryStore, type MessageMeta, type Position, type Recovery, type RecoveryReader } from './types.js';

/** How long a room's epoch and last offset outlive its last message or resume. */
const ROOM_IDLE_MS = 24 * 60 * 60_000;

/**
 * Publishes a batch of messages, in order: KEYS[1] is the cluster stream, then each message's two
 * room keys; ARGV holds, per message, its count of values and then the values (`publish` below,
 * sent by lib/history/publish-batches.ts).
 * Answers each message's epoch and offset, in order. One call for the publications of one event:
 * a node that reads the stream is woken once for all of them, not once for the first and again for
 * the rest, and writes them to its members together.
 */
const PUBLISH = new RedisScript(`
local replies = {}
local at = 1
for m = 0, (#KEYS - 1) / 2 - 1 do
  local hm, hs = KEYS[2 + 2 * m], KEYS[3 + 2 * m]
  local n = tonumber(ARGV[at])
  local V = {unpack(ARGV, at + 1, at + n)}
  at = at + n + 1
  local epoch = redis.call('HGET', hm, 'epoch')
  if not epoch then
    epoch = V[1]
    redis.call('DEL', hs)
    redis.call('HSET', hm, 'epoch', epoch, 'offset', 0)
  end
  local offset = redis.call('HINCRBY', hm, 'offset', 1)
  redis.call('PEXPIRE', hm, V[5])
  local args = V[7] .. '{"offset":' .. offset .. ',"epoch":"' .. epoch .. '","ts":' .. V[2] .. '}' .. V[8]
  -- The adapter's entry: names and values from V[12] on, the last value followed by the arguments and V[11].
  local entry = {unpack(V, 12)}
  entry[#entry] = entry[#entry] .. args .. V[11]
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', V[6], '*', unpack(entry))
  if tonumber(V[3]) > 0 then
    local a = '[' .. args .. ']'
    local bytes = 0
    if redis.call('EXISTS', hs) == 1 then bytes = tonumber(redis.call('HGET', hm, 'bytes')) or 0 end
    redis.call('XADD', hs, offset .. '-0', 's', id, 't', V[2], 'e', V[9], 'a', a)
    bytes = bytes + #a
    local len = redis.call('XLEN', hs)
    local size, max = tonumber(V[3]), tonumber(V[10])
    -- Oldest first, past --history-size entries or --history-max-bytes (the byte total lives in the room's hash).
    while len > 0 and (len > size or bytes > max) do
      local first = redis.call('XRANGE', hs, '-', '+', 'COUNT', 1)[1]
      local fields = first[2]
      for i = 1, #fields, 2 do if fields[i] == 'a' then bytes = bytes - #fields[i + 1] end end
      redis.call('XDEL', hs, first[1])
      len = len - 1
    end
    if len == 0 then
      redis.call('DEL', hs)
      bytes = 0
    else
      redis.call('PEXPIRE', hs, V[4])
    end
    redis.call('HSET', hm, 'bytes', bytes)
  end
  replies[#replies + 1] = epoch
  replies[#replies + 1] = offset
end
return replies
`);

/**
 * The room's epoch and head (made when missing), the adapter stream's last id, the room's entries
 * from ARGV[3] when asked, and the entry at the client's own position ARGV[5] (0 or 1 of them).
 */
const SINCE = new RedisScript(`
local state = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch = state[1]
local head = tonumber(state[2]) or 0
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local lastId = '0-0'
if last[1] then lastId = last[1][1] end
local entries = {}
local at = {}
if epoch == ARGV[4] and tonumber(ARGV[5]) < head then entries = redis.call('XRANGE', KEYS[2], ARGV[3], '+') end
if epoch == ARGV[4] and tonumber(ARGV[5]) > 0 and tonumber(ARGV[5]) <= head then at = redis.call('XRANGE', KEYS[2], ARGV[5] .. '-0', ARGV[5] .. '-0') end
return {epoch, head, lastId, entries, at}
`);

/** The room's epoch and up to ARGV[2] entries at or before ARGV[1], newest first. */
const PAGE = new RedisScript(`
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {false, {}} end
return {epoch, redis.call('XREVRANGE', KEYS[2], ARGV[1], '-', 'COUNT', ARGV[2])}
`);

type StreamEntry = [id: string, fields: string[]];

export interface RedisHistoryOptions {
  connection: RedisConnection;
  /** The cluster's key prefix (--redis-prefix). */
  prefix: string;
  /** The cluster adapter's stream, which every node reads. */
  adapterStream: string;
  /** Its approximate length bound (the adapter's own `maxLen`). */
  adapterMaxLen: number;
  size: number;
  ttlMs: number;
  /** Bytes of messages (their JSON) kept per room, oldest dropped first; absent: no byte bound. */
  maxBytes?: number;
  cursor: DeliveryCursor;
  /** Meta for messages published while Redis is away (size 0, not recoverable). */
  fallback: MemoryHistory;
  now?: () => number;
}

export class RedisHistory implements HistoryStore {
  /** A placeholder that no message can contain: the script puts the meta where it is. */
  private readonly marker = `\u0001meta-${randomUUID()}`;
  private readonly markerJson: string;
  private readonly now: () => number;
  private readonly keep: boolean;

  /** This node's publications, one script call per event (lib/history/publish-batches.ts). */
  private readonly batches: PublishBatches;

  constructor(private readonly options: RedisHistoryOptions) {
    this.batches = new PublishBatches(options.adapterStream, (keys, args) => options.connection.run((c) => PUBLISH.run(c, { keys, arguments: args })));
    this.markerJson = JSON.stringify(this.marker);
    this.now = options.now ?? Date.now;
    this.keep = options.size > 0 && options.ttlMs > 0;
    for (const script of [PUBLISH, SINCE, PAGE]) script.loadOnReady(options.connection.client);
  }

  private keys(ns: string, room: string): string[] {
    const { prefix, adapterStream } = this.options;
    return [`${prefix}:hm:${ns}|${room}`, `${prefix}:hs:${ns}|${room}`, adapterStream];
  }

  async publish(ns: string, room: string, event: string, args: unknown[], except: string | undefined): Promise<MessageMeta | undefined> {
    const { connection } = this.options;
    if (!connection.healthy) return undefined;
    attachMeta(event, args, this.marker as unknown as MessageMeta);
    const json = stringifyWithRaw(args);
    const cut = json.lastIndexOf(this.markerJson);
    // The entry socket.io's cluster adapter would write for `nsp.to(room).except(socket).emit(...)`.
    const entry = roomBroadcastTemplate({ nsp: ns, rooms: [ROOM_PREFIX + room], except: except === undefined ? [] : [except], event });
    const ts = this.now();
    const [hm, hs] = this.keys(ns, room);
    const values = [
      newEpoch(ts),
      String(ts),
      String(this.keep ? this.options.size : 0),
      String(this.options.ttlMs),
      String(Math.max(ROOM_IDLE_MS, this.options.ttlMs)),
      String(this.options.adapterMaxLen),
      json.slice(1, cut),
      json.slice(cut + this.markerJson.length, -1),
      event,
      String(this.options.maxBytes ?? 2 ** 52),
      entry.after,
      ...entry.fields,
    ];
    const [epoch, offset] = await this.batches.add(hm!, hs!, values, json.length);
    return { offset, epoch, ts };
  }

  /** Only while Redis is away (publish answered undefined): meta from this node, delivered here only. */
  append(ns: string, room: string, event: string, args: unknown[]): MessageMeta {
    return this.options.fallback.append(ns, room, event, args);
  }

  async since(ns: string, room: string, since: Position): Promise<RecoveryReader> {
    const { connection, cursor } = this.options;
    if ((await cursor.position(ns)) === undefined) return () => ({ recovered: false, reason: 'UNAVAILABLE', head: { offset: 0, epoch: '' } });
    const now = this.now();
    let reply: [string, number, string, StreamEntry[], StreamEntry[]];
    try {
      reply = (await connection.run((c) =>
        SINCE.run(c, {
          keys: this.keys(ns, room),
          arguments: [newEpoch(now), String(Math.max(ROOM_IDLE_MS, this.options.ttlMs)), `${since.offset + 1}-0`, since.epoch, String(since.offset)],
        }),
      )) as typeof reply;
    } catch {
      return () => ({ recovered: false, reason: 'UNAVAILABLE', head: { offset: 0, epoch: '' } });
    }
    const [epoch, rawHead, readUpTo, raw, at] = reply;
    const head: Position = { offset: Number(rawHead), epoch };
    const base = this.check(since, head);
    if (base) return () => base;
    // The client has seen a message this node has not delivered yet (it was on a node further
    // along the stream): wait until this one has, or the messages up to its position would reach
    // it again, live, after the join.
    const seen = at[0] ? this.field(at[0], 's') : undefined;
    if (seen !== undefined && !(await cursor.reached(ns, seen, CATCH_UP_WAIT_MS))) {
      return () => ({ recovered: false, reason: 'UNAVAILABLE', head });
    }
    const cutoff = now - this.options.ttlMs;
    const entries = raw.map((e) => this.entry(e, epoch));
    // Complete and fresh: exactly the offsets after `since`, none expired.
    if (entries.length !== head.offset - since.offset || (entries.length > 0 && (entries[0]!.entry.meta.offset !== since.offset + 1 || entries[0]!.entry.meta.ts < cutoff))) {
      return () => ({ recovered: false, reason: 'TOO_OLD', head });
    }
    return (last) => {
      // A message of this room delivered here after the read: the read misses it. Read again.
      const lastOfRoom = cursor.lastOfRoom(ns, ROOM_PREFIX + room);
      if (lastOfRoom !== undefined && compareStreamIds(lastOfRoom, readUpTo) > 0) {
        return last ? { recovered: false, reason: 'UNAVAILABLE', head } : undefined;
      }
      // Delivered here already: replay. After that: they arrive live once the socket has joined.
      const processed = cursor.processed(ns)!;
      const replay = entries.filter((e) => compareStreamIds(e.streamId, processed) <= 0).map((e) => e.entry);
      // The head is a position: the last replayed entry's offset, not its meta (no ts), as every store answers.
      const headOffset = replay.length ? replay[replay.length - 1]!.meta.offset : since.offset;
      return { recovered: true, entries: replay, head: { offset: headOffset, epoch } };
    };
  }

  /** The answer when `since` cannot be resumed whatever the entries, or undefined. */
  private check(since: Position, head: Position): Recovery | undefined {
    if (since.epoch !== head.epoch) return { recovered: false, reason: 'EPOCH_CHANGED', head };
    if (since.offset > head.offset) return { recovered: false, reason: 'UNKNOWN_OFFSET', head };
    if (since.offset < head.offset && !this.keep) return { recovered: false, reason: 'TOO_OLD', head };
    return undefined;
  }

  /** A field of a room history entry: a (arguments), t (time), e (event), s (its adapter stream id). */
  private field([, fields]: StreamEntry, name: string): string {
    return fields[fields.indexOf(name) + 1]!;
  }

  private entry(raw: StreamEntry, epoch: string): { streamId: string; entry: HistoryEntry } {
    const args = JSON.parse(this.field(raw, 'a')) as unknown[];
    const meta: MessageMeta = { offset: Number(streamIdOffset(raw[0])), epoch, ts: Number(this.field(raw, 't')) };
    return { streamId: this.field(raw, 's'), entry: { event: this.field(raw, 'e'), args, meta } };
  }

  async page(ns: string, room: string, limit: number, before?: Position): Promise<HistoryEntry[]> {
    if (!this.keep || limit <= 0) return [];
    const keys = this.keys(ns, room);
    let reply: [string | null, StreamEntry[]];
    try {
      reply = (await this.options.connection.run((c) =>
        PAGE.run(c, { keys: keys.slice(0, 2), arguments: [before ? `${Math.max(0, before.offset - 1)}-0` : '+', String(limit)] }),
      )) as typeof reply;
    } catch {
      throw new ServiceError('NOT_READY', 'the shared history cannot be read now');
    }
    const [epoch, raw] = reply;
    if (!epoch) return [];
    if (before && before.epoch !== epoch) {
      // A position from an older epoch: nothing of this epoch is before it. From a newer one (this
      // node's own while Redis was away): everything is.
      if (before.epoch < epoch) return [];
      return this.page(ns, room, limit);
    }
    if (before && before.offset <= 1) return [];
    const cutoff = this.now() - this.options.ttlMs;
    return raw
      .map((e) => this.entry(e, epoch).entry)
      .filter((e) => e.meta.ts >= cutoff)
      .reverse();
  }

  close(): void {
    this.options.fallback.close();
  }
}

function streamIdOffset(id: string): string {
  return id.slice(0, id.indexOf('-'));
}
