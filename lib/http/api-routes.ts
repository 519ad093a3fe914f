/**
 * The server HTTP API on the rooms of every namespace (docs/PROTOCOL.md section 7):
 *   GET  /rooms/:namespace/:room/history?limit=&since=<epoch>:<offset>   recent messages, oldest first
 *   GET  /rooms/:namespace/:room/messages?limit=&before=<offset>          stored messages, a page
 *   GET  /rooms/:namespace/:room/presence                                 the room's connections
 *   GET  /rooms?namespace=&prefix=&limit=&cursor=                        rooms with members, a page
 *   POST /users/:user/disconnect   {"block": "10m"}?                    a user's connections closed
 *
 * Who may: an API key always; a user's token where its rights allow (the subscribe right on the
 * room for history, messages and presence); listing rooms and disconnecting need the API key.
 * No or bad credentials: 401; a token without the right: 403.
 */
import type { IncomingMessage } from 'node:http';
import type { HttpCaller } from '../auth/access.js';
import type { UserDisconnect } from '../auth/user-disconnect.js';
import { parseDuration } from '../config/values.js';
import type { HttpProtocol } from '../core/dispatch.js';
import { ServiceError } from '../core/errors.js';
import { serverPublisher, type Hub } from '../core/hub.js';
import type { Publisher } from '../core/types.js';
import { DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT } from '../history/parse.js';
import { isBefore, type HistoryEntry } from '../history/types.js';
import { userKeyPrefix } from '../presence/users.js';
import { parseEventId } from './sse.js';
import { pathSegment, readBody, roomFromPath, sendJson } from './http-io.js';
import type { Route } from './route-table.js';

export interface ApiDeps {
  core: Hub;
  protocols: readonly HttpProtocol[];
  /** Who calls (lib/auth/access.ts httpCaller); absent: everyone is trusted (auth off, no keys). */
  caller?: (req: IncomingMessage, query: URLSearchParams) => Promise<HttpCaller>;
  disconnect: UserDisconnect;
  /** What a connection's entry names as its node when its store did not say. */
  nodeId: string;
}

const DEFAULT_MESSAGES = 10;
const MAX_MESSAGES = 100;
const DEFAULT_ROOMS = 100;
const MAX_ROOMS = 1000;
const MAX_USER_LENGTH = 1024;
/** The longest block: a month. */
const MAX_BLOCK_MS = 30 * 86_400_000;

export function apiRoutes(deps: ApiDeps): Route[] {
  /** A route on one room: the namespace, the room and the caller as a publisher of that namespace. */
  const onRoom = (path: string, serve: (protocol: HttpProtocol, who: Publisher, room: string, query: URLSearchParams) => Promise<unknown>): Route => ({
    path,
    methods: ['GET'],
    async handle({ req, res, params, query }) {
      const protocol = protocolOf(deps, params[0]!);
      const room = roomFromPath(params[1]!, deps.core.limits);
      const who = await publisherFor(req, query, deps, protocol.name);
      sendJson(res, 200, await serve(protocol, who, room, query));
    },
  });
  return [
    onRoom('/rooms/{namespace}/{room}/history', async (protocol, who, room, query) => ({ messages: await history(deps.core, protocol, who, room, query) })),
    onRoom('/rooms/{namespace}/{room}/messages', (protocol, who, room, query) => messages(deps.core, protocol, who, room, query)),
    onRoom('/rooms/{namespace}/{room}/presence', async (protocol, who, room) => ({ members: await presence(deps, protocol, who, room) })),
    {
      path: '/rooms',
      methods: ['GET'],
      async handle({ req, res, query }) {
        await requireKey(req, query, deps);
        sendJson(res, 200, await rooms(deps, query));
      },
    },
    {
      path: '/users/{user}/disconnect',
      methods: ['POST'],
      async handle({ req, res, params, query }) {
        await requireKey(req, query, deps);
        sendJson(res, 200, await disconnectUser(deps, req, params[0]!));
      },
    },
  ];
}

/**
 * Closes the connections of the user named by a percent-encoded path segment on every node, blocked
 * for a while when the body says `{"block": "10m"}` (also the admin page's, lib/admin/routes.ts).
 */
export async function disconnectUser(deps: Pick<ApiDeps, 'disconnect'>, req: IncomingMessage, encodedUser: string): Promise<{ ok: true; disconnected: number }> {
  const user = pathSegment(encodedUser, 'user');
  // A token's sub is kept to 1024 characters (lib/auth/principal.ts): no user is longer.
  if (user.length > MAX_USER_LENGTH) {
    req.resume();
    throw new ServiceError('INVALID_PAYLOAD', `user must be at most ${MAX_USER_LENGTH} characters`);
  }
  const blockMs = parseBlock(await readBody(req, 4096));
  return { ok: true, disconnected: await deps.disconnect.disconnect(user, blockMs) };
}

/** The caller as a publisher of namespace `ns`: trusted with an API key, else the user with its own rights. */
export async function publisherFor(req: IncomingMessage, query: URLSearchParams, deps: Pick<ApiDeps, 'caller'>, ns: string): Promise<Publisher> {
  const caller = deps.caller ? await deps.caller(req, query) : { kind: 'key' as const };
  if (caller.kind === 'key') return serverPublisher(ns);
  return { ns, id: undefined, auth: caller.principal, trusted: false, source: 'http' };
}

/** An API key, else 401 (no or bad credentials) or 403 (a user's token: not enough). */
async function requireKey(req: IncomingMessage, query: URLSearchParams, deps: ApiDeps): Promise<void> {
  if (!deps.caller) return;
  const caller = await deps.caller(req, query);
  if (caller.kind !== 'key') {
    req.resume();
    throw new ServiceError('FORBIDDEN', 'this route needs the API key');
  }
}

export function protocolOf(deps: ApiDeps, ns: string): HttpProtocol {
  const protocol = deps.protocols.find((p) => p.name === `/${ns}`);
  if (!protocol) throw new ServiceError('NOT_FOUND', `no namespace /${ns.slice(0, 64)}`);
  return protocol;
}

/** An integer query parameter from 1 to `max`, `fallback` when absent. */
function intParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new ServiceError('INVALID_PAYLOAD', `${name} must be an integer from 1 to ${max}`);
  return n;
}

const itemOf = (protocol: HttpProtocol) => (entry: HistoryEntry): unknown => (protocol.historyItem ? protocol.historyItem(entry) : entry.args[0]);

/**
 * Recent messages (history merged with the store), oldest first: the newest `limit`, or with
 * `since` the first `limit` after that position (of the newest MAX_HISTORY_LIMIT).
 */
export async function history(core: Hub, protocol: HttpProtocol, who: Publisher, room: string, query: URLSearchParams): Promise<unknown[]> {
  const limit = intParam(query, 'limit', DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT);
  const sinceText = query.get('since');
  if (sinceText === null || sinceText === '') return (await core.history(who, room, limit)).map(itemOf(protocol));
  const since = parseEventId(sinceText);
  if (!since) throw new ServiceError('INVALID_PAYLOAD', 'since must be <epoch>:<offset>, the id of a message');
  const recent = await core.history(who, room, MAX_HISTORY_LIMIT);
  return recent.filter((e) => isBefore(since, e.meta)).slice(0, limit).map(itemOf(protocol));
}

/** Stored messages with an offset below `before` (all when absent): the newest `limit`, oldest first. */
async function messages(core: Hub, protocol: HttpProtocol, who: Publisher, room: string, query: URLSearchParams): Promise<{ messages: unknown[]; hasMore: boolean }> {
  const limit = intParam(query, 'limit', DEFAULT_MESSAGES, MAX_MESSAGES);
  const beforeText = query.get('before');
  let before: { epoch: string; offset: number } | undefined;
  if (beforeText !== null && beforeText !== '') {
    before = parseEventId(beforeText);
    if (!before) {
      const offset = Number(beforeText);
      if (!/^\d+$/.test(beforeText) || !Number.isSafeInteger(offset)) throw new ServiceError('INVALID_PAYLOAD', 'before must be an offset (or <epoch>:<offset>)');
      // A bare offset counts in the room's current epoch: that of its newest stored message.
      const newest = await core.stored(who, room, 1);
      if (newest.length === 0) return { messages: [], hasMore: false };
      before = { epoch: newest[0]!.meta.epoch, offset };
    }
  }
  // One more than asked: whether an older one exists.
  const entries = await core.stored(who, room, limit + 1, before);
  const hasMore = entries.length > limit;
  return { messages: entries.slice(hasMore ? 1 : 0).map(itemOf(protocol)), hasMore };
}

export async function presence(deps: ApiDeps, protocol: HttpProtocol, who: Publisher, room: string): Promise<unknown[]> {
  await deps.core.authorize(who, 'subscribe', room);
  const members = await deps.core.members(protocol.name, room);
  // Connections only: a protocol's own entries (none in a client room today) have no protocol.
  return members
    .filter((m) => m.protocol !== undefined)
    .map((m) => ({ id: m.id, name: protocol.displayName ? protocol.displayName(m) : m.name, user: m.user ?? null, protocol: m.protocol, node: m.node ?? deps.nodeId }));
}

/** The cursor of the page after the one that ended at `last`: opaque to callers. */
const cursorOf = (last: { namespace: string; room: string }): string => Buffer.from(JSON.stringify([last.namespace, last.room])).toString('base64url');

function parseCursor(text: string): { namespace: string; room: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return { namespace: value[0], room: value[1] };
  } catch {
    // below
  }
  throw new ServiceError('INVALID_PAYLOAD', 'cursor is not one this service gave');
}

export async function rooms(deps: ApiDeps, query: URLSearchParams): Promise<{ rooms: { namespace: string; room: string; members: number }[]; next: string | null }> {
  const limit = intParam(query, 'limit', DEFAULT_ROOMS, MAX_ROOMS);
  const ns = query.get('namespace');
  const prefix = query.get('prefix');
  const cursor = query.get('cursor');
  if (ns !== null && ns !== '') protocolOf(deps, ns.replace(/^\//, ''));
  if (prefix !== null && prefix.length > deps.core.limits.maxRoomLength) throw new ServiceError('INVALID_PAYLOAD', 'prefix is longer than any room name');
  const page = await deps.core.rooms({
    limit,
    ...(ns ? { namespace: `/${ns.replace(/^\//, '')}` } : {}),
    ...(prefix ? { prefix } : {}),
    ...(cursor ? { after: parseCursor(cursor) } : {}),
  });
  // Namespaces as in every route: without the slash. A protocol's own presence rooms (/chat's users)
  // and the hub's internal namespaces (presence watchers: `/layout/presence`) are not rooms.
  const listed = page.rooms
    .filter((r) => !r.room.startsWith(userKeyPrefix) && deps.protocols.some((p) => p.name === r.namespace))
    .map((r) => ({ namespace: r.namespace.replace(/^\//, ''), room: r.room, members: r.members }));
  const last = page.rooms[page.rooms.length - 1];
  return { rooms: listed, next: page.more && last ? cursorOf(last) : null };
}

/** The optional body of a disconnect: `{"block": "10m"}` (or milliseconds). */
function parseBlock(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ServiceError('INVALID_JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ServiceError('INVALID_PAYLOAD', 'the body must be an object {block?}');
  const block = (body as Record<string, unknown>).block;
  if (block === undefined || block === null) return undefined;
  if (typeof block !== 'string' && typeof block !== 'number') throw new ServiceError('INVALID_PAYLOAD', 'block must be a duration such as "10m"');
  try {
    return parseDuration(String(block), 'block', 1000, MAX_BLOCK_MS);
  } catch (err) {
    throw new ServiceError('INVALID_PAYLOAD', (err as Error).message);
  }
}
