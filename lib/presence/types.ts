/**
 * Who is in which room, under which display name: the interface every presence store meets. The
 * memory store (memory.ts) serves a single node; the cluster store (redis.ts) implements the same
 * interface so handlers never know the difference.
 */
import type { Protocol } from '../core/types.js';

export interface Member {
  /** socket id */
  id: string;
  name: string;
  /**
   * A connection's entry says who and how (GET /rooms/:namespace/:room/presence): its user (the
   * token's `sub`, null without auth) and protocol. Entries without them (a protocol's own, such as
   * /chat's users) are listed as `{id, name}` only.
   */
  user?: string | null;
  protocol?: Protocol;
  /** The node the connection is on: set by the store when listing a connection's entry. */
  node?: string;
}

/** A room with members, as GET /rooms lists it. */
export interface RoomCount {
  namespace: string;
  room: string;
  members: number;
}

/** Which rooms to list: a namespace, a room name prefix, after a (namespace, room) position, at most `limit`. */
export interface RoomQuery {
  namespace?: string;
  prefix?: string;
  after?: { namespace: string; room: string };
  limit: number;
}

/** At most this many rooms are looked at for one GET /rooms page: bounded work per request. */
export const MAX_ROOMS_SCANNED = 100_000;

/** The contract every store meets is test/contracts/presence.contract.ts. */
export interface PresenceStore {
  /**
   * Adds the member, or renames it when its id is in the room already. A store in this process's
   * memory does it at once (no promise): a JOIN then needs no promise round (Hub.join).
   */
  add(namespace: string, room: string, member: Member): void | Promise<void>;
  /** Removes a member this store added (a cluster node removes its own only); absent: nothing happens. */
  remove(namespace: string, room: string, id: string): void | Promise<void>;
  /** Every member once, in no particular order. */
  list(namespace: string, room: string): Promise<Member[]>;
  has(namespace: string, room: string, id: string): Promise<boolean>;
  count(namespace: string, room: string): Promise<number>;
  /**
   * Rooms with members (every node's), ordered by namespace then room, after `query.after`;
   * `more` when there are rooms past the page.
   */
  rooms(query: RoomQuery): Promise<{ rooms: RoomCount[]; more: boolean }>;
  /** Takes every member this store added out of presence; may be called more than once. */
  close(): Promise<void>;
}

/** Compares (namespace, room) pairs: the order of GET /rooms. */
export function compareRooms(a: { namespace: string; room: string }, b: { namespace: string; room: string }): number {
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  return a.room < b.room ? -1 : a.room > b.room ? 1 : 0;
}

/** One page of `all` (any order) for `query`: filtered, sorted, after the cursor, at most limit. */
export function pageOfRooms(all: Iterable<RoomCount>, query: RoomQuery): { rooms: RoomCount[]; more: boolean } {
  const wanted: RoomCount[] = [];
  for (const r of all) {
    if (r.members <= 0) continue;
    if (query.namespace !== undefined && r.namespace !== query.namespace) continue;
    if (query.prefix !== undefined && !r.room.startsWith(query.prefix)) continue;
    if (query.after && compareRooms(r, query.after) <= 0) continue;
    wanted.push(r);
  }
  wanted.sort(compareRooms);
  return { rooms: wanted.slice(0, query.limit), more: wanted.length > query.limit };
}

/**
 * How a store keeps a member in one string (a Redis hash value): the bare name for an entry without
 * a protocol, else a marked JSON array with its user, protocol and node. A bare name that starts
 * with the mark is kept marked, so every name reads back as it was written.
 */
export const MARK = '\u0001';

export function encodeMember(member: Member, node: string | undefined): string {
  if (member.protocol === undefined && !member.name.startsWith(MARK)) return member.name;
  return MARK + JSON.stringify(member.protocol === undefined ? [member.name] : [member.name, member.user ?? null, member.protocol, node ?? null]);
}

export function decodeMember(id: string, value: string): Member {
  if (value.startsWith(MARK)) {
    try {
      const parsed: unknown = JSON.parse(value.slice(1));
      if (Array.isArray(parsed) && typeof parsed[0] === 'string') {
        const [name, user, protocol, node] = parsed as [string, unknown, unknown, unknown];
        if (typeof protocol !== 'string') return { id, name };
        return { id, name, user: typeof user === 'string' ? user : null, protocol: protocol as Protocol, ...(typeof node === 'string' ? { node } : {}) };
      }
    } catch {
      // not ours: the bare name
    }
  }
  return { id, name: value };
}
