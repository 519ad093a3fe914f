/**
 * Users (not connections) in rooms, across nodes: for protocols that announce a user once, when
 * its first connection enters a room, and once more when its last one leaves (/chat's online and
 * offline), however many connections it has on however many nodes.
 *
 * Each node counts its own connections per (room, user) in memory: the truth for this node, and
 * the whole truth on a single node, so a single node decides exactly and at once. Across nodes, a
 * node holds one presence entry per (room, user) while it has connections of that user in the room,
 * in a presence room of its own (`userKey`); "is the user on another node" is then one read, and a
 * dead node's entries go with it when it is swept (the surviving node that swept them reports them
 * once: `lost`). Two nodes whose first (or last) connections of one user arrive at the same moment
 * may both announce: a notice can come twice, never not at all.
 */
import { randomUUID } from 'node:crypto';
import type { Member } from './types.js';

/** The presence operations used here (the hub's). */
export interface PresenceAccess {
  trackPresence(ns: string, room: string, member: Member): Promise<void>;
  untrackPresence(ns: string, room: string, id: string): Promise<void>;
  members(ns: string, room: string): Promise<Member[]>;
}

export interface User {
  id: string;
  name: string;
}

/** A user of a room to announce. */
export interface RoomUser {
  room: string;
  user: User;
}

/** This node's connections of one user in one room, and the presence entry that says so. */
interface Here {
  entry: string;
  connections: Set<string>;
}

const MARK = 'user';
/** How every user presence room's name starts (GET /rooms leaves them out: they are not client rooms). */
export const userKeyPrefix = `["${MARK}",`;

/**
 * The presence room of a user in a room. JSON with a mark: every character of a room name or user
 * id survives, and the entries in it (see entryId) are told from the socket ids of a client room
 * that happens to have the same name.
 */
export const userKey = (room: string, userId: string): string => JSON.stringify([MARK, room, userId]);

function parseUserKey(key: string): { room: string; userId: string } | undefined {
  if (!key.startsWith(userKeyPrefix)) return undefined;
  try {
    const value: unknown = JSON.parse(key);
    if (Array.isArray(value) && value.length === 3 && typeof value[1] === 'string' && typeof value[2] === 'string') {
      return { room: value[1], userId: value[2] };
    }
  } catch {
    // not one of ours
  }
  return undefined;
}

/** A node's entry: its tag and the user's display name, which a sweep would otherwise lose. */
const entryId = (tag: string, name: string): string => JSON.stringify([tag, name]);

function parseEntry(id: string): { tag: string; name: string } | undefined {
  if (!id.startsWith('["')) return undefined;
  try {
    const value: unknown = JSON.parse(id);
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return { tag: value[0], name: value[1] };
    }
  } catch {
    // a socket id
  }
  return undefined;
}

export class UserPresence {
  /** This node's entries (unique per process and namespace). */
  private readonly tag = `node-${randomUUID()}`;
  /** userKey -> this node's connections of that user in that room. */
  private readonly here = new Map<string, Here>();

  constructor(
    private readonly ns: string,
    private readonly presence: PresenceAccess,
  ) {}

  /**
   * Connection `id` of `user` entered `room`. True when the user was in the room nowhere before:
   * announce it. Entering twice is harmless.
   */
  async enter(room: string, user: User, id: string): Promise<boolean> {
    const key = userKey(room, user.id);
    const existing = this.here.get(key);
    if (existing) {
      existing.connections.add(id);
      return false;
    }
    const here: Here = { entry: entryId(this.tag, user.name), connections: new Set([id]) };
    this.here.set(key, here);
    // Issued in this order on one Redis connection, so the read sees the entry of a concurrent leave gone.
    const added = this.presence.trackPresence(this.ns, key, { id: here.entry, name: user.name });
    const elsewhere = await this.onOtherNodes(key);
    await added;
    // A leave in between took the user out again: no announcement of a presence already over.
    return !elsewhere && this.here.get(key) === here;
  }

  /**
   * Connection `id` of user `userId` left `room` (or closed). True when it was the user's last
   * connection in the room on every node: announce it.
   */
  async leave(room: string, userId: string, id: string): Promise<boolean> {
    const key = userKey(room, userId);
    const here = this.here.get(key);
    if (!here?.connections.delete(id) || here.connections.size > 0) return false;
    this.here.delete(key);
    const removed = this.presence.untrackPresence(this.ns, key, here.entry);
    const elsewhere = await this.onOtherNodes(key);
    await removed;
    // Back in meanwhile (a new connection): still present, nothing to say.
    return !elsewhere && !this.here.has(key);
  }

  /**
   * A dead node's entries, reported by the node that swept them: the users that are now in the room
   * on no node (announce them gone). `room` is the presence room as reported; anything not ours is ignored.
   */
  async lost(room: string, ids: readonly string[]): Promise<RoomUser[]> {
    const parsed = parseUserKey(room);
    if (!parsed || this.here.has(room)) return [];
    const entry = ids.map(parseEntry).find((e) => e !== undefined);
    if (!entry || (await this.onOtherNodes(room))) return [];
    return [{ room: parsed.room, user: { id: parsed.userId, name: entry.name } }];
  }

  /** This node's entries, written back after the others had swept it as dead: its users to announce again. */
  back(room: string, ids: readonly string[]): RoomUser[] {
    const parsed = parseUserKey(room);
    const here = this.here.get(room);
    if (!parsed || !here || !ids.includes(here.entry)) return [];
    return [{ room: parsed.room, user: { id: parsed.userId, name: parseEntry(here.entry)!.name } }];
  }

  /** Another node has the user in the room (this node's own entry and socket ids of a same-named room aside). */
  private async onOtherNodes(key: string): Promise<boolean> {
    const members = await this.presence.members(this.ns, key);
    return members.some((m) => {
      const entry = parseEntry(m.id);
      return entry !== undefined && entry.tag !== this.tag;
    });
  }
}
