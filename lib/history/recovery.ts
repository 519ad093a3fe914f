/**
 * socket.io connection-state recovery (CSR) on top of the fan-out adapter.
 *
 * With CSR on, socket.io appends an id to every broadcast, keeps the packets for a while, and a v4
 * client that comes back within `--recovery-window` gets its old socket id, rooms and data back
 * plus what it missed, without any code of its own. socket.io's SessionAwareAdapter does that on
 * top of the plain in-memory adapter; this is the same on top of FanoutAdapter (whose single-room
 * fast path stays: the id goes into the packet before it is encoded once for every member), with
 * three differences:
 *
 * - Missed packets are not written when the session is restored (socket.io does that in the
 *   Socket constructor, before the connection middlewares run: a client whose credentials no
 *   longer pass would still get them). They are taken from the buffer in the `connection` handler
 *   instead (`resume`), after the middlewares, and at that point the socket is already among the
 *   namespace's sockets, so whatever was broadcast meanwhile is in the buffer or reaches it live:
 *   no gap and no duplicate.
 * - The session's data is copied when it is persisted, since the disconnect handler clears the
 *   live state afterwards.
 * - Lookups are by sequence number rather than by a scan, the buffer is bounded in count and in
 *   bytes (`maxBufferedBytes`, --recovery-memory) as well as in time, and Engine.IO v3 clients
 *   (1.x, 2.x), which never resume, are not kept.
 */
import type { BroadcastOptions, Room, Session, SocketId } from 'socket.io-adapter';
import { argsFor, chooseOffsetPerConnection, emitHere, FanoutAdapter, markOffset } from '../transport/index.js';
import { approxBytes } from '../core/message-size.js';
import type { Logger } from '../log/logger.js';
import { ROOM_PREFIX, type AppSocket, type SocketState } from '../core/app-socket.js';
import { RoomNames } from '../core/room-names.js';

/** Packets kept per namespace at most, whatever their age. */
export const MAX_RECOVERY_PACKETS = 10_000;
/** How long a restored session's missed packets wait for the middlewares to let the socket in. */
const PENDING_MS = 60_000;

interface BufferedPacket {
  seq: number;
  /**
   * Who it went to: the room and the one id left out of the common broadcast (a publication to one
   * room, its publisher excepted), else the broadcast's options. Not the options themselves in the
   * common case: their two Sets were about 40 % of what a buffered packet keeps alive (every packet
   * lives through several scavenges and is promoted).
   */
  room: Room | undefined;
  except: SocketId | undefined;
  opts: BroadcastOptions | undefined;
  data: unknown[];
  emittedAt: number;
  bytes: number;
}

type PersistedSession = Omit<Session, 'missedPackets'> & { disconnectedAt: number };

const EVENT_PACKET = 2;
const NO_SESSION = Promise.resolve(null) as unknown as Promise<Session>;

export class RecoveringFanoutAdapter extends FanoutAdapter {
  private readonly windowMs: number;
  /** Distinguishes this process's packet ids from any other's. */
  private readonly tag = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, '0');
  private readonly sessions = new Map<string, PersistedSession>();
  /** Restored sockets whose missed packets are still to be sent: sid -> last packet seq the client had. */
  private readonly pending = new Map<string, { afterSeq: number; at: number }>();
  private packets: BufferedPacket[] = [];
  /** Index of the oldest live packet in `packets` (the ones before it are dropped). */
  private head = 0;
  private seq = 0;
  /** Bytes of the buffered packets, bounded by `maxBytes` (oldest dropped first). */
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly timer: NodeJS.Timeout;

  constructor(nsp: any) {
    super(nsp);
    chooseOffsetPerConnection(this);
    this.windowMs = nsp.server.opts.connectionStateRecovery.maxDisconnectionDuration;
    this.maxBytes = nsp.server.opts.connectionStateRecovery.maxBufferedBytes ?? Infinity;
    this.timer = setInterval(() => this.prune(Date.now()), Math.min(this.windowMs, 60_000));
    this.timer.unref();
  }

  private idOf(seq: number): string {
    return `${this.tag}${seq.toString(36)}`;
  }

  /** The sequence number of a packet id of this adapter, or undefined. */
  private seqOf(id: string): number | undefined {
    if (id.length <= this.tag.length || !id.startsWith(this.tag)) return undefined;
    const seq = parseInt(id.slice(this.tag.length), 36);
    return Number.isSafeInteger(seq) && seq > 0 && seq <= this.seq ? seq : undefined;
  }

  override broadcast(packet: any, opts: BroadcastOptions): void {
    // As SessionAwareAdapter: events without an ack and not volatile are kept and numbered.
    if (packet.type === EVENT_PACKET && packet.id === undefined && opts.flags?.volatile === undefined) {
      const compact = opts.rooms.size === 1 && (opts.except === undefined || opts.except.size <= 1);
      if (compact) this.keep(packet, firstOf(opts.rooms), opts.except === undefined ? undefined : firstOf(opts.except), undefined);
      else this.keep(packet, undefined, undefined, opts);
    }
    super.broadcast(packet, opts);
  }

  override deliverToRoom(packet: any, room: Room, except: SocketId | undefined): number {
    // A hub delivery: to one room, its publisher (a socket id, its own room) left out. Kept even
    // when no member is here: the room's sessions that are away get it when they come back.
    if (packet.type === EVENT_PACKET && packet.id === undefined) this.keep(packet, room, except, undefined);
    return super.deliverToRoom(packet, room, except);
  }

  /** Numbers the packet (its id goes last, where a v4 client looks for it) and keeps it. */
  private keep(packet: any, room: Room | undefined, except: SocketId | undefined, opts: BroadcastOptions | undefined): void {
    const seq = ++this.seq;
    // Members whose connection gets no offsets get the packet without it (lib/transport/recovery-offsets.ts).
    packet.data.push(this.idOf(seq));
    markOffset(packet);
    const now = Date.now();
    const bytes = approxBytes(packet.data);
    this.bytes += bytes;
    this.packets.push({ seq, room, except, opts, data: packet.data, emittedAt: now, bytes });
    if (this.packets.length - this.head > MAX_RECOVERY_PACKETS || this.bytes > this.maxBytes || this.packets[this.head]!.emittedAt < now - this.windowMs) this.prune(now);
  }

  override persistSession(session: Omit<Session, 'missedPackets'>): void {
    // Engine.IO v3 clients ("/nsp#id") have no session id to come back with.
    if (session.sid.includes('#')) return;
    // The disconnect handler clears the live state right after this: keep a copy.
    const data = session.data as SocketState | undefined;
    const copy = data?.names instanceof RoomNames ? { ...data, names: copyNames(data.names) } : data;
    this.sessions.set(session.pid, { ...session, rooms: [...session.rooms], data: copy, disconnectedAt: Date.now() });
  }

  // socket.io-adapter types this Promise<Session>, but socket.io (and its own adapter) use null for "no session".
  override restoreSession(pid: string, offset: string): Promise<Session> {
    const now = Date.now();
    this.prune(now);
    const session = this.sessions.get(pid);
    if (!session) return NO_SESSION;
    // The client must have had a packet of ours, and everything after it must still be here.
    const afterSeq = this.seqOf(offset);
    const oldest = this.head < this.packets.length ? this.packets[this.head]!.seq : this.seq + 1;
    if (afterSeq === undefined || afterSeq < oldest - 1) return NO_SESSION;
    this.sessions.delete(pid);
    this.pending.set(session.sid, { afterSeq, at: now });
    const { disconnectedAt: _disconnectedAt, ...restored } = session;
    return Promise.resolve({ ...restored, missedPackets: [] });
  }

  /** The last packet a restored socket had (once: the entry is removed), or undefined. */
  takePending(sid: string): number | undefined {
    const pending = this.pending.get(sid);
    this.pending.delete(sid);
    return pending?.afterSeq;
  }

  /**
   * The packets after `afterSeq` that reach any of `rooms`, in order; undefined when some of them
   * were dropped from the buffer already (the gap cannot be filled).
   */
  missed(afterSeq: number, rooms: ReadonlySet<Room>): unknown[][] | undefined {
    const oldest = this.head < this.packets.length ? this.packets[this.head]!.seq : this.seq + 1;
    if (afterSeq < oldest - 1) return undefined;
    const missed: unknown[][] = [];
    for (let i = this.head; i < this.packets.length; i++) {
      const p = this.packets[i]!;
      if (p.seq > afterSeq && (p.opts ? reaches(p.opts, rooms) : rooms.has(p.room!) && (p.except === undefined || !rooms.has(p.except)))) missed.push(p.data);
    }
    return missed;
  }

  private prune(now: number): void {
    const threshold = now - this.windowMs;
    for (const [pid, s] of this.sessions) if (s.disconnectedAt < threshold) this.sessions.delete(pid);
    for (const [sid, p] of this.pending) if (p.at < now - PENDING_MS) this.pending.delete(sid);
    let head = this.head;
    const end = this.packets.length;
    while (head < end && (end - head > MAX_RECOVERY_PACKETS || this.bytes > this.maxBytes || this.packets[head]!.emittedAt < threshold)) this.bytes -= this.packets[head++]!.bytes;
    if (head === end) {
      this.packets = [];
      this.head = 0;
      this.bytes = 0;
    } else if (head > 1024 && head > end / 2) {
      this.packets = this.packets.slice(head);
      this.head = 0;
    } else {
      this.packets.fill(undefined as unknown as BufferedPacket, this.head, head);
      this.head = head;
    }
  }

  override close(): void {
    clearInterval(this.timer);
    this.sessions.clear();
    this.pending.clear();
    this.packets = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/** The one element of a Set of one. */
function firstOf<T>(set: Set<T>): T | undefined {
  for (const one of set) return one;
  return undefined;
}

export function reaches(opts: Pick<BroadcastOptions, 'rooms' | 'except'>, rooms: ReadonlySet<Room>): boolean {
  let included = opts.rooms.size === 0;
  for (const room of rooms) {
    if (opts.except?.has(room)) return false;
    if (!included && opts.rooms.has(room)) included = true;
  }
  return included;
}

function copyNames(names: RoomNames): RoomNames {
  const copy = new RoomNames();
  for (const room of names.keys()) copy.set(room, names.get(room)!);
  return copy;
}

/** Display names per room from a restored session: a RoomNames, or what a serialising store made of one. */
function readNames(raw: unknown): Map<string, string> {
  if (raw instanceof RoomNames) return new Map(raw.keys().map((room) => [room, raw.get(room)!]));
  if (raw instanceof Map) return new Map(raw as Map<string, string>);
  if (Array.isArray(raw)) return new Map(raw as [string, string][]);
  return new Map();
}

/** What a restored session brought back, and the display name each of its rooms is rejoined under. */
export function restoredSession(socket: AppSocket): Pick<SocketState, 'auth' | 'lastName' | 'lobby'> & { nameOf(room: string): string } {
  const data = (socket.data ?? {}) as Partial<SocketState> & { names?: unknown };
  const names = readNames(data.names);
  const { auth, lastName, lobby } = data;
  return { auth, lastName, lobby, nameOf: (room) => auth?.name ?? names.get(room) ?? lastName ?? socket.id };
}

/** The disconnect took a restored socket out of presence: puts it back in `room` (a failure is logged). */
export function restorePresence(socket: AppSocket, deps: ResumeDeps, room: string, name: string): void {
  deps.addPresence(room, name).catch((err: unknown) => deps.logger.error('restoring presence failed', { nsp: socket.nsp.name, socket: socket.id, err }));
}

/** A room a restored socket may no longer read (or could not get back whole), at debug level. */
export function logDroppedRoom(socket: AppSocket, deps: ResumeDeps, room: string, reason: unknown): void {
  if (deps.logger.isDebugEnabled()) {
    deps.logger.debug('recovered room dropped', { nsp: socket.nsp.name, socket: socket.id, room: room.slice(0, 64), reason: (reason as Error).message });
  }
}

export interface ResumeDeps {
  /** The JOIN check (subscribe rights): throws, or rejects, when the room is not allowed any more. */
  authorize(room: string): void | Promise<void>;
  addPresence(room: string, name: string): Promise<void>;
  logger: Logger;
}

/**
 * Puts a socket restored by CSR back in order, from its `connection` handler (after the
 * middlewares, so with the credentials it has now): its rooms as far as its rights still allow
 * (asked as for a JOIN), display names, presence, then the packets it missed.
 *
 * A room whose verdict must be awaited (an authorization service) is left at once and joined
 * again once allowed, with its missed packets sent in the same synchronous block as the join;
 * a denied room stays left (a JOIN then answers FORBIDDEN).
 */
export function resume(socket: AppSocket, deps: ResumeDeps): void {
  const session = restoredSession(socket);
  const names = new RoomNames();
  const awaiting: { room: string; name: string; verdict: Promise<void> }[] = [];
  const log = (room: string, err: unknown): void => logDroppedRoom(socket, deps, room, err);
  for (const key of [...socket.rooms]) {
    if (!key.startsWith(ROOM_PREFIX)) continue;
    const room = key.slice(ROOM_PREFIX.length);
    const name = session.nameOf(room);
    let verdict: void | Promise<void>;
    try {
      verdict = deps.authorize(room);
    } catch (err) {
      void socket.leave(key);
      log(room, err);
      continue;
    }
    if (verdict instanceof Promise) {
      void socket.leave(key);
      awaiting.push({ room, name, verdict });
      continue;
    }
    names.set(room, name);
  }
  const { lobby, auth } = session;
  socket.data = { names, lastName: session.lastName, lobby: lobby !== undefined && names.has(lobby) ? lobby : undefined, auth };
  for (const room of names.keys()) restorePresence(socket, deps, room, names.get(room)!);

  const adapter = socket.nsp.adapter;
  const afterSeq = adapter instanceof RecoveringFanoutAdapter ? adapter.takePending(socket.id) : undefined;
  // Each packet carries its id already: written as it is (without it where the connection gets no offsets), not numbered again.
  const emit = (packet: unknown[]): void => emitHere(socket, ...(argsFor(socket.conn, packet) as [string, ...unknown[]]));
  if (afterSeq !== undefined) {
    for (const packet of (adapter as RecoveringFanoutAdapter).missed(afterSeq, socket.rooms) ?? []) emit(packet);
  }
  for (const { room, name, verdict } of awaiting) {
    verdict.then(
      () => {
        const key = ROOM_PREFIX + room;
        if (!socket.connected || socket.data.names.has(room)) return; // gone, or JOINed again meanwhile
        const missed = afterSeq === undefined ? [] : (adapter as RecoveringFanoutAdapter).missed(afterSeq, new Set([key]));
        if (missed === undefined) return log(room, new Error('missed packets no longer buffered'));
        void socket.join(key);
        for (const packet of missed) emit(packet);
        socket.data.names.set(room, name);
        if (lobby === room) socket.data.lobby = room;
        restorePresence(socket, deps, room, name);
      },
      (err: unknown) => log(room, err),
    );
  }
  if (deps.logger.isDebugEnabled()) deps.logger.debug('connection state recovered', { nsp: socket.nsp.name, socket: socket.id, rooms: names.size, awaiting: awaiting.length });
}
