/**
 * socket.io connection-state recovery (CSR) in cluster mode, on the Redis Streams adapter: a v4
 * client that lost its connection to one node and comes back, within --recovery-window, to any
 * node gets its socket id, rooms and names back, and every message it missed, exactly once.
 *
 * The adapter's own restore does not fit, for three reasons this module replaces it for:
 * - it writes the missed packets in the Socket constructor, before the connection middlewares
 *   (authentication) run: a client whose credentials no longer pass would still get them;
 * - it reads the stream up to its end while this node is still delivering that stream: packets
 *   this node had not delivered yet are written twice (missed, then live), and those it delivers
 *   before the socket is connected are lost;
 * - it stores the session with msgpack, which keeps no class (the display names).
 *
 * So the session is stored as JSON (only the rooms' display names, last name and lobby: credentials
 * are asked again), the restore only checks that the session and the client's last packet exist,
 * and `resumeFromStream` does the rest from the socket's `connection` handler, after the
 * middlewares: out of its rooms at once, rooms authorized again, the stream read from the client's
 * last packet, then, in one synchronous block, back into the allowed rooms and the packets this
 * node had delivered already written to it (lib/history/delivery-cursor.ts; the ones after arrive
 * live). A read goes again when something for its rooms was delivered here while it ran.
 */
import type { Session } from 'socket.io-adapter';
import { emitHere, getsOffsets, parseBroadcast, type StreamFields } from '../transport/index.js';
import { CATCH_UP_WAIT_MS, compareStreamIds, type DeliveryCursor } from './delivery-cursor.js';
import { MAX_RESUME_READS } from './types.js';
import type { Logger } from '../log/logger.js';
import { ROOM_PREFIX, type AppSocket, type SocketState } from '../core/app-socket.js';
import type { RedisClient } from '../cluster/redis-connection.js';
import { logDroppedRoom, reaches, restorePresence, restoredSession, type ResumeDeps } from './recovery.js';
import { RoomNames } from '../core/room-names.js';

/** Entries read per XRANGE call while catching up. */
const READ_COUNT = 1000;
/** Restores of one session that may give up before the client gets a new session instead. */
const MAX_FAILED_RESTORES = 3;
/** How long a restored session waits for the middlewares to let the socket in. */
const PENDING_MS = 60_000;

interface StreamEntry {
  id: string;
  message: StreamFields;
}

/** What a cluster adapter offers `resumeFromStream`. */
export interface StreamRestore {
  /** The last stream entry a restored socket had and how many restores of it failed before, once. */
  take(sid: string): { offset: string; failures: number } | undefined;
  /** A restore that could not read what the socket missed: the next session it leaves counts it. */
  failed(sid: string, failures: number): void;
  /** Every entry of the stream after `after`, in order. */
  read(after: string): Promise<StreamEntry[]>;
  readonly cursor: DeliveryCursor;
}

export interface StreamRecoveryOptions {
  client: RedisClient;
  stream: string;
  sessionKeyPrefix: string;
  cursor: DeliveryCursor;
}

interface StoredSession {
  sid: string;
  pid: string;
  rooms: string[];
  /** Restores of this session that gave up (the connection was closed so the client tries again). */
  failures?: number;
  data: { names: [string, string][]; lastName: string | undefined; lobby: string | undefined };
}

type RecoverableAdapter = {
  nsp: { server: { opts: { connectionStateRecovery?: { maxDisconnectionDuration?: number } } } };
  persistSession(session: Omit<Session, 'missedPackets'>): void | Promise<void>;
  restoreSession(pid: string, offset: string): Promise<Session | null>;
  streamRestore?: StreamRestore;
};

/** Replaces a streams adapter's session store and restore (see the header comment). */
export function enableStreamRecovery(adapter: RecoverableAdapter, options: StreamRecoveryOptions, logger: Logger): void {
  const { client, stream, sessionKeyPrefix, cursor } = options;
  const pending = new Map<string, { offset: string; at: number; failures: number }>();
  const failures = new Map<string, number>();
  const windowMs = (): number => adapter.nsp.server.opts.connectionStateRecovery?.maxDisconnectionDuration ?? 120_000;

  adapter.persistSession = (session) => {
    // Engine.IO v3 clients ("/nsp#id") have no session id to come back with.
    if (session.sid.includes('#')) return;
    const data = session.data as Partial<SocketState> | undefined;
    const names = data?.names instanceof RoomNames ? data.names.keys().map((room) => [room, data.names!.get(room)!] as [string, string]) : [];
    const failed = failures.get(session.sid);
    failures.delete(session.sid);
    const stored: StoredSession = { sid: session.sid, pid: session.pid, rooms: [...session.rooms], failures: failed, data: { names, lastName: data?.lastName, lobby: data?.lobby } };
    client.set(sessionKeyPrefix + session.pid, JSON.stringify(stored), { expiration: { type: 'PX', value: windowMs() } }).catch((err: unknown) => {
      logger.warn('keeping a session for recovery failed', { err: (err as Error).message });
    });
  };

  adapter.restoreSession = async (pid, offset) => {
    if (!/^\d+-\d+$/.test(offset)) return null;
    const now = Date.now();
    for (const [sid, p] of pending) if (p.at < now - PENDING_MS) pending.delete(sid);
    const [raw, last] = await Promise.all([client.getDel(sessionKeyPrefix + pid), client.xRange(stream, offset, offset)]);
    // The client's last packet must still be in the stream: everything after it is then there too.
    if (typeof raw !== 'string' || !last || last.length === 0) return null;
    const stored = JSON.parse(raw) as StoredSession;
    // Its missed packets could not be read, again and again: a new session (the client rejoins).
    if ((stored.failures ?? 0) >= MAX_FAILED_RESTORES) return null;
    pending.set(stored.sid, { offset, at: now, failures: stored.failures ?? 0 });
    return { ...stored, missedPackets: [] } as unknown as Session;
  };

  adapter.streamRestore = {
    cursor,
    take(sid) {
      const p = pending.get(sid);
      pending.delete(sid);
      return p && { offset: p.offset, failures: p.failures };
    },
    failed(sid, count) {
      failures.set(sid, count);
    },
    async read(after) {
      const all: StreamEntry[] = [];
      for (;;) {
        const batch = (await client.xRange(stream, nextId(after), '+', { COUNT: READ_COUNT })) as StreamEntry[] | null;
        if (!batch || batch.length === 0) return all;
        all.push(...batch);
        after = batch[batch.length - 1]!.id;
        if (batch.length < READ_COUNT) return all;
      }
    },
  };
}

/** The smallest stream id after `id` (exclusive ranges need Redis 6.2). */
function nextId(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${Number(id.slice(dash + 1)) + 1}`;
}

/** The stream restore of a socket restored by CSR in cluster mode, when there is one. */
export function streamRestoreOf(socket: AppSocket): { restore: StreamRestore; offset: string; failures: number } | undefined {
  const restore = (socket.nsp.adapter as unknown as RecoverableAdapter).streamRestore;
  const pending = restore?.take(socket.id);
  return restore && pending ? { restore, ...pending } : undefined;
}

/**
 * Puts a socket restored by CSR in cluster mode back in order (see the header comment). Runs from
 * the `connection` handler, so after the middlewares, with the credentials the client has now.
 */
export async function resumeFromStream(socket: AppSocket, deps: ResumeDeps, restore: StreamRestore, offset: string, failures = 0): Promise<void> {
  const ns = socket.nsp.name;
  const session = restoredSession(socket);
  const keys = [...socket.rooms].filter((key) => key.startsWith(ROOM_PREFIX));
  // Out of its rooms until the packets it missed are known: nothing live may come before them.
  for (const key of keys) void socket.leave(key);
  socket.data = { names: new RoomNames(), lastName: session.lastName, lobby: undefined, auth: session.auth };
  // What was sent to the socket itself up to here was not delivered to it (it was not connected).
  const connectedAt = restore.cursor.processed(ns);

  const verdicts = await Promise.allSettled(keys.map(async (key) => deps.authorize(key.slice(ROOM_PREFIX.length))));
  const allowed = keys.filter((key, i) => {
    const verdict = verdicts[i]!;
    if (verdict.status === 'rejected') logDroppedRoom(socket, deps, key.slice(ROOM_PREFIX.length), verdict.reason);
    return verdict.status === 'fulfilled';
  });
  // Where this node's reader is (a marker entry when it has delivered nothing yet); unknown only
  // when Redis does not answer, and then nothing can be read either.
  const position = await restore.cursor.position(ns);
  const entries: StreamEntry[] = [];
  let failure: string | undefined = position === undefined ? 'redis did not answer' : undefined;
  // The client got packets on a node further along the stream than this one: until this node has
  // delivered them too, they would reach it again, live, once it is back in its rooms.
  if (failure === undefined && !(await restore.cursor.reached(ns, offset, CATCH_UP_WAIT_MS))) failure = 'this node has not yet delivered the stream up to the client\'s offset';
  let after = offset;
  for (let read = 1; failure === undefined; read++) {
    try {
      const batch = await restore.read(after);
      entries.push(...batch);
      if (batch.length) after = batch[batch.length - 1]!.id;
    } catch (err) {
      failure = (err as Error).message;
      break;
    }
    if (socket.disconnected) return;
    // Something for its rooms delivered here after the read: the read misses it. Read on.
    const stale = allowed.some((key) => {
      const last = restore.cursor.lastOfRoom(ns, key);
      return last !== undefined && compareStreamIds(last, after) > 0;
    });
    if (!stale) break;
    if (read >= MAX_RESUME_READS) failure = `messages kept arriving through ${read} reads`;
  }
  if (failure !== undefined) entries.length = 0;

  // Synchronous from here: rooms, then what this node had delivered of them before now.
  if (socket.disconnected) return;
  const delivered = restore.cursor.processed(ns) ?? position ?? '0-0'; // '0-0' only with nothing read
  const roomKeys = new Set(allowed);
  const names = socket.data.names;
  for (const key of allowed) {
    void socket.join(key);
    const room = key.slice(ROOM_PREFIX.length);
    names.set(room, session.nameOf(room));
  }
  if (session.lobby !== undefined && names.has(session.lobby)) socket.data.lobby = session.lobby;
  if (failure !== undefined) {
    // Not whole without what it missed: close the connection (its session is kept with its rooms),
    // so the client reconnects by itself and the restore runs again; after MAX_FAILED_RESTORES
    // the client gets a new session (socket.recovered false) and rejoins with `since`.
    deps.logger.warn('missed packets could not be read: closing the restored connection so the client tries again', { nsp: ns, err: failure, attempt: failures + 1 });
    restore.failed(socket.id, failures + 1);
    socket.conn.close();
    return;
  }
  let replayed = 0;
  for (const entry of entries) {
    const packet = parseBroadcast(entry.message, ns);
    if (!packet || packet.except.has(socket.id)) continue;
    const toRooms = compareStreamIds(entry.id, delivered) <= 0 && reaches(packet, roomKeys);
    const toSocket = packet.rooms.has(socket.id) && (connectedAt === undefined || compareStreamIds(entry.id, connectedAt) <= 0);
    if (!toRooms && !toSocket) continue;
    // The client's new position, as the adapter adds it live (to connections that get offsets).
    if (getsOffsets(socket.conn)) packet.data.push(entry.id);
    emitHere(socket, ...(packet.data as [string, ...unknown[]]));
    replayed++;
  }
  for (const room of names.keys()) restorePresence(socket, deps, room, names.get(room)!);
  if (deps.logger.isDebugEnabled()) deps.logger.debug('connection state recovered', { nsp: ns, socket: socket.id, rooms: names.size, replayed });
}
