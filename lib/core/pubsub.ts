/**
 * The pub/sub core every namespace module calls: membership with display names, presence and
 * the one publish path. Everything that must apply to every message (limits now; history,
 * metrics and authorization later) plugs in here, not in the namespace modules.
 */
import { ROOM_PREFIX, type AppNamespace, type AppSocket } from './app-socket.js';
import type { Action } from '../auth/rights.js';
import { ServiceError } from './errors.js';
import type { PublishReceipt, ServerEvents } from './events.js';
import { MemoryHistory } from '../history/memory.js';
import { attachMeta, MAX_RESUME_READS, entryOf, isBefore, META_STYLE, payloadOf, type HistoryEntry, type HistoryStore, type MaybePromise, type MessageMeta, type Position, type Recovery } from '../history/types.js';
import type { Logger } from '../log/logger.js';
import { MemoryPresence } from '../presence/memory.js';
import type { Member, PresenceStore } from '../presence/types.js';
import { resumeFromStream, streamRestoreOf } from '../history/cluster-recovery.js';
import { PublicationDrain } from './drain.js';
import { emitHere } from '../transport/index.js';
import { resume } from '../history/recovery.js';
import { stringifyWithRaw } from '../json/raw-json.js';
import { RoomNames } from './room-names.js';
import type { MessageStore } from '../storage/types.js';
import type { Limits } from './validate.js';

/**
 * What the core asks before a JOIN (subscribe) and a client publication (publish); lib/auth
 * implements it. Synchronous when the answer is known; throws (or rejects with) FORBIDDEN.
 */
export interface AccessControl {
  authorize(socket: AppSocket, action: Action, room: string): void | Promise<void>;
}

/** A verb's result once a publication that may have waited for authorization is done. */
export function whenDone<T>(sent: unknown, result: T): T | Promise<T> {
  return sent instanceof Promise ? sent.then(() => result) : result;
}

export interface CoreLimits extends Limits {
  maxRoomsPerSocket: number;
}

const roomKey = (room: string): string => ROOM_PREFIX + room;

/** [history] Offsets and recent history of rooms, and the durable store of `store: true` messages. */
export interface HistoryDeps {
  history: HistoryStore;
  store?: MessageStore | undefined;
}

/** Adds a message's receipt to the verb's fresh result object. */
function complete<F extends object>(fields: F, offset: number, recipients: number): F & PublishReceipt {
  const receipt = fields as F & PublishReceipt;
  receipt.offset = offset;
  receipt.recipients = recipients;
  return receipt;
}

/** A message as it went out: what the publisher's ack and the durable store need. */
export interface Published {
  ns: string;
  room: string;
  entry: HistoryEntry;
  recipients: MaybePromise<number>;
}

export class PubSub {
  /** Set when authentication is on (lib/auth/authorization.ts); absent, everything is allowed. */
  access?: AccessControl;
  /** Graceful shutdown: refuses new publications, answers those in flight (lib/core/drain.ts). */
  readonly drain = new PublicationDrain();

  constructor(
    readonly limits: CoreLimits,
    private readonly presence: PresenceStore,
    private readonly logger: Logger,
    private readonly deps: HistoryDeps = { history: new MemoryHistory({ size: 100, ttlMs: 5 * 60_000 }) },
  ) {}

  /**
   * Initialises a new connection's state. A socket restored by connection-state recovery keeps its
   * rooms, as far as its rights still allow (lib/history/recovery.ts); in cluster mode that takes a read
   * from Redis first (lib/history/cluster-recovery.ts), and the result settles once it is done.
   */
  attach(socket: AppSocket): void | Promise<void> {
    if (socket.recovered) {
      const deps = {
        authorize: (room: string) => this.authorize(socket, 'subscribe', room),
        addPresence: (room: string, name: string) => this.presence.add(socket.nsp.name, room, { id: socket.id, name }),
        logger: this.logger,
      };
      const stream = streamRestoreOf(socket);
      if (!stream) return resume(socket, deps);
      return resumeFromStream(socket, deps, stream.restore, stream.offset, stream.failures).catch((err: unknown) => {
        this.logger.error('connection state recovery failed', { nsp: socket.nsp.name, err });
      });
    }
    // Every field up front: one allocation, no out-of-object property store later.
    socket.data = { names: new RoomNames(), lastName: undefined, lobby: undefined, auth: socket.data.auth };
  }

  /** Throws FORBIDDEN unless the connection may `action` the room (always allowed with auth off). */
  authorize(socket: AppSocket, action: Action, room: string): void | Promise<void> {
    return this.access?.authorize(socket, action, room);
  }

  /**
   * Joins `room` under `name` (needs subscribe rights); joining again only updates the name. With
   * auth on the name is the connection's identity, whatever was asked. Resolves with the name used
   * and, with `since`, how the socket was brought up to date: what it missed after that position
   * is sent to it first (see replay).
   */
  async join(socket: AppSocket, room: string, name: string, since?: Position): Promise<{ name: string; recovery: Recovery | undefined }> {
    await this.authorize(socket, 'subscribe', room);
    const state = socket.data;
    if (state.auth) name = state.auth.name;
    let recovery: Recovery | undefined;
    if (!state.names.has(room)) {
      this.checkRoomLimit(socket);
      if (since) recovery = await this.joinSince(socket, room, since);
      else await socket.join(roomKey(room));
    } else if (since) {
      recovery = await this.joinSince(socket, room, since);
    }
    state.names.set(room, name);
    state.lastName = name;
    await this.presence.add(socket.nsp.name, room, { id: socket.id, name });
    // The connection may have closed while the store was busy: do not leave a ghost behind.
    if (socket.disconnected) await this.presence.remove(socket.nsp.name, room, socket.id);
    return { name, recovery };
  }

  private checkRoomLimit(socket: AppSocket): void {
    if (socket.data.names.size >= this.limits.maxRoomsPerSocket) {
      throw new ServiceError('TOO_MANY_ROOMS', `a connection may be in at most ${this.limits.maxRoomsPerSocket} rooms`);
    }
  }

  /**
   * [history] Joins `room` (unless the socket is in it already) and sends the socket what was
   * published to it after `since`, as ordinary events, in order. The replay is written in the same
   * synchronous block as the join: the live messages that follow are then written after it on the
   * connection, and none is missed or doubled. A socket that was in the room already (restored by
   * connection-state recovery, or joined before) has had everything since it joined: nothing is
   * replayed.
   *
   * A cluster history reads Redis first; its reader then completes in the join's synchronous block,
   * or asks for another read when this node delivered a message of the room in between.
   */
  private async joinSince(socket: AppSocket, room: string, since: Position): Promise<Recovery> {
    const ns = socket.nsp.name;
    const history = this.deps.history;
    let found = history.since(ns, room, since);
    for (let read = 1; ; read++) {
      let recovery: Recovery | undefined;
      if (found instanceof Promise) {
        const finish = await found;
        recovery = finish(read >= MAX_RESUME_READS);
        if (!recovery) {
          found = history.since(ns, room, since);
          continue;
        }
      } else {
        recovery = found;
      }
      // Synchronous from here to the replay.
      if (socket.data.names.has(room) || socket.disconnected) return recovery.recovered ? { ...recovery, entries: [] } : recovery;
      if (found instanceof Promise) this.checkRoomLimit(socket); // a concurrent JOIN may have filled it meanwhile
      const joined = socket.join(roomKey(room));
      if (recovery.recovered) {
        for (const entry of recovery.entries) emitHere(socket, entry.event, ...entry.args);
      }
      await joined;
      return recovery;
    }
  }

  /**
   * [history] Up to `limit` recent messages of `room` before `before`, oldest first: the recent
   * history merged with the stored messages. Reading a room needs subscribe rights.
   */
  async history(socket: AppSocket, room: string, limit: number, before?: Position): Promise<HistoryEntry[]> {
    await this.authorize(socket, 'subscribe', room);
    const ns = socket.nsp.name;
    const recent = await this.deps.history.page(ns, room, limit, before);
    const store = this.deps.store;
    if (!store) return recent;
    let rows;
    try {
      rows = await store.page(ns, room, limit, before);
    } catch (err) {
      this.logger.error('reading stored messages failed', { nsp: ns, store: store.description, err: (err as Error).message });
      throw new ServiceError('STORE_FAILED', 'stored messages cannot be read now');
    }
    const byPosition = new Map<string, HistoryEntry>();
    for (const row of rows) {
      const meta: MessageMeta = { offset: row.offset, epoch: row.epoch, ts: row.ts };
      byPosition.set(`${row.epoch}\u0000${row.offset}`, entryOf(row.event, JSON.parse(row.payload), meta));
    }
    for (const entry of recent) byPosition.set(`${entry.meta.epoch}\u0000${entry.meta.offset}`, entry);
    const merged = [...byPosition.values()].sort((a, b) => (isBefore(a.meta, b.meta) ? -1 : isBefore(b.meta, a.meta) ? 1 : 0));
    return merged.slice(Math.max(0, merged.length - limit));
  }

  /** Leaves `room`; false when the socket was not in it. */
  async leave(socket: AppSocket, room: string): Promise<boolean> {
    if (!socket.data.names.delete(room)) return false;
    await socket.leave(roomKey(room));
    await this.presence.remove(socket.nsp.name, room, socket.id);
    return true;
  }

  isJoined(socket: AppSocket, room: string): boolean {
    return socket.data.names.has(room);
  }

  /** Name shown as EVENT.sender: the name it joined `room` with, else its last JOIN name. */
  senderName(socket: AppSocket, room: string): string {
    return socket.data.auth?.name ?? socket.data.names.get(room) ?? socket.data.lastName ?? 'unknown';
  }

  /**
   * The one publish path: to every member of `room` in the namespace, except `from` when a client
   * publishes (publishers never receive their own notification). Goes through the adapter, so it
   * reaches members on every node in a cluster.
   *
   * A client's publication needs publish rights: when they must be asked for (--authorize-url),
   * the result is a promise that rejects with FORBIDDEN and nothing is sent; return it from the
   * verb (`whenDone`, or `receipt` for a message). Server notices about a member use `announce`.
   *
   * A message event (lib/history/types.ts META_STYLE) first gets the room's next offset and goes
   * out with its meta; the result is then what the publisher's ack needs (`receipt`).
   */
  publish<E extends keyof ServerEvents>(
    from: AppSocket | AppNamespace,
    room: string,
    event: E,
    ...args: Parameters<ServerEvents[E]>
  ): MaybePromise<Published | undefined> {
    // Shutting down: a message is refused before anything goes out (notices about members are not).
    if (META_STYLE[event] !== undefined) this.drain.admit();
    if (this.access && 'handshake' in from) {
      const pending = this.access.authorize(from, 'publish', room);
      if (pending) {
        const sent = pending.then(() => this.send(from, room, event, args));
        sent.catch(() => {}); // the verb reports it; never an unhandled rejection
        return sent;
      }
    }
    return this.send(from, room, event, args);
  }

  private send(from: AppSocket | AppNamespace, room: string, event: keyof ServerEvents, args: unknown[]): MaybePromise<Published | undefined> {
    // [history] offset, epoch and time, kept in the room's history
    if (META_STYLE[event] !== undefined) {
      const ns = 'nsp' in from ? from.nsp.name : from.name;
      // Cluster: offset, history and hand-over to every node in one step; delivered as it comes back.
      const history = this.deps.history;
      if (history.publish) {
        return history.publish(ns, room, event, args, 'nsp' in from ? from.id : undefined).then(
          (meta) => (meta ? this.published(from, ns, room, roomKey(room), event, args, meta) : this.fanOut(from, ns, room, event, args, history.append(ns, room, event, args))),
          (err: unknown) => {
            this.logger.error('publishing through redis failed', { nsp: ns, err: (err as Error).message });
            throw new ServiceError('NOT_READY', 'the message could not be published: the cluster store did not answer');
          },
        );
      }
      return this.fanOut(from, ns, room, event, args, history.append(ns, room, event, args));
    }
    (from.to(roomKey(room)).emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    return undefined;
  }

  /** Sends a message with its meta to the room's members through the adapter. */
  private fanOut(from: AppSocket | AppNamespace, ns: string, room: string, event: keyof ServerEvents, args: unknown[], meta: MessageMeta): Published {
    const key = roomKey(room);
    const published = this.published(from, ns, room, key, event, args, meta);
    (from.to(key).emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    return published;
  }

  /** A message with its meta, as the receipt and the store need it (a cluster history has sent it already). */
  private published(from: AppSocket | AppNamespace, ns: string, room: string, key: string, event: keyof ServerEvents, args: unknown[], meta: MessageMeta): Published {
    attachMeta(event, args, meta);
    return { ns, room, entry: { event, args, meta }, recipients: this.recipients(from, room, key) };
  }

  /** [history] How many connections a publication to `room` reached (the publisher excluded). */
  private recipients(from: AppSocket | AppNamespace, room: string, key: string): MaybePromise<number> {
    const socket = 'nsp' in from ? from : undefined;
    const nsp = socket ? socket.nsp : (from as AppNamespace);
    const self = socket?.data.names.has(room) ? 1 : 0;
    // A single node (presence in memory): the adapter's room is every member, and costs nothing to count.
    if (this.presence instanceof MemoryPresence) return Math.max(0, (nsp.adapter.rooms.get(key)?.size ?? 0) - self);
    return this.presence.count(nsp.name, room).then((n) => Math.max(0, n - self));
  }

  /**
   * [history] The publisher's ack fields for a message: `fields` (a fresh object, completed in
   * place: a copy per message showed in profiles) with `offset` and `recipients`, once it
   * is durably stored when `store` is asked. Synchronous in the common case (no store, no pending
   * authorization, presence in memory). A failed store is STORE_FAILED (logged); the message went
   * out live all the same.
   */
  receipt<F extends object>(published: MaybePromise<Published | undefined>, store: boolean, fields: F): MaybePromise<F & PublishReceipt> {
    if (!(published instanceof Promise)) {
      if (published === undefined) throw new Error('receipt() of an event that is not a message');
      if (!(published.recipients instanceof Promise) && !store) return complete(fields, published.entry.meta.offset, published.recipients);
    }
    // Counted until answered: a shutdown waits for it before closing the connections.
    return this.drain.track(
      (async () => {
        const p = await published;
        if (p === undefined) throw new Error('receipt() of an event that is not a message');
        const recipients = await p.recipients;
        if (store) await this.persist(p, recipients);
        return complete(fields, p.entry.meta.offset, recipients);
      })(),
    );
  }

  private async persist(p: Published, recipients: number): Promise<void> {
    const { meta, event } = p.entry;
    const details = { offset: meta.offset, recipients };
    const store = this.deps.store;
    if (!store) throw new ServiceError('STORE_FAILED', 'the message was delivered but this service stores no messages', details);
    try {
      const payload = stringifyWithRaw(payloadOf(p.entry)) ?? 'null';
      await store.save({ ns: p.ns, room: p.room, epoch: meta.epoch, offset: meta.offset, ts: meta.ts, event, payload });
    } catch (err) {
      this.logger.error('storing a message failed', { nsp: p.ns, room: p.room, offset: meta.offset, store: store.description, err: (err as Error).message });
      throw new ServiceError('STORE_FAILED', undefined, details);
    }
  }

  /** A server notice about `socket` (lobby JOINED / LEFT) to the other members: no publish right needed. */
  announce<E extends keyof ServerEvents>(socket: AppSocket, room: string, event: E, ...args: Parameters<ServerEvents[E]>): void {
    socket.to(roomKey(room)).emit(event, ...args);
  }

  /** Sends to one socket by id, on whichever node it is. */
  sendTo<E extends keyof ServerEvents>(nsp: AppNamespace, socketId: string, event: E, ...args: Parameters<ServerEvents[E]>): void {
    nsp.to(socketId).emit(event, ...args);
  }

  members(nsp: AppNamespace, room: string): Promise<Member[]> {
    return this.presence.list(nsp.name, room);
  }

  isMember(nsp: AppNamespace, room: string, socketId: string): Promise<boolean> {
    return this.presence.has(nsp.name, room, socketId);
  }

  /** Forgets a closed connection everywhere. socket.io has already removed it from its rooms. */
  async detach(socket: AppSocket): Promise<void> {
    const rooms = socket.data.names.keys();
    socket.data.names.clear();
    await Promise.all(rooms.map((room) => this.presence.remove(socket.nsp.name, room, socket.id)));
    if (rooms.length && this.logger.isDebugEnabled()) {
      this.logger.debug('connection left its rooms', { nsp: socket.nsp.name, socket: socket.id, rooms: rooms.length });
    }
  }

  async close(): Promise<void> {
    await this.presence.close();
    // [history]
    this.deps.history.close();
    await this.deps.store?.close();
  }
}
