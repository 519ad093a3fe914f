/**
 * createSseClient: a room followed over Server-Sent Events (GET /events/:namespace/:room), no
 * dependency (the browser's EventSource, or one passed in). The SDK opens each stream itself so
 * it can bring a fresh one-time ticket and the last event id on every reconnect (an EventSource
 * reconnecting by itself would reuse a spent ticket); the service replays what was missed, or
 * starts with `event: reset`, which the stream passes on as `reset`.
 */
import { NotifyApi } from './api.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Cursor, type Position, type ResetEvent, type ResetReason } from './cursor.js';
import { Emitter } from './emitter.js';
import { NotifyError, errorFromBody } from './errors.js';
import { TokenSource, type TokenOptions } from './token.js';

/** What the SDK needs of an EventSource: the browser's has it. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (ev: { data?: unknown; lastEventId?: string }) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;

export interface SseClientOptions extends TokenOptions {
  /** display name in presence with `--auth none` */
  name?: string;
  /** default: globalThis.EventSource; where there is none (Node.js), FetchEventSource from this entry */
  EventSource?: EventSourceConstructor;
  fetch?: typeof fetch;
  reconnect?: BackoffOptions;
}

export interface FollowOptions {
  /** resume after this event id (`<epoch>:<offset>`) */
  lastEventId?: string;
  /** the event names to hand over (default: the namespace's messages: EVENT, MESSAGE, MESSAGE_SENT, ...) */
  events?: string[];
}

/** One event of the stream: its name, its data (parsed JSON) and position. */
export interface SseMessage<D = unknown> {
  event: string;
  data: D;
  /** `<epoch>:<offset>` */
  id: string | undefined;
}

export interface SseStreamEvents extends Record<string, unknown> {
  open: undefined;
  reset: ResetEvent;
  error: NotifyError;
}

const MESSAGES: Record<string, string[]> = {
  layout: ['EVENT'],
  bus: ['EVENT'],
  lobby: ['MESSAGE'],
  chat: ['MESSAGE_SENT'],
  trigger: ['EVENTS', 'UPDATES', 'STATUS'],
  sock: ['message'],
};

const RESET_REASONS: Record<string, ResetReason> = { epoch_changed: 'EPOCH_CHANGED', too_old: 'TOO_OLD', unknown_position: 'UNKNOWN_OFFSET' };

function position(id: string | undefined): Position | undefined {
  const at = id?.lastIndexOf(':') ?? -1;
  if (id === undefined || at <= 0) return undefined;
  const offset = Number(id.slice(at + 1));
  return Number.isSafeInteger(offset) ? { epoch: id.slice(0, at), offset } : undefined;
}

function parse(data: unknown): unknown {
  try {
    return JSON.parse(String(data));
  } catch {
    return data;
  }
}

export class SseStream<D = unknown> extends Emitter<SseStreamEvents> {
  private source: EventSourceLike | undefined;
  private readonly cursor: Cursor<SseMessage<D>>;
  private readonly backoff: Backoff;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: SseClient,
    readonly namespace: string,
    readonly room: string,
    onMessage: (message: SseMessage<D>) => void,
    private readonly options: FollowOptions,
    reconnect: BackoffOptions | undefined,
  ) {
    super();
    this.backoff = new Backoff(reconnect);
    this.cursor = new Cursor<SseMessage<D>>(room, onMessage, (e) => this.emit('reset', e));
    this.cursor.position = position(options.lastEventId);
    void this.open();
  }

  /** The last event id handed over: give it as `lastEventId` to resume in a later session. */
  get lastEventId(): string | undefined {
    const p = this.cursor.position;
    return p ? `${p.epoch}:${p.offset}` : undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    let url: string;
    try {
      url = await this.client.streamUrl(this.namespace, this.room, this.lastEventId);
    } catch (err) {
      const error = err instanceof NotifyError ? err : new NotifyError('CONNECTION_FAILED', String(err));
      this.emit('error', error);
      return this.hopeless(error) ? this.close() : this.again();
    }
    if (this.closed) return;
    let source: EventSourceLike;
    try {
      source = this.client.eventSource(url);
    } catch (err) {
      this.emit('error', new NotifyError('CONNECTION_FAILED', err instanceof Error ? err.message : String(err)));
      return;
    }
    this.source = source;
    source.addEventListener('open', () => (this.backoff.reset(), this.emit('open', undefined)));
    for (const name of this.options.events ?? MESSAGES[this.namespace] ?? ['message']) {
      source.addEventListener(name, (ev) => this.cursor.offer(position(ev.lastEventId || undefined), { event: name, data: parse(ev.data) as D, id: ev.lastEventId || undefined }));
    }
    source.addEventListener('reset', (ev) => {
      const data = parse(ev.data) as { reason?: string };
      this.cursor.position = undefined; // the next message is where the room goes on from
      this.emit('reset', { room: this.room, reason: RESET_REASONS[data.reason ?? ''] ?? 'UNAVAILABLE', position: undefined });
    });
    // The service's own `event: error` (TOKEN_EXPIRED) has data; the connection's error has none.
    source.addEventListener('error', (ev) => {
      if (ev.data !== undefined) {
        const err = errorFromBody(parse(ev.data));
        this.emit('error', err);
        if (err.code === 'TOKEN_EXPIRED' || err.code === 'UNAUTHORIZED') void this.client.renew();
        if (this.hopeless(err)) {
          source.close();
          return this.close();
        }
      }
      this.dropped(source);
    });
    source.addEventListener('disconnect', (ev) => {
      this.emit('error', errorFromBody(parse(ev.data)));
      this.close(); // DISCONNECTED_BY_SERVER: not again until allowed
    });
    source.addEventListener('shutdown', () => this.dropped(source));
  }

  /** A refusal that the same request would get again: FORBIDDEN, a bad room, a bad token that cannot be renewed. */
  private hopeless(err: NotifyError): boolean {
    if (err.temporary || err.code === 'CONNECTION_FAILED') return false;
    return !(err.code === 'UNAUTHORIZED' && this.client.canRenew);
  }

  private dropped(source: EventSourceLike): void {
    source.close();
    if (source === this.source) this.again();
  }

  private again(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.open(), this.backoff.next());
  }
}

export class SseClient {
  private readonly base: string;
  private readonly tokens: TokenSource;

  constructor(url: string, private readonly options: SseClientOptions = {}) {
    this.base = url.replace(/\/+$/, '');
    this.tokens = new TokenSource(options, () => undefined, () => undefined);
  }

  /** Follows one room: `onMessage` gets each message once and in order, across reconnects. */
  follow<D = unknown>(namespace: string, room: string, onMessage: (message: SseMessage<D>) => void, options: FollowOptions = {}): SseStream<D> {
    return new SseStream<D>(this, namespace.replace(/^\//, ''), room, onMessage, options, this.options.reconnect);
  }

  /** @internal */
  async streamUrl(namespace: string, room: string, lastEventId: string | undefined): Promise<string> {
    const query = new URLSearchParams();
    const token = await this.tokens.current();
    if (token !== undefined) query.set('ticket', (await new NotifyApi(this.base, { token, fetch: this.options.fetch }).ticket()).ticket);
    else if (this.options.name !== undefined) query.set('name', this.options.name);
    if (lastEventId !== undefined) query.set('lastEventId', lastEventId);
    const q = query.toString();
    return `${this.base}/events/${encodeURIComponent(namespace)}/${encodeURIComponent(room)}${q ? `?${q}` : ''}`;
  }

  /** @internal */
  eventSource(url: string): EventSourceLike {
    const Ctor = this.options.EventSource ?? (globalThis as unknown as { EventSource?: EventSourceConstructor }).EventSource;
    if (!Ctor) throw new Error('no EventSource: pass options.EventSource');
    return new Ctor(url);
  }

  /** @internal */
  get canRenew(): boolean {
    return this.tokens.canRenew;
  }

  /** @internal */
  async renew(): Promise<void> {
    await this.tokens.renew().catch(() => undefined);
  }
}

export { FetchEventSource } from './fetch-event-source.js';

export function createSseClient(url: string, options: SseClientOptions = {}): SseClient {
  return new SseClient(url, options);
}

export { NotifyError } from './errors.js';
export type { NotifyErrorCode } from './codes.js';
export type { ResetEvent, ResetReason } from './cursor.js';
