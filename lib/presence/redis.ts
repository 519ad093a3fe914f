/**
 * Presence for a cluster: who is in which room, readable by every node, that cleans up after a
 * node that died without saying goodbye.
 *
 * Redis keys (prefix P, e.g. `notify`):
 *   P:room:<namespace>:<room>   hash  socket id -> member            (what CLIENTS, PEERS, counts read)
 *   P:node:<node>               hash  "<room key>\n<socket id>" -> member  (that node's own entries)
 *   P:hb:<node>                 string with a TTL: the node's heartbeat
 *   P:nodes                     set of the nodes that registered
 *   P:swept:<node>              string with a TTL: that node was swept (so it can tell, if it was alive)
 *
 * Every node refreshes its heartbeat every TTL/3 and, on the same tick, sweeps: a registered node
 * whose heartbeat expired is removed by one atomic script (SREM decides the one winner), which
 * deletes its entries from every room hash; the winner alone reports the lost members (the lobby
 * turns them into LEFT). So a dead node's members vanish within TTL + TTL/3.
 *
 * A member is its display name, or for a connection its name, user, protocol and node (types.ts
 * encodeMember). GET /rooms scans the room hashes (rooms()).
 *
 * This node's own entries are also kept in memory. That copy is the truth for this node: reads
 * fall back to it while Redis is unreachable (the node keeps serving its own clients), and it is
 * written back whole (stale entries removed, missing ones added) whenever Redis may have lost or
 * missed something: after a failed write, after a reconnect, after Redis restarted empty, or
 * after other nodes swept this one while it was cut off. In that last case its members were
 * reported lost (lobby peers got LEFT), so once written back they are reported back (onBack: the
 * lobby sends JOINED again).
 */
import { RESP_TYPES } from 'redis';
import type { Logger } from '../log/logger.js';
import { decodeMember, encodeMember, MAX_ROOMS_SCANNED, pageOfRooms, type Member, type PresenceStore, type RoomCount, type RoomQuery } from './types.js';
import { globEscape } from '../cluster/glob.js';
import type { RedisConnection } from '../cluster/redis-connection.js';

export interface LostMembers {
  namespace: string;
  room: string;
  ids: string[];
  /** The name each of `ids` was in the room under (same order): what /layout's LEFT notices carry. */
  names: string[];
}

export interface RedisPresenceOptions {
  connection: RedisConnection;
  logger: Logger;
  /** This node's id: unique per process. */
  nodeId: string;
  /** Key prefix, e.g. 'notify'. */
  prefix: string;
  /** Heartbeat lifetime; heartbeat and sweep run every third of it. */
  ttlMs: number;
  /** Members of dead nodes, reported once cluster-wide (by the node that swept them). */
  onLost?: (lost: LostMembers[]) => void;
  /** This node's members, after the others had swept it as dead while it was in fact alive. */
  onBack?: (back: LostMembers[]) => void;
}

/**
 * Removes a node's registration and all its entries, atomically. Without ARGV[3] == '1' it only
 * acts on a node whose heartbeat has expired and that is still registered (the sweep); with it,
 * always (a node leaving). Returns the removed entries, or nil when there was nothing to do.
 * A sweep leaves a tombstone (KEYS[4], expiring after ARGV[2] ms) for the node to find if it was
 * alive after all. KEYS: nodes set, heartbeat key, node hash, tombstone. ARGV: node id, tombstone
 * lifetime, force. The entries come back as the node hash's field, name, field, name, ...
 */
const REMOVE_NODE = `
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[2]) == 1 then return false end
local registered = redis.call('SREM', KEYS[1], ARGV[1])
if ARGV[3] ~= '1' and registered == 0 then return false end
local entries = redis.call('HGETALL', KEYS[3])
for i = 1, #entries, 2 do
  local roomKey, id = string.match(entries[i], '^(.*)\\n([^\\n]*)$')
  if roomKey then redis.call('HDEL', roomKey, id) end
end
redis.call('DEL', KEYS[3], KEYS[2])
if ARGV[3] ~= '1' then redis.call('SET', KEYS[4], '1', 'PX', ARGV[2]) end
return entries
`;

/** Hash replies as Maps, whatever their field names. */
const AS_MAP = { [RESP_TYPES.MAP]: Map } as const;

/** How long a sweep's tombstone waits for a node that was alive after all. */
const TOMBSTONE_MS = 600_000;

export class RedisPresence implements PresenceStore {
  private readonly connection: RedisConnection;
  private readonly logger: Logger;
  private readonly nodeId: string;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly onLost: ((lost: LostMembers[]) => void) | undefined;
  private readonly onBack: ((back: LostMembers[]) => void) | undefined;
  private readonly nodesKey: string;
  private liveNodes = 1;
  private readonly nodeKey: string;
  private readonly hbKey: string;
  /** This node's members: room key -> socket id -> member (encodeMember). */
  private readonly local = new Map<string, Map<string, string>>();
  /** Redis may differ from `local`: write it back whole on the next tick. */
  private dirty = true;
  /** The others took this node for dead; its members are to be announced back once written back. */
  private sweptWhileAlive = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private readonly onUp = (): void => void this.tick();

  constructor(options: RedisPresenceOptions) {
    this.connection = options.connection;
    this.logger = options.logger;
    this.nodeId = options.nodeId;
    this.prefix = options.prefix;
    this.ttlMs = options.ttlMs;
    this.onLost = options.onLost;
    this.onBack = options.onBack;
    this.nodesKey = `${this.prefix}:nodes`;
    this.nodeKey = this.nodeHashKey(this.nodeId);
    this.hbKey = this.heartbeatKey(this.nodeId);
  }

  /** Nodes with a live heartbeat, this one included, as the last sweep saw them (`notify_cluster_nodes`). */
  get nodeCount(): number {
    return this.liveNodes;
  }

  /** Registers this node and starts the heartbeat and sweep ticks. */
  async start(): Promise<void> {
    this.connection.on('up', this.onUp);
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
    await this.tick();
  }

  async add(namespace: string, room: string, member: Member): Promise<void> {
    const key = this.roomKey(namespace, room);
    let members = this.local.get(key);
    if (!members) this.local.set(key, (members = new Map()));
    const value = encodeMember(member, this.nodeId);
    members.set(member.id, value);
    await this.write((c) =>
      c
        .multi()
        .hSet(key, member.id, value)
        .hSet(this.nodeKey, `${key}\n${member.id}`, value)
        .sIsMember(this.nodesKey, this.nodeId)
        .exec()
        .then((replies) => {
          // Swept while cut off, or Redis restarted empty: the rest of this node's entries are gone too.
          if (Number(replies[2]) !== 1) this.dirty = true;
        }),
    );
  }

  async remove(namespace: string, room: string, id: string): Promise<void> {
    const key = this.roomKey(namespace, room);
    const members = this.local.get(key);
    if (!members?.delete(id)) return;
    if (members.size === 0) this.local.delete(key);
    await this.write((c) => c.multi().hDel(key, id).hDel(this.nodeKey, `${key}\n${id}`).exec());
  }

  async list(namespace: string, room: string): Promise<Member[]> {
    const key = this.roomKey(namespace, room);
    const all = new Map<string, string>();
    // As a Map: the client's default object would lose an id such as `__proto__`.
    const remote = await this.read((c) => c.withTypeMapping(AS_MAP).hGetAll(key));
    remote?.forEach((name, id) => all.set(String(id), String(name)));
    // This node's own members always count, even before a write-back after an outage.
    this.local.get(key)?.forEach((name, id) => all.set(id, name));
    return [...all].map(([id, value]) => decodeMember(id, value));
  }

  async has(namespace: string, room: string, id: string): Promise<boolean> {
    const key = this.roomKey(namespace, room);
    if (this.local.get(key)?.has(id)) return true;
    return (await this.read((c) => c.hExists(key, id))) === 1;
  }

  async count(namespace: string, room: string): Promise<number> {
    const key = this.roomKey(namespace, room);
    const localCount = this.local.get(key)?.size ?? 0;
    if (this.dirty) return Math.max(localCount, (await this.list(namespace, room)).length);
    const remote = await this.read((c) => c.hLen(key));
    return remote === undefined ? localCount : Number(remote);
  }

  /**
   * Rooms with members on any node: the room hashes found by SCAN (at most MAX_ROOMS_SCANNED keys
   * looked at), with this node's own rooms when Redis cannot answer.
   */
  async rooms(query: RoomQuery): Promise<{ rooms: RoomCount[]; more: boolean }> {
    const found = new Map<string, RoomCount>();
    const roomPrefix = `${this.prefix}:room:`;
    const parse = (key: string): { namespace: string; room: string } | undefined => {
      const rest = key.slice(roomPrefix.length);
      const colon = rest.indexOf(':');
      return colon < 0 ? undefined : { namespace: rest.slice(0, colon), room: rest.slice(colon + 1) };
    };
    const match = `${globEscape(roomPrefix)}${query.namespace === undefined ? '*' : `${globEscape(query.namespace)}:${globEscape(query.prefix ?? '')}*`}`;
    const keys = await this.read(async (c) => {
      const seen: string[] = [];
      let cursor = '0';
      do {
        const reply = await c.scan(cursor, { MATCH: match, COUNT: 1000 });
        cursor = String(reply.cursor);
        seen.push(...reply.keys);
      } while (cursor !== '0' && seen.length < MAX_ROOMS_SCANNED);
      return seen;
    });
    // An existing hash has members (Redis deletes empty ones): count only the page's.
    for (const key of keys ?? []) {
      const name = parse(key);
      if (name) found.set(key, { ...name, members: 1 });
    }
    for (const [key, members] of this.local) {
      const name = parse(key);
      if (name && members.size > 0 && !found.has(key)) found.set(key, { ...name, members: members.size });
    }
    const page = pageOfRooms(found.values(), query);
    const sizes = keys && page.rooms.length ? await this.read((c) => Promise.all(page.rooms.map((r) => c.hLen(this.roomKey(r.namespace, r.room))))) : undefined;
    page.rooms.forEach((r, i) => {
      // This node's own members always count (as in list).
      const own = this.local.get(this.roomKey(r.namespace, r.room))?.size ?? 0;
      r.members = Math.max(own, sizes ? Number(sizes[i]) : 0);
    });
    return page;
  }

  /** Stops the ticks and removes this node and all its entries from Redis. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.connection.off('up', this.onUp);
    await this.ticking?.catch(() => undefined);
    try {
      await this.connection.run((c) => this.removeNode(c, this.nodeId, true));
    } catch (err) {
      this.logger.warn('could not remove this node from redis presence: the others will sweep it', { err: (err as Error).message });
    }
    this.local.clear();
  }

  /** One heartbeat (and write-back when needed), then one sweep; never two at once. */
  private tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.ticking) return this.ticking;
    const current = this.runTick();
    this.ticking = current;
    // Cleared after the assignment: a tick that returns without awaiting must not stay "running".
    void current.finally(() => {
      if (this.ticking === current) this.ticking = undefined;
    });
    return current;
  }

  private async runTick(): Promise<void> {
    try {
      if (!this.connection.client.isReady) {
        this.dirty = true;
        return;
      }
      await this.heartbeat();
      await this.sweep();
    } catch (err) {
      this.dirty = true;
      if (this.logger.isDebugEnabled()) this.logger.debug('presence tick failed', { err: (err as Error).message });
    }
  }

  private async heartbeat(): Promise<void> {
    const tombstone = this.tombstoneKey(this.nodeId);
    const replies = await this.connection.run((c) =>
      c.multi().set(this.hbKey, '1', { PX: this.ttlMs }).sAdd(this.nodesKey, this.nodeId).exists(tombstone).del(tombstone).exec(),
    );
    // Newly added to the set: first start, Redis restarted empty, or swept by the others.
    if (Number(replies[1]) === 1) this.dirty = true;
    if (Number(replies[2]) === 1) {
      this.logger.warn('the other nodes had swept this node as dead: writing its presence back', { node: this.nodeId });
      this.sweptWhileAlive = true; // kept until announced: the tombstone is gone now
    }
    if (this.dirty) await this.writeBack();
    if (this.sweptWhileAlive) {
      this.sweptWhileAlive = false;
      this.report(this.onBack, [...this.local].flatMap(([key, members]) => [...members].flatMap(([id, name]) => [`${key}\n${id}`, name])));
    }
  }

  /** Makes Redis hold exactly this node's entries. */
  private async writeBack(): Promise<void> {
    this.dirty = false;
    try {
      const stored = await this.connection.run((c) => c.hKeys(this.nodeKey));
      await this.connection.run((c) => {
        const multi = c.multi();
        const wanted = new Set<string>();
        const nodeEntries: Record<string, string> = {};
        for (const [key, members] of this.local) {
          if (members.size === 0) continue;
          multi.hSet(key, Object.fromEntries(members));
          for (const [id, value] of members) {
            const field = `${key}\n${id}`;
            wanted.add(field);
            nodeEntries[field] = value;
          }
        }
        for (const field of stored) {
          if (wanted.has(field)) continue;
          const cut = field.lastIndexOf('\n');
          multi.hDel(field.slice(0, cut), field.slice(cut + 1));
          multi.hDel(this.nodeKey, field);
        }
        if (wanted.size) multi.hSet(this.nodeKey, nodeEntries);
        return multi.exec();
      }, 10_000);
      if (this.logger.isDebugEnabled()) this.logger.debug('presence written back to redis', { node: this.nodeId, rooms: this.local.size });
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  /** Removes the registered nodes whose heartbeat expired; reports their members once. */
  private async sweep(): Promise<void> {
    const nodes = (await this.connection.run((c) => c.sMembers(this.nodesKey))).filter((n) => n !== this.nodeId);
    if (nodes.length === 0) {
      this.liveNodes = 1;
      return;
    }
    const alive = await this.connection.run((c) => {
      const multi = c.multi();
      for (const node of nodes) multi.exists(this.heartbeatKey(node));
      return multi.exec();
    });
    this.liveNodes = 1 + alive.filter((a) => Number(a) === 1).length;
    for (const [i, node] of nodes.entries()) {
      if (Number(alive[i]) === 1) continue;
      const entries = await this.connection.run((c) => this.removeNode(c, node, false));
      if (entries === null) continue; // another node won the sweep
      this.logger.warn('swept a node that stopped heartbeating', { node, members: entries.length / 2 });
      this.report(this.onLost, entries);
    }
  }

  private removeNode(c: RedisConnection['client'], node: string, force: boolean): Promise<string[] | null> {
    return c.eval(REMOVE_NODE, {
      keys: [this.nodesKey, this.heartbeatKey(node), this.nodeHashKey(node), this.tombstoneKey(node)],
      arguments: [node, String(TOMBSTONE_MS), force ? '1' : '0'],
    }) as Promise<string[] | null>;
  }

  /** Groups entries (flat: "<room key>\n<id>", name, ...) by room and hands them to `listener`. */
  private report(listener: ((members: LostMembers[]) => void) | undefined, entries: string[]): void {
    if (!listener || entries.length === 0) return;
    const byRoom = new Map<string, LostMembers>();
    const roomPrefix = `${this.prefix}:room:`;
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const field = entries[i]!;
      const cut = field.lastIndexOf('\n');
      const key = field.slice(0, cut);
      if (!key.startsWith(roomPrefix)) continue;
      let entry = byRoom.get(key);
      if (!entry) {
        const rest = key.slice(roomPrefix.length);
        const colon = rest.indexOf(':');
        byRoom.set(key, (entry = { namespace: rest.slice(0, colon), room: rest.slice(colon + 1), ids: [], names: [] }));
      }
      const id = field.slice(cut + 1);
      entry.ids.push(id);
      // Entries are stored encoded (name, user, protocol, node): report the display name.
      entry.names.push(decodeMember(id, entries[i + 1]!).name);
    }
    try {
      listener([...byRoom.values()]);
    } catch (err) {
      this.logger.error('reporting presence changes failed', { err });
    }
  }

  /** A write to Redis that never fails the caller: on failure the entry is written back later. */
  private async write(op: (c: RedisConnection['client']) => Promise<unknown>): Promise<void> {
    if (!this.connection.healthy) {
      this.dirty = true;
      return;
    }
    try {
      await this.connection.run(op);
    } catch (err) {
      this.dirty = true;
      if (this.logger.isDebugEnabled()) this.logger.debug('presence write deferred', { err: (err as Error).message });
    }
  }

  /** A read from Redis; undefined when Redis cannot answer (callers then use this node's own entries). */
  private async read<T>(op: (c: RedisConnection['client']) => Promise<T>): Promise<T | undefined> {
    if (!this.connection.healthy) return undefined;
    try {
      return await this.connection.run(op);
    } catch {
      return undefined;
    }
  }

  private roomKey(namespace: string, room: string): string {
    return `${this.prefix}:room:${namespace}:${room}`;
  }

  private nodeHashKey(node: string): string {
    return `${this.prefix}:node:${node}`;
  }

  private tombstoneKey(node: string): string {
    return `${this.prefix}:swept:${node}`;
  }

  private heartbeatKey(node: string): string {
    return `${this.prefix}:hb:${node}`;
  }
}

