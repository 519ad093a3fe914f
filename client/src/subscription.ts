/**
 * One room subscribed on one namespace: JOINs it (again after every reconnect, with the position
 * of the last message handed over), hands each message to the application once and in order
 * (cursor.ts), and forwards presence notices.
 */
import { Backoff } from './backoff.js';
import { Cursor, type Position, type ResetEvent } from './cursor.js';
import { Emitter } from './emitter.js';
import { NotifyError } from './errors.js';
import type { MessageMeta, NotifyMessage, PresenceNotice, RoomNamespace } from './types.js';

export interface SubscribeOptions {
  /** default 'layout' */
  namespace?: RoomNamespace;
  /** resume after this message (its meta): the missed ones come first, or a `reset` */
  since?: Position;
  /** get `joined` / `left` about the room's other members */
  presence?: boolean;
  /** display name in this room (ignored by the service with auth on: the token's name is used) */
  name?: string;
}

export interface SubscribedEvent {
  room: string;
  /** false when this JOIN could not fill the gap (a `reset` was emitted just before) */
  recovered: boolean;
  /** messages replayed by this JOIN */
  replayed: number;
}

export interface SubscriptionEvents extends Record<string, unknown> {
  subscribed: SubscribedEvent;
  reset: ResetEvent;
  joined: PresenceNotice;
  left: PresenceNotice;
  error: NotifyError;
}

/** What a subscription needs from its namespace's connection. */
export interface Channel {
  readonly connected: boolean;
  request(event: string, payload: unknown): Promise<Record<string, unknown>>;
  forget(sub: Subscription<unknown>): void;
}

/** Asks the service for the room's position without resuming anything: no epoch is '-'. */
const POSITION_PROBE: Position = { epoch: '-', offset: 0 };

export class Subscription<M = unknown> extends Emitter<SubscriptionEvents> {
  /** Resolves once the first JOIN is acknowledged; rejects with its NotifyError. */
  readonly ready: Promise<void>;
  private readonly cursor: Cursor<NotifyMessage<M>>;
  private generation = 0;
  private closed = false;
  private first = true;
  private settle!: { resolve: () => void; reject: (err: NotifyError) => void };
  private readonly retry = new Backoff({ min: 200, max: 5000 });
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly room: string,
    readonly namespace: RoomNamespace,
    private readonly channel: Channel,
    onMessage: (message: NotifyMessage<M>) => void,
    private readonly options: SubscribeOptions,
  ) {
    super();
    this.cursor = new Cursor<NotifyMessage<M>>(room, onMessage, (event) => this.emit('reset', event));
    this.cursor.position = options.since ? { epoch: options.since.epoch, offset: options.since.offset } : undefined;
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => undefined); // rejections also reach `error` listeners
  }

  /** The position of the last message handed over (save it to resume in a later session). */
  get position(): Position | undefined {
    return this.cursor.position;
  }

  /** Recent and stored messages of the room, oldest first. */
  async history(options: { limit?: number; before?: Position } = {}): Promise<NotifyMessage<M>[]> {
    const reply = await this.channel.request('HISTORY', { room: this.room, ...options });
    return reply.messages as NotifyMessage<M>[];
  }

  /** The display names of the room's members, on every node. */
  async presence(): Promise<string[]> {
    const reply = await this.channel.request('CLIENTS', { room: this.room });
    return reply.clients as string[];
  }

  /** LEAVEs the room; no message is handed over after this. */
  async unsubscribe(): Promise<void> {
    if (this.closed) return;
    this.end();
    if (this.channel.connected) await this.channel.request('LEAVE', { room: this.room });
  }

  /** Sends JOIN, with `since` the last position: called on subscribe and after every (re)connect. */
  join(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const generation = ++this.generation;
    const probe = this.cursor.position === undefined;
    const payload: Record<string, unknown> = { room: this.room, since: this.cursor.position ?? POSITION_PROBE };
    if (this.options.name !== undefined) payload.name = this.options.name;
    if (this.options.presence) payload.presence = true;
    this.cursor.joining();
    this.channel.request('JOIN', payload).then(
      (ack) => {
        if (generation !== this.generation || this.closed) return;
        this.retry.reset();
        this.cursor.joined(ack, probe);
        const recovered = probe || ack.recovered !== false;
        this.emit('subscribed', { room: this.room, recovered, replayed: typeof ack.replayed === 'number' ? ack.replayed : 0 });
        if (this.first) {
          this.first = false;
          this.settle.resolve();
        }
      },
      (err: NotifyError) => {
        if (generation !== this.generation || this.closed) return;
        this.cursor.abandon();
        if (!this.channel.connected) return; // sent again on the next connect
        if (err.temporary && err.code !== 'TOKEN_EXPIRED') {
          this.retryTimer = setTimeout(() => this.join(), this.retry.next());
          return;
        }
        // Refused for good (FORBIDDEN, INVALID_ROOM, ...): the subscription ends.
        this.settle.reject(err);
        this.end();
        this.emit('error', err);
      },
    );
  }

  /** An EVENT of this room. */
  message(envelope: NotifyMessage<M>): void {
    if (this.closed) return;
    const meta = envelope.meta as MessageMeta | undefined;
    this.cursor.offer(meta, envelope);
  }

  notice(kind: 'joined' | 'left', notice: PresenceNotice): void {
    if (!this.closed) this.emit(kind, notice);
  }

  /** The client closed. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.channel.forget(this as Subscription<unknown>);
    if (this.first) this.settle.reject(new NotifyError('CLOSED', 'unsubscribed before the first JOIN was acknowledged'));
  }
}
