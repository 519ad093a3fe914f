/**
 * The hub: the one place that owns rooms (per namespace), their members and fan-out, whatever
 * protocol the members speak. Protocols (namespaces/, the socket.io binding in socketio-members.ts)
 * call it; it calls the broker (offsets, history, other nodes), presence (names, cluster-wide
 * membership) and the store (durable messages). Everything that must apply to every message, from
 * any protocol or from HTTP, is on the one publish path:
 *
 *   validate (the protocol) → authorize → broker: offset, history, every node → deliver: local fan-out
 *
 * Members are subscribers (lib/core/types.ts). Those of a member group (socket.io's) are held and
 * written to by their group, so a broadcast is encoded once for all of them; the others are held
 * here and each gets `send(envelope)`.
 */
import { randomUUID } from 'node:crypto';
import type { Action } from '../auth/rights.js';
import type { Broker } from '../broker/types.js';
import { ServiceError } from './errors.js';
import type { PublishReceipt, ServerEvents } from './events.js';
import { entryOf, isBefore, MAX_RESUME_READS, META_STYLE, payloadOf, type HistoryEntry, type MessageMeta, type Recovery, type RecoveryReader } from '../history/types.js';
import type { Logger } from '../log/logger.js';
import { MemoryPresence } from '../presence/memory.js';
import type { Member, PresenceStore, RoomCount, RoomQuery } from '../presence/types.js';
import { PublicationDrain } from './drain.js';
import { andThen } from './maybe-promise.js';
import { stringifyWithRaw } from '../json/raw-json.js';
import type { MessageStore } from '../storage/types.js';
import { OwnCopies, type OwnCopy } from './own-copies.js';
import { PresenceNotices } from './presence-notices.js';
import type { ClientCounts, Envelope, MaybePromise, MemberGroup, Position, Publisher, PublishSource, Subscriber } from './types.js';
import type { NamespaceRecorder } from '../metrics/recorder.js';
import { positionKey, StreamedPublications } from '../metrics/streamed-publications.js';
import { noteDeliveries } from '../runtime/young-generation-growth.js';
import type { Limits } from './validate.js';

/**
 * What the hub asks before a JOIN (subscribe) and a publication (publish); lib/auth implements it.
 * Synchronous when the answer is known; throws (or rejects with) FORBIDDEN.
 */
export interface AccessControl {
  authorize(who: Publisher, action: Action, room: string): void | Promise<void>;
}

export interface HubLimits extends Limits {
  maxRoomsPerSocket: number;
}

/** The server side as a publisher in namespace `ns`: an HTTP publisher whose API key was checked, a node's notice. */
export function serverPublisher(ns: string): Publisher {
  return { ns, id: undefined, auth: undefined, trusted: true };
}

/** A connection's presence entry: its name, user (token sub) and protocol (GET /rooms/:namespace/:room/presence). */
export function memberEntry(member: Subscriber, name: string): Member {
  return { id: member.id, name, user: member.auth?.user ?? null, protocol: member.protocol };
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

/** The members the hub holds itself (no group): namespace → room → id → member. */
type HeldMembers = Map<string, Map<string, Map<string, Subscriber>>>;

/** What the hub records into (lib/metrics/metrics.ts); absent when metrics are off. */
export interface HubMetrics extends ClientCounts {
  namespace(ns: string): NamespaceRecorder;
}

const NO_COUNTS: ClientCounts = { error: () => undefined, limited: () => undefined, slowConsumer: () => undefined };

/** What a JOIN resolves with: the name used and, with `since`, how the member was brought up to date. */
export interface Joined {
  name: string;
  recovery: Recovery | undefined;
}

const noop = (): void => {};

export class Hub {
  /** Set when authentication is on (lib/auth/authorization.ts); absent, everything is allowed. */
  access?: AccessControl;
  /** Graceful shutdown: refuses new publications, answers those in flight (lib/core/drain.ts). */
  readonly drain = new PublicationDrain();
  private readonly groups = new Map<string, MemberGroup[]>();
  private readonly held: HeldMembers = new Map();
  /** Members with a JOIN or LEAVE waiting (`ns\0id` -> its settling): the next ones wait behind it (inOrder). */
  private readonly membershipOps = new Map<string, Promise<void>>();
  private readonly ownCopies = new OwnCopies();
  /** Each namespace's metrics recorder, bound once (none when metrics are off). */
  private readonly recorders = new Map<string, NamespaceRecorder>();
  /** The source of a connection's publications in each namespace, when not `socket` (/chat's). */
  private readonly sources = new Map<string, PublishSource>();
  /** Cluster mode, metrics on: publications timed until this node writes them, read back from the stream. */
  private readonly streamed: StreamedPublications | undefined;
  /** Errors, refusals and slow consumers, counted for the metrics (nothing when they are off). */
  readonly counts: ClientCounts;
  /** JOINED / LEFT to the members that asked for them (/layout, /bus: lib/core/presence-notices.ts). */
  readonly notices: PresenceNotices;

  constructor(
    readonly limits: HubLimits,
    private readonly presence: PresenceStore,
    private readonly logger: Logger,
    private readonly broker: Broker,
    private readonly store?: MessageStore,
    private readonly metrics?: HubMetrics,
  ) {
    this.counts = metrics ?? NO_COUNTS;
    this.streamed = metrics ? new StreamedPublications() : undefined;
    broker.onDeliver((envelope, except, streamOffset) => this.deliver(envelope, except, streamOffset));
    this.notices = new PresenceNotices(presence, presence instanceof MemoryPresence, broker, logger);
  }

  /** A protocol's member group in namespace `ns` (socket.io's, once per namespace). */
  addGroup(ns: string, group: MemberGroup): void {
    const list = this.groups.get(ns);
    if (list) list.push(group);
    else this.groups.set(ns, [group]);
  }

  /** The connections of namespace `ns` publish as `source` (metrics: `chat`); the default is `socket`. */
  publishSource(ns: string, source: PublishSource): void {
    this.sources.set(ns, source);
  }

  private recorder(ns: string): NamespaceRecorder | undefined {
    const metrics = this.metrics;
    if (!metrics) return undefined;
    let recorder = this.recorders.get(ns);
    if (!recorder) this.recorders.set(ns, (recorder = metrics.namespace(ns)));
    return recorder;
  }

  private sourceOf(from: Publisher): PublishSource {
    return from.source ?? (from.trusted && from.id === undefined ? 'http' : (this.sources.get(from.ns) ?? 'socket'));
  }

  /** Throws FORBIDDEN unless `who` may `action` the room (always allowed with auth off or when trusted). */
  authorize(who: Publisher, action: Action, room: string): void | Promise<void> {
    if (who.trusted) return;
    return this.access?.authorize(who, action, room);
  }

  /**
   * Joins `room` under `name` (needs subscribe rights); joining again only updates the name. With
   * auth on the name is the member's identity, whatever was asked. Resolves with the name used
   * and, with `since`, how the member was brought up to date: what it missed after that position
   * is sent to it first (see joinSince).
   *
   * In a namespace with presence notices the room's watchers are told JOINED when the member is
   * new to the room, and `watch` (when given) says whether this membership watches the room from
   * now on (lib/core/presence-notices.ts).
   */
  join(member: Subscriber, room: string, name: string, since?: Position, watch?: boolean): MaybePromise<Joined> {
    return this.inOrder(member, () => this.joinNow(member, room, name, since, watch));
  }

  private joinNow(member: Subscriber, room: string, name: string, since: Position | undefined, watch: boolean | undefined): MaybePromise<Joined> {
    return andThen(this.authorize(member, 'subscribe', room), () => this.joinAuthorized(member, room, name, since, watch));
  }

  /**
   * The rest of a JOIN, step by step. Each step that a store or a resume makes asynchronous is
   * waited for; with in-memory rooms and presence and no `since`, none is, and the JOIN is done
   * (and answered) without a promise round: about a dozen promises less per connect.
   */
  private joinAuthorized(member: Subscriber, room: string, name: string, since: Position | undefined, watch: boolean | undefined): MaybePromise<Joined> {
    if (member.auth) name = member.auth.name;
    const isNew = !member.rooms.has(room);
    if (isNew) this.checkRoomLimit(member);
    if (since) return andThen(this.joinSince(member, room, since), (recovery) => this.joined(member, room, name, isNew, watch, recovery));
    return andThen(isNew ? this.add(member, room) : undefined, () => this.joined(member, room, name, isNew, watch, undefined));
  }

  /** In the room: its name, its presence entry, then the room's watchers are told. */
  private joined(member: Subscriber, room: string, name: string, isNew: boolean, watch: boolean | undefined, recovery: Recovery | undefined): MaybePromise<Joined> {
    member.rooms.set(room, name);
    const result: Joined = { name, recovery };
    return andThen(this.presence.add(member.ns, room, memberEntry(member, member.presenceName ?? name)), () => this.noticed(member, room, name, isNew, watch, result));
  }

  private noticed(member: Subscriber, room: string, name: string, isNew: boolean, watch: boolean | undefined, result: Joined): MaybePromise<Joined> {
    // The connection may have closed while the store was busy: do not leave a ghost behind.
    if (!member.connected) return andThen(this.presence.remove(member.ns, room, member.id), () => result);
    if (!this.notices.enabled(member.ns)) return result;
    const watching = watch === true ? this.notices.watch(member, room, name) : watch === false ? this.notices.unwatch(member, room) : undefined;
    return andThen(watching, () => {
      if (isNew && member.connected) this.notices.notify(member.ns, room, 'JOINED', member.id, member.presenceName ?? name);
      return result;
    });
  }

  /**
   * Runs a member's JOIN or LEAVE after the ones it sent before have taken effect: at once when
   * none is waiting (for authorization, a resume read, a store), else chained behind the last.
   * Holds an entry per member only while one of its operations is waiting.
   */
  private inOrder<T>(member: Subscriber, op: () => MaybePromise<T>): MaybePromise<T> {
    const key = `${member.ns}\u0000${member.id}`;
    const before = this.membershipOps.get(key);
    const result = before ? before.then(op) : op();
    if (result instanceof Promise) {
      const settled = result.then(noop, noop);
      this.membershipOps.set(key, settled);
      void settled.then(() => {
        if (this.membershipOps.get(key) === settled) this.membershipOps.delete(key);
      });
    }
    return result;
  }

  private checkRoomLimit(member: Subscriber): void {
    if (member.rooms.size >= this.limits.maxRoomsPerSocket) {
      throw new ServiceError('TOO_MANY_ROOMS', `a connection may be in at most ${this.limits.maxRoomsPerSocket} rooms`);
    }
  }

  /** Into the room's membership: its group's, else the hub's. Synchronous for in-memory rooms. */
  private add(member: Subscriber, room: string): MaybePromise<void> {
    if (member.group) return member.group.add(member, room);
    // Closed while its join waited (authorization, a resume read): held now, it would stay a ghost
    // member (socket.io ignores a closed socket's join the same way).
    if (!member.connected) return;
    let rooms = this.held.get(member.ns);
    if (!rooms) this.held.set(member.ns, (rooms = new Map()));
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Map()));
    members.set(member.id, member);
  }

  private remove(member: Subscriber, room: string): MaybePromise<void> {
    if (member.group) return member.group.remove(member, room);
    const rooms = this.held.get(member.ns);
    const members = rooms?.get(room);
    if (!members?.delete(member.id)) return;
    if (members.size === 0) rooms!.delete(room);
  }

  /**
   * [history] Joins `room` (unless the member is in it already) and sends it what was published to
   * the room after `since`, in order. The replay is written in the same synchronous block as the
   * join: the live messages that follow are then written after it, and none is missed or doubled.
   * A member that was in the room already (restored by connection-state recovery, or joined before)
   * has had everything since it joined: nothing is replayed.
   *
   * A cluster broker reads Redis first; its reader then completes in the join's synchronous block,
   * or asks for another read when this node delivered a message of the room in between.
   */
  private joinSince(member: Subscriber, room: string, since: Position): MaybePromise<Recovery> {
    const found = this.broker.since(member.ns, room, since);
    return found instanceof Promise ? this.joinAfterReads(member, room, since, found) : this.joinReplaying(member, room, found, false);
  }

  /** A cluster broker's resume: read (again, while this node delivered to the room meanwhile), then join. */
  private async joinAfterReads(member: Subscriber, room: string, since: Position, found: Promise<RecoveryReader>): Promise<Recovery> {
    for (let read = 1; ; read++) {
      const recovery = (await found)(read >= MAX_RESUME_READS);
      if (recovery) return this.joinReplaying(member, room, recovery, true);
      const again = this.broker.since(member.ns, room, since);
      if (!(again instanceof Promise)) return this.joinReplaying(member, room, again, true);
      found = again;
    }
  }

  /** Synchronous from here to the replay. `waited`: a concurrent JOIN may have filled the room limit meanwhile. */
  private joinReplaying(member: Subscriber, room: string, recovery: Recovery, waited: boolean): MaybePromise<Recovery> {
    if (member.rooms.has(room) || !member.connected) return recovery.recovered ? { ...recovery, entries: [] } : recovery;
    if (waited) this.checkRoomLimit(member);
    const joined = this.add(member, room);
    const ns = member.ns;
    if (recovery.recovered) {
      for (const entry of recovery.entries) member.send({ ns, room, event: entry.event, args: entry.args, meta: entry.meta });
    }
    member.onRecovery?.(room, recovery.recovered, recovery.recovered ? undefined : recovery.reason);
    return andThen(joined, () => recovery);
  }

  /**
   * [history] Up to `limit` recent messages of `room` before `before`, oldest first: the recent
   * history merged with the stored messages. Reading a room needs subscribe rights.
   */
  async history(who: Publisher, room: string, limit: number, before?: Position): Promise<HistoryEntry[]> {
    await this.authorize(who, 'subscribe', room);
    const ns = who.ns;
    const recent = await this.broker.page(ns, room, limit, before);
    if (!this.store) return recent;
    const byPosition = new Map<string, HistoryEntry>();
    for (const entry of await this.storedPage(ns, room, limit, before)) byPosition.set(`${entry.meta.epoch}\u0000${entry.meta.offset}`, entry);
    for (const entry of recent) byPosition.set(`${entry.meta.epoch}\u0000${entry.meta.offset}`, entry);
    const merged = [...byPosition.values()].sort((a, b) => (isBefore(a.meta, b.meta) ? -1 : isBefore(b.meta, a.meta) ? 1 : 0));
    return merged.slice(Math.max(0, merged.length - limit));
  }

  /**
   * [history] Up to `limit` stored messages of `room` before `before`, oldest first: the message
   * store only (none without a store). Reading a room needs subscribe rights.
   */
  async stored(who: Publisher, room: string, limit: number, before?: Position): Promise<HistoryEntry[]> {
    await this.authorize(who, 'subscribe', room);
    return this.store ? this.storedPage(who.ns, room, limit, before) : [];
  }

  private async storedPage(ns: string, room: string, limit: number, before?: Position): Promise<HistoryEntry[]> {
    const store = this.store!;
    let rows;
    try {
      rows = await store.page(ns, room, limit, before);
    } catch (err) {
      this.logger.error('reading stored messages failed', { nsp: ns, store: store.description, err: (err as Error).message });
      throw new ServiceError('STORE_FAILED', 'stored messages cannot be read now');
    }
    return rows.map((row) => entryOf(row.event, JSON.parse(row.payload), { offset: row.offset, epoch: row.epoch, ts: row.ts }));
  }

  /**
   * Leaves `room`; false when the member was not in it. Like join: after the member's earlier JOINs
   * and LEAVEs (inOrder), and without a promise round when no step waits for a store.
   */
  leave(member: Subscriber, room: string): MaybePromise<boolean> {
    return this.inOrder(member, () => this.leaveNow(member, room));
  }

  private leaveNow(member: Subscriber, room: string): MaybePromise<boolean> {
    const name = member.rooms.get(room);
    if (!member.rooms.delete(room)) return false;
    // Out of the room, out of presence, then the room's watchers are told.
    return andThen(this.remove(member, room), () => andThen(this.presence.remove(member.ns, room, member.id), () => this.leftNotices(member, room, name)));
  }

  private leftNotices(member: Subscriber, room: string, name: string | undefined): MaybePromise<boolean> {
    if (!this.notices.enabled(member.ns)) return true;
    return andThen(this.notices.unwatch(member, room), () => {
      this.notices.notify(member.ns, room, 'LEFT', member.id, member.presenceName ?? name ?? member.id);
      return true;
    });
  }

  /**
   * The one publish path for messages: to every member of `room` in the publisher's namespace, on
   * every node, except the publisher itself (publishers never receive their own notification).
   *
   * A member's publication needs publish rights: when they must be asked for (--authorize-url),
   * the result is a promise that rejects with FORBIDDEN and nothing is sent; return it from the
   * verb (`receipt` gives the ack). The message first gets the room's next offset and
   * goes out with its meta (lib/history/types.ts META_STYLE); notices about members use `announce`.
   */
  publish<E extends keyof ServerEvents>(from: Publisher, room: string, event: E, ...args: Parameters<ServerEvents[E]>): MaybePromise<Published> {
    return this.publishArgs(from, room, event, args, undefined);
  }

  /**
   * publish, and the publisher's own copy written by `own` as this node delivers the message to the
   * others: in its place in the room's order (lib/core/own-copies.ts). For a publisher whose copy
   * differs from the others' (a /chat sender's, with its loopbackMetadata); its publications to
   * the room should all go this way.
   */
  publishWithOwnCopy<E extends keyof ServerEvents>(from: Subscriber, room: string, own: OwnCopy, event: E, ...args: Parameters<ServerEvents[E]>): MaybePromise<Published> {
    return this.publishArgs(from, room, event, args, own);
  }

  private publishArgs(from: Publisher, room: string, event: string, args: unknown[], own: OwnCopy | undefined): MaybePromise<Published> {
    if (META_STYLE[event] === undefined) throw new Error(`${event} is not a message event: announce() it`);
    // Shutting down: a message is refused before anything goes out.
    this.drain.admit();
    if (this.access && !from.trusted) {
      const pending = this.access.authorize(from, 'publish', room);
      if (pending) {
        const sent = pending.then(() => this.send(from, room, event, args, own));
        sent.catch(() => {}); // the verb reports it; never an unhandled rejection
        return sent;
      }
    }
    return this.send(from, room, event, args, own);
  }

  private send(from: Publisher, room: string, event: string, args: unknown[], own: OwnCopy | undefined): MaybePromise<Published> {
    const ns = from.ns;
    // Accepted: from here to its last local member written (docs/METRICS.md).
    const started = this.metrics ? performance.now() : 0;
    // A publisher closed meanwhile (its join or rights were awaited) gets no copy: none is kept for it.
    if (own === undefined || from.id === undefined || !(from as Subscriber).connected) {
      const meta = this.broker.publish(ns, room, event, args, from.id);
      if (meta instanceof Promise) return this.awaitingStream(meta, ns, room, started).then((m) => this.published(from, ns, room, event, args, m, undefined));
      return this.published(from, ns, room, event, args, meta, started);
    }
    // Expected before the broker has it: this node may deliver it before the broker answers.
    const id = from.id;
    const copy = this.ownCopies.expect(ns, id, room, own);
    const done = (meta: MessageMeta, timedAt: number | undefined): Published => {
      this.ownCopies.published(copy, { ns, room, event, args, meta });
      return this.published(from, ns, room, event, args, meta, timedAt);
    };
    let meta: MaybePromise<MessageMeta>;
    try {
      meta = this.broker.publish(ns, room, event, args, id);
    } catch (err) {
      this.ownCopies.cancel(ns, id, copy);
      throw err;
    }
    if (!(meta instanceof Promise)) return done(meta, started);
    return this.awaitingStream(meta, ns, room, started).then((m) => done(m, undefined), (err: unknown) => {
      this.ownCopies.cancel(ns, id, copy);
      throw err;
    });
  }

  /**
   * `started`: when it was accepted, for a publication this node delivered in broker.publish (a
   * single node); undefined when it is timed until it is read back from the cluster stream.
   */
  private published(from: Publisher, ns: string, room: string, event: string, args: unknown[], meta: MessageMeta, started: number | undefined): Published {
    this.recorder(ns)?.publication(this.sourceOf(from), started === undefined ? undefined : performance.now() - started);
    return { ns, room, entry: { event, args, meta }, recipients: this.recipients(from, ns, room) };
  }

  /** Cluster mode: the broker answers once Redis has the message; this node's write of it ends its duration. */
  private awaitingStream(meta: Promise<MessageMeta>, ns: string, room: string, started: number): Promise<MessageMeta> {
    const streamed = this.streamed;
    const recorder = this.recorder(ns);
    if (!streamed || !recorder) return meta;
    streamed.sent();
    return meta.then(
      (m) => {
        streamed.answered(positionKey(ns, room, m), started, recorder);
        return m;
      },
      (err: unknown) => {
        streamed.answered(undefined, started, recorder);
        throw err;
      },
    );
  }

  /**
   * Writes a delivery to this node's members of its room, except `except`: what the broker hands
   * this node (its own publications included).
   */
  private deliver(envelope: Envelope, except: string | undefined, streamOffset: string | undefined): void {
    if (this.notices.deliver(envelope, except, (e, err) => this.failedDelivery(e, err))) return;
    const groups = this.groups.get(envelope.ns);
    // Messages only (notices about members are not counted): one addition per group and protocol.
    const recorder = envelope.meta === undefined ? undefined : this.recorder(envelope.ns);
    let delivered = 0;
    if (groups) {
      for (const group of groups) {
        try {
          const written = group.deliver(envelope, except, streamOffset);
          delivered += written;
          if (recorder) recorder.delivered.socketio += written;
        } catch (err) {
          this.failedDelivery(envelope, err);
        }
      }
    }
    delivered += this.sendToHeld(envelope, except, recorder);
    // Message load lets V8's young generation grow (lib/runtime/young-generation-growth.ts).
    noteDeliveries(delivered);
    if (recorder && this.streamed!.busy) this.streamed!.delivered(positionKey(envelope.ns, envelope.room, envelope.meta!));
    try {
      this.ownCopies.delivered(envelope, except);
    } catch (err) {
      this.failedDelivery(envelope, err);
    }
  }

  /** To the members held here (not in a group); one member's failure is not the others'. How many it was sent to. */
  private sendToHeld(envelope: Envelope, except: string | undefined, recorder: NamespaceRecorder | undefined): number {
    const members = this.held.get(envelope.ns)?.get(envelope.room);
    if (!members) return 0;
    let sse = 0;
    let sock = 0;
    for (const member of members.values()) {
      if (member.id === except) continue;
      try {
        member.send(envelope);
        if (member.protocol === 'sse') sse++;
        else sock++;
      } catch (err) {
        this.failedDelivery(envelope, err);
      }
    }
    if (recorder) {
      recorder.delivered.sse += sse;
      recorder.delivered.sock += sock;
    }
    return sse + sock;
  }

  /** Rooms with members on this node in namespace `ns`, and the sum of their memberships (read when metrics are scraped). */
  roomCounts(ns: string): { rooms: number; members: number } {
    const rooms = new Set<string>();
    let members = 0;
    for (const group of this.groups.get(ns) ?? []) {
      for (const [room, size] of group.roomSizes()) {
        rooms.add(room);
        members += size;
      }
    }
    for (const [room, held] of this.held.get(ns) ?? []) {
      rooms.add(room);
      members += held.size;
    }
    return { rooms: rooms.size, members };
  }

  private failedDelivery(envelope: Envelope, err: unknown): void {
    this.logger.error('delivery failed', { nsp: envelope.ns, event: envelope.event, err });
  }

  /** [history] How many members a publication to `room` reached (the publisher excluded). */
  private recipients(from: Publisher, ns: string, room: string): MaybePromise<number> {
    const self = from.id !== undefined && (from as Partial<Subscriber>).rooms?.has(room) ? 1 : 0;
    // A single node (presence in memory): the members here are all of them, and cost nothing to count.
    if (this.presence instanceof MemoryPresence) return Math.max(0, this.localCount(ns, room) - self);
    return this.presence.count(ns, room).then((n) => Math.max(0, n - self));
  }

  /** Members of the room on this node, every protocol together. */
  localCount(ns: string, room: string): number {
    let count = this.held.get(ns)?.get(room)?.size ?? 0;
    const groups = this.groups.get(ns);
    if (groups) for (const group of groups) count += group.count(room);
    return count;
  }

  /**
   * [history] The publisher's ack fields for a message: `fields` (a fresh object, completed in
   * place: a copy per message showed in profiles) with `offset` and `recipients`, once it
   * is durably stored when `store` is asked. Synchronous in the common case (no store, no pending
   * authorization, presence in memory). A failed store is STORE_FAILED (logged); the message went
   * out live all the same.
   */
  receipt<F extends object>(published: MaybePromise<Published>, store: boolean, fields: F): MaybePromise<F & PublishReceipt> {
    if (!(published instanceof Promise) && !(published.recipients instanceof Promise) && !store) {
      return complete(fields, published.entry.meta.offset, published.recipients);
    }
    // Counted until answered: a shutdown waits for it before closing the connections.
    return this.drain.track(
      (async () => {
        const p = await published;
        const recipients = await p.recipients;
        if (store) await this.persist(p, recipients);
        return complete(fields, p.entry.meta.offset, recipients);
      })(),
    );
  }

  /**
   * [history] Store-first publication: the message is durably written before anything goes out, so
   * a message that cannot be stored is not delivered. Three steps:
   *
   *   1. authorize, then write the message as pending (MessageStore.savePending: no position yet,
   *      invisible to readers); fails → STORE_FAILED, nothing delivered, no offset taken;
   *   2. publish it as `publish` does (offset, history, every node: the wire order is the broker's);
   *   3. place the row at the position it was given (MessageStore.place); fails → STORE_FAILED with
   *      {offset, recipients} as `receipt` answers (the message went out), logged, the row left
   *      pending (never read; retention deletes it).
   *
   * Resolves with `fields` completed as `receipt` completes them.
   */
  publishStored<E extends keyof ServerEvents, F extends object>(
    from: Publisher,
    room: string,
    fields: F,
    event: E,
    ...args: Parameters<ServerEvents[E]>
  ): Promise<F & PublishReceipt> {
    return this.publishStoredArgs(from, room, fields, event, args, undefined);
  }

  /** publishStored, and the publisher gets its own copy in the room's order (see publishWithOwnCopy). */
  publishStoredWithOwnCopy<E extends keyof ServerEvents, F extends object>(
    from: Subscriber,
    room: string,
    fields: F,
    own: OwnCopy,
    event: E,
    ...args: Parameters<ServerEvents[E]>
  ): Promise<F & PublishReceipt> {
    return this.publishStoredArgs(from, room, fields, event, args, own);
  }

  private publishStoredArgs<F extends object>(from: Publisher, room: string, fields: F, event: string, args: unknown[], own: OwnCopy | undefined): Promise<F & PublishReceipt> {
    if (META_STYLE[event] === undefined) throw new Error(`${event} is not a message event: announce() it`);
    this.drain.admit();
    return this.drain.track(
      (async () => {
        await this.authorize(from, 'publish', room);
        const ns = from.ns;
        const store = this.store;
        if (!store) throw new ServiceError('STORE_FAILED', 'the message was not sent: this service stores no messages');
        const id = randomUUID();
        // The payload as `persist` would store it: the meta is not in the arguments yet.
        const payload = stringifyWithRaw(payloadOf({ event, args } as unknown as HistoryEntry)) ?? 'null';
        try {
          await store.savePending({ id, ns, room, ts: Date.now(), event, payload });
        } catch (err) {
          this.logger.error('storing a message failed: not sent', { nsp: ns, room, store: store.description, err: (err as Error).message });
          throw new ServiceError('STORE_FAILED', 'the message was not sent: it could not be stored');
        }
        const p = await this.send(from, room, event, args, own);
        const recipients = await p.recipients;
        const { epoch, offset, ts } = p.entry.meta;
        try {
          await store.place(id, { epoch, offset, ts });
        } catch (err) {
          this.logger.error('placing a stored message failed: it was delivered but is not readable', {
            nsp: ns,
            room,
            offset,
            pending: id,
            store: store.description,
            err: (err as Error).message,
          });
          throw new ServiceError('STORE_FAILED', undefined, { offset, recipients });
        }
        return complete(fields, offset, recipients);
      })(),
    );
  }

  private async persist(p: Published, recipients: number): Promise<void> {
    const { meta, event } = p.entry;
    const details = { offset: meta.offset, recipients };
    const store = this.store;
    if (!store) throw new ServiceError('STORE_FAILED', 'the message was delivered but this service stores no messages', details);
    try {
      const payload = stringifyWithRaw(payloadOf(p.entry)) ?? 'null';
      await store.save({ ns: p.ns, room: p.room, epoch: meta.epoch, offset: meta.offset, ts: meta.ts, event, payload });
    } catch (err) {
      this.logger.error('storing a message failed', { nsp: p.ns, room: p.room, offset: meta.offset, store: store.description, err: (err as Error).message });
      throw new ServiceError('STORE_FAILED', undefined, details);
    }
  }

  /**
   * A notice about a member (lobby JOINED / LEFT) to the room's other members on every node: no
   * offset, no history, no publish right needed.
   */
  announce<E extends keyof ServerEvents>(from: Publisher, room: string, event: E, ...args: Parameters<ServerEvents[E]>): void {
    // Through the broker, as messages are: every node's hub delivers it once, to every kind of member.
    const sent = this.broker.announce({ ns: from.ns, room, event, args, meta: undefined }, from.id);
    if (sent instanceof Promise) sent.catch((err: unknown) => this.logger.error('a notice was not delivered', { nsp: from.ns, event, err }));
  }

  /** Sends to one member of a group by id, on whichever node it is (lobby RTCSIGNAL). */
  sendTo<E extends keyof ServerEvents>(ns: string, id: string, event: E, ...args: Parameters<ServerEvents[E]>): void {
    for (const group of this.groups.get(ns) ?? []) group.sendTo(id, event, args);
  }

  /**
   * Members of `room` that vanished with their node (reported by the one node that swept it), or
   * are back after being taken for dead: their room's presence watchers are told LEFT or JOINED.
   */
  membersChanged(ns: string, room: string, event: 'JOINED' | 'LEFT', ids: readonly string[], names: readonly string[]): void {
    ids.forEach((id, i) => this.notices.notify(ns, room, event, id, names[i] ?? id));
  }

  /** Names a member was added to presence with (connection-state recovery restores them). */
  async trackPresence(ns: string, room: string, member: Member): Promise<void> {
    await this.presence.add(ns, room, member);
  }

  /** Takes out what trackPresence added (a protocol's own presence entries, e.g. /chat's users). */
  async untrackPresence(ns: string, room: string, id: string): Promise<void> {
    await this.presence.remove(ns, room, id);
  }

  /** A message store is configured: protocols whose messages are always kept (/chat) ask `receipt` to store. */
  get storing(): boolean {
    return this.store !== undefined;
  }

  members(ns: string, room: string): Promise<Member[]> {
    return this.presence.list(ns, room);
  }

  /** Rooms with members on any node, a page at a time (GET /rooms). */
  rooms(query: RoomQuery): Promise<{ rooms: RoomCount[]; more: boolean }> {
    return this.presence.rooms(query);
  }

  isMember(ns: string, room: string, id: string): Promise<boolean> {
    return this.presence.has(ns, room, id);
  }

  /** Forgets a closed member everywhere. A group has already removed it from its rooms. */
  async detach(member: Subscriber): Promise<void> {
    const rooms = member.rooms.keys();
    const notices = this.notices.enabled(member.ns);
    const names = notices ? rooms.map((room) => member.presenceName ?? member.rooms.get(room) ?? member.id) : [];
    member.rooms.clear();
    this.ownCopies.forget(member.ns, member.id);
    if (!member.group) for (const room of rooms) void this.remove(member, room);
    if (notices && rooms.length) {
      // No longer watching from here on (unwatch forgets it at once), whatever the stores answer.
      const unwatched = rooms.map((room) => this.notices.unwatch(member, room));
      const removed = Promise.all([...rooms.map((room) => this.presence.remove(member.ns, room, member.id)), ...unwatched]);
      // Out of presence first: a watcher that does not get the notice no longer sees it in CLIENTS.
      // Tracked: a node that closes sends its last members' LEFT before it lets go of the broker.
      await this.notices.track(removed.then(() => rooms.forEach((room, i) => this.notices.notify(member.ns, room, 'LEFT', member.id, names[i]!))));
    } else {
      await Promise.all(rooms.map((room) => this.presence.remove(member.ns, room, member.id)));
    }
    if (rooms.length && this.logger.isDebugEnabled()) {
      this.logger.debug('connection left its rooms', { nsp: member.ns, member: member.id, rooms: rooms.length });
    }
  }

  async close(): Promise<void> {
    await this.notices.settled();
    await this.presence.close();
    // [history]
    this.broker.close();
    await this.store?.close();
  }
}
