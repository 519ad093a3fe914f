/**
 * createSockClient: the plain WebSocket `/sock` protocol (docs/PROTOCOL.md, "/sock"), with the
 * subscribe/publish shape of the socket.io SDK and no dependency: the browser's WebSocket, or
 * `ws` passed in Node.js. With a token it connects with a one-time ticket (POST /ticket), the one
 * way a browser WebSocket can authenticate. /sock frames carry no request id but are answered in
 * order, so each request takes the next answer: its own copy, its `subscribe-topic`, or an error.
 * After a reconnect every topic is subscribed again and what was missed is read from
 * GET /rooms/sock/:topic/history?since=, then handed over once and in order (or a `reset`).
 */
import { NotifyApi } from './api.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Cursor, type Position, type ResetEvent } from './cursor.js';
import { Emitter } from './emitter.js';
import { NotifyError, errorFromBody } from './errors.js';
import { TokenSource, type TokenOptions } from './token.js';
import type { MessageMeta } from './types.js';

/** What the SDK needs of a WebSocket: the browser's and `ws` both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface SockClientOptions extends TokenOptions {
  /** display name and user id with `--auth none` */
  name?: string;
  /** default: globalThis.WebSocket (browsers, Node.js 22+); in Node.js 20 pass `ws`'s */
  WebSocket?: WebSocketConstructor;
  /** reads the history after a reconnect when the token may not (default: the token) */
  apiKey?: string;
  fetch?: typeof fetch;
  reconnect?: BackoffOptions;
  /** how long a request waits for its answer, ms (default 10 000) */
  timeout?: number;
}

/** A publication as subscribers get it. */
export interface SockFrame<P = unknown> {
  action: string;
  topic: string;
  sender: string;
  payload: P;
  store: boolean;
  timestamp: string;
  meta: MessageMeta;
  historical?: boolean;
}

export interface SockClientEvents extends Record<string, unknown> {
  connect: { connectionId: string };
  disconnect: { code: number; reason: string };
  error: NotifyError;
}

export interface SockSubscriptionEvents extends Record<string, unknown> {
  reset: ResetEvent;
  error: NotifyError;
}

interface Pending {
  kind: 'subscribe' | 'publish';
  topic: string;
  resolve: (frame: Record<string, unknown>) => void;
  reject: (err: NotifyError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;

export class SockSubscription<P = unknown> extends Emitter<SockSubscriptionEvents> {
  /** @internal */
  readonly cursor: Cursor<SockFrame<P>>;
  readonly ready: Promise<void>;
  /** @internal */
  settle!: { resolve: () => void; reject: (err: NotifyError) => void };
  /** @internal */
  first = true;

  constructor(readonly topic: string, onMessage: (frame: SockFrame<P>) => void, private readonly owner: SockClient, since?: Position) {
    super();
    this.cursor = new Cursor<SockFrame<P>>(topic, onMessage, (e) => this.emit('reset', e));
    this.cursor.position = since;
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => undefined);
  }

  get position(): Position | undefined {
    return this.cursor.position;
  }

  unsubscribe(): void {
    this.owner.unsubscribe(this.topic);
  }

  /** @internal */
  fail(err: NotifyError): void {
    this.emit('error', err);
  }
}

export class SockClient extends Emitter<SockClientEvents> {
  private ws: WebSocketLike | undefined;
  private me: string | undefined;
  private readonly subscriptions = new Map<string, SockSubscription<unknown>>();
  private readonly pending: Pending[] = [];
  private readonly tokens: TokenSource;
  private readonly backoff: Backoff;
  private readonly timeout: number;
  private readonly base: string;
  private closed = false;
  private waiting: Array<() => void> = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string, private readonly options: SockClientOptions = {}) {
    super();
    this.base = url.replace(/\/+$/, '');
    this.timeout = options.timeout ?? 10_000;
    this.backoff = new Backoff(options.reconnect);
    this.tokens = new TokenSource(options, () => undefined, () => undefined);
    void this.connect();
  }

  get connectionId(): string | undefined {
    return this.me;
  }

  /** Subscribes to a topic; `onMessage` gets each publication once and in order, across reconnects. */
  subscribe<P = unknown>(topic: string, onMessage: (frame: SockFrame<P>) => void, options: { since?: Position } = {}): SockSubscription<P> {
    if (this.subscriptions.has(topic)) throw new Error(`already subscribed to ${topic}`);
    const sub = new SockSubscription<P>(topic, onMessage, this, options.since);
    this.subscriptions.set(topic, sub as SockSubscription<unknown>);
    if (this.me !== undefined) void this.join(sub as SockSubscription<unknown>);
    return sub;
  }

  /** Publishes to a subscribed topic (every subscriber gets it, this connection included). */
  async publish(topic: string, payload: unknown, options: { action?: string; store?: boolean } = {}): Promise<{ offset: number }> {
    const frame = await this.request('publish', { action: options.action ?? 'message', topic, payload, store: options.store ?? false });
    return { offset: (frame.meta as MessageMeta).offset };
  }

  unsubscribe(topic: string): void {
    if (!this.subscriptions.delete(topic)) return;
    if (this.ws?.readyState === OPEN && this.me !== undefined) this.ws.send(JSON.stringify({ action: 'unsubscribe', topic }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.tokens.close();
    this.failPending(new NotifyError('CLOSED', 'the client is closed'));
    this.ws?.close(1000);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let url: string;
    try {
      url = await this.socketUrl();
    } catch (err) {
      const error = err instanceof NotifyError ? err : new NotifyError('UNAUTHORIZED', String(err));
      this.emit('error', error);
      if (error.temporary || error.code === 'CONNECTION_FAILED' || this.tokens.canRenew) this.retry();
      return;
    }
    if (this.closed) return;
    const Ctor = this.options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) {
      this.emit('error', new NotifyError('CONNECTION_FAILED', 'no WebSocket here: pass options.WebSocket (e.g. the `ws` package)'));
      return;
    }
    const ws = new Ctor(url);
    this.ws = ws;
    ws.onmessage = (ev) => this.frame(String(ev.data));
    ws.onerror = () => undefined; // onclose follows
    ws.onclose = (ev) => this.lost(ws, ev.code, ev.reason);
  }

  /** /sock/<ticket> with a token, /sock?name= without. */
  private async socketUrl(): Promise<string> {
    const ws = this.base.replace(/^http/, 'ws');
    const token = await this.tokens.current();
    if (token === undefined) return `${ws}/sock${this.options.name ? `?name=${encodeURIComponent(this.options.name)}` : ''}`;
    const { ticket } = await new NotifyApi(this.base, { token, fetch: this.options.fetch }).ticket();
    return `${ws}/sock/${encodeURIComponent(ticket)}`;
  }

  private lost(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.me = undefined;
    this.failPending(new NotifyError('TIMEOUT', `connection closed (${code}) before the answer: it may or may not have been done`));
    this.emit('disconnect', { code, reason });
    if (this.closed) return;
    if (code === 4002) return; // DISCONNECTED_BY_SERVER: reconnect only once allowed again (the error frame said so)
    if (code === 4001) void this.tokens.renew().catch(() => undefined);
    this.retry();
  }

  private retry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
  }

  private frame(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const action = frame.action;
    const topic = typeof frame.topic === 'string' ? frame.topic : undefined;
    if (action === 'connected') return this.opened((frame.payload as { connectionId: string }).connectionId);
    if (action === 'error') return this.refusal(frame);
    if (action === 'subscribe-topic' && frame.sender === this.me) return this.answer('subscribe', frame);
    if (frame.meta === undefined || topic === undefined) return; // presence frames and page ends
    if (frame.sender === this.me && frame.historical !== true) this.answer('publish', frame);
    this.subscriptions.get(topic)?.cursor.offer(frame.meta as MessageMeta, frame as unknown as SockFrame);
  }

  private opened(id: string): void {
    this.me = id;
    this.backoff.reset();
    this.emit('connect', { connectionId: id });
    for (const wake of this.waiting.splice(0)) wake();
    for (const sub of this.subscriptions.values()) void this.join(sub);
  }

  /** (Re)subscribes: frames are held until what was missed has been read back. */
  private async join(sub: SockSubscription<unknown>): Promise<void> {
    sub.cursor.joining();
    try {
      await this.request('subscribe', { action: 'subscribe', topic: sub.topic });
    } catch (err) {
      sub.cursor.abandon();
      const error = err as NotifyError;
      if (error.code === 'TIMEOUT') return; // the connection dropped: subscribed again on the next
      this.subscriptions.delete(sub.topic);
      sub.settle.reject(error);
      sub.fail(error);
      return;
    }
    const since = sub.cursor.position;
    let replay: SockFrame[] = [];
    let unavailable = false;
    if (since !== undefined) {
      try {
        const api = new NotifyApi(this.base, { token: await this.tokens.current(), apiKey: this.options.apiKey, fetch: this.options.fetch });
        replay = await api.history<SockFrame>('sock', sub.topic, { since: `${since.epoch}:${since.offset}`, limit: 1000 });
      } catch {
        unavailable = true;
      }
    }
    sub.cursor.joined(unavailable ? { recovered: false, reason: 'UNAVAILABLE' } : {}, false, replay.map((f) => ({ meta: f.meta, item: f })));
    if (sub.first) {
      sub.first = false;
      sub.settle.resolve();
    }
  }

  /** Sends a request frame once connected; its answer is the next one the service sends. */
  private async request(kind: Pending['kind'], frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) throw new NotifyError('CLOSED', 'the client is closed');
    if (this.me === undefined) await this.open();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.pending.findIndex((p) => p.timer === timer);
        if (i >= 0) this.pending.splice(i, 1);
        reject(new NotifyError('TIMEOUT', `${kind} ${String(frame.topic)}: no answer within ${this.timeout} ms`));
      }, this.timeout);
      this.pending.push({ kind, topic: String(frame.topic), resolve, reject, timer });
      this.ws!.send(JSON.stringify(frame));
    });
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new NotifyError('TIMEOUT', `not connected within ${this.timeout} ms`)), this.timeout);
      this.waiting.push(() => (clearTimeout(timer), resolve()));
    });
  }

  private answer(kind: Pending['kind'], frame: Record<string, unknown>): void {
    const head = this.pending[0];
    if (!head || head.kind !== kind || head.topic !== frame.topic) return;
    this.pending.shift();
    clearTimeout(head.timer);
    head.resolve(frame);
  }

  private refusal(frame: Record<string, unknown>): void {
    const err = errorFromBody(frame.payload);
    // Delivered, then not stored: the publication was answered by its own copy already.
    if (err.code === 'STORE_FAILED' && err.details !== undefined) return this.emit('error', err);
    const head = this.pending[0];
    if (head && (frame.topic === undefined || frame.topic === head.topic)) {
      this.pending.shift();
      clearTimeout(head.timer);
      head.reject(err);
      return;
    }
    this.emit('error', err); // TOKEN_EXPIRED, DISCONNECTED_BY_SERVER, ...
  }

  private failPending(err: NotifyError): void {
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

export function createSockClient(url: string, options: SockClientOptions = {}): SockClient {
  return new SockClient(url, options);
}

export { NotifyError } from './errors.js';
export type { NotifyErrorCode } from './codes.js';
export type { Position, ResetEvent, ResetReason } from './cursor.js';
