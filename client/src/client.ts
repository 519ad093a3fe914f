/**
 * createClient: the socket.io SDK. One Engine.IO connection (a socket.io Manager) carries a socket
 * per namespace used. socket.io-client reconnects the transport with backoff and jitter; on every
 * `connect` each subscription JOINs again from its last position. Refusals the client does not
 * retry by itself (a namespace refusing the connect, the server disconnecting) are retried here
 * with the same kind of backoff. The token is renewed before it expires and sent with REFRESH.
 */
import { Manager, type ManagerOptions, type Socket } from 'socket.io-client';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { NotifyError, errorFromBody } from './errors.js';
import { Subscription, type Channel, type SubscribeOptions } from './subscription.js';
import { TokenSource, tokenExpiry, type TokenOptions } from './token.js';
import type { NotifyMessage, PresenceNotice, PublishResult, RoomNamespace } from './types.js';
import type { Position } from './cursor.js';

export interface ClientOptions extends TokenOptions {
  /** display name in every room joined, unless a subscription gives its own (with auth on the token's name is used) */
  name?: string;
  /** how long a call waits for its ack, ms (default 10 000) */
  timeout?: number;
  /** reconnect delays (default 500 ms doubling to 10 s, with jitter) */
  reconnect?: BackoffOptions;
  /** default ['websocket']: no sticky sessions needed in a cluster */
  transports?: Array<'websocket' | 'polling'>;
  /** anything else for socket.io-client's Manager (rejectUnauthorized, extraHeaders, path, ...) */
  socketOptions?: Partial<ManagerOptions>;
}

export interface ConnectEvent {
  namespace: RoomNamespace;
  /** socket.io connection-state recovery restored the session (rooms kept, missed packets replayed) */
  recovered: boolean;
}

export interface ClientEvents extends Record<string, unknown> {
  connect: ConnectEvent;
  disconnect: { namespace: RoomNamespace; reason: string };
  /** a failure no call is waiting for: a refused reconnect, a failed token renewal, DISCONNECTED_BY_SERVER */
  error: NotifyError;
  /** a new token was sent with REFRESH; `exp` as the service acknowledged it */
  refreshed: { namespace: RoomNamespace; exp: number | undefined };
}

export interface PublishOptions {
  namespace?: RoomNamespace;
  /** also write it to the durable message store; the ack comes after the commit */
  store?: boolean;
}

export class NotifyClient extends Emitter<ClientEvents> {
  private readonly manager: Manager;
  private readonly channels = new Map<RoomNamespace, NamespaceChannel>();
  readonly tokens: TokenSource;
  readonly timeout: number;
  private closed = false;

  constructor(url: string, readonly options: ClientOptions = {}) {
    super();
    this.timeout = options.timeout ?? 10_000;
    this.tokens = new TokenSource(options, (token) => this.sendRefresh(token), (err) => this.fail(asNotifyError(err, 'UNAUTHORIZED')));
    const backoff = options.reconnect ?? {};
    this.manager = new Manager(url, {
      transports: options.transports ?? ['websocket'],
      reconnection: true,
      reconnectionDelay: backoff.min ?? 500,
      reconnectionDelayMax: backoff.max ?? 10_000,
      randomizationFactor: 0.5,
      ...options.socketOptions,
      autoConnect: false, // opened by the first namespace socket

    });
    this.tokens.start();
  }

  /**
   * Subscribes to a room: `onMessage` gets each message once and in order, across reconnects.
   * The subscription's `ready` resolves once joined (rejects with a NotifyError: FORBIDDEN, ...).
   */
  subscribe<M = unknown>(room: string, onMessage: (message: NotifyMessage<M>) => void, options: SubscribeOptions = {}): Subscription<M> {
    if (this.closed) throw new NotifyError('CLOSED', 'the client is closed');
    return this.channel(options.namespace ?? 'layout').subscribe(room, onMessage, options);
  }

  /** Publishes to a room (membership not needed); resolves with the message's offset and recipients. */
  async publish(room: string, message: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const payload: Record<string, unknown> = { room, message };
    if (options.store) payload.store = true;
    const reply = await this.channel(options.namespace ?? 'layout').request('NOTIFY', payload);
    return { offset: reply.offset as number, recipients: reply.recipients as number };
  }

  /** Recent and stored messages of a room, oldest first (needs the subscribe right). */
  async history<M = unknown>(room: string, options: { namespace?: RoomNamespace; limit?: number; before?: Position } = {}): Promise<NotifyMessage<M>[]> {
    const { namespace, ...rest } = options;
    return (await this.channel(namespace ?? 'layout').request('HISTORY', { room, ...rest })).messages as NotifyMessage<M>[];
  }

  /** The display names of a room's members (needs the subscribe right). */
  async presence(room: string, options: { namespace?: RoomNamespace } = {}): Promise<string[]> {
    return (await this.channel(options.namespace ?? 'layout').request('CLIENTS', { room })).clients as string[];
  }

  /** Whether every namespace in use is connected. */
  get connected(): boolean {
    return [...this.channels.values()].every((c) => c.connected);
  }

  /** Ends every subscription and the connection. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tokens.close();
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    // Disconnecting every socket closes the Manager; this covers a Manager that never had one.
    (this.manager as unknown as { _close?: () => void })._close?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  fail(err: NotifyError): void {
    this.emit('error', err);
  }

  /** @internal */
  announce<E extends keyof ClientEvents>(event: E, arg: ClientEvents[E]): void {
    this.emit(event, arg);
  }

  private channel(namespace: RoomNamespace): NamespaceChannel {
    let channel = this.channels.get(namespace);
    if (!channel) {
      if (this.closed) throw new NotifyError('CLOSED', 'the client is closed');
      channel = new NamespaceChannel(this, namespace, this.manager);
      this.channels.set(namespace, channel);
    }
    return channel;
  }

  /** A renewed token goes to every connected namespace socket (each holds its own). */
  private sendRefresh(token: string): void {
    for (const channel of this.channels.values()) channel.refresh(token);
  }
}

/** The socket of one namespace and the subscriptions on it. */
class NamespaceChannel implements Channel {
  private readonly socket: Socket;
  private readonly subscriptions = new Map<string, Subscription<unknown>>();
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** DISCONNECTED_BY_SERVER: an operator closed this user's connections; do not come back. */
  private dismissed = false;

  constructor(
    private readonly client: NotifyClient,
    private readonly namespace: RoomNamespace,
    manager: Manager,
  ) {
    this.backoff = new Backoff(client.options.reconnect);
    const tokens = client.tokens;
    // A function: asked again for each (re)connect, so a reconnect never uses an expired token.
    const auth = tokens.enabled
      ? (cb: (data: object) => void) => {
          tokens.current().then(
            (token) => cb({ token }),
            (err: unknown) => {
              client.fail(asNotifyError(err, 'UNAUTHORIZED'));
              cb({});
            },
          );
        }
      : undefined;
    this.socket = manager.socket(`/${namespace}`, auth ? { auth } : {});
    this.socket.on('connect', () => this.connected_());
    this.socket.on('disconnect', (reason) => this.disconnected(reason));
    this.socket.on('connect_error', (err: Error & { data?: unknown }) => this.refused(err));
    this.socket.on('EVENT', (envelope: NotifyMessage) => this.subscriptions.get(envelope?.room)?.message(envelope));
    this.socket.on('JOINED', (notice: PresenceNotice) => this.subscriptions.get(notice?.room)?.notice('joined', notice));
    this.socket.on('LEFT', (notice: PresenceNotice) => this.subscriptions.get(notice?.room)?.notice('left', notice));
    this.socket.on('ERROR', (error: { code?: string }) => this.serverError(error));
    this.socket.connect();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  subscribe<M>(room: string, onMessage: (message: NotifyMessage<M>) => void, options: SubscribeOptions): Subscription<M> {
    if (this.subscriptions.has(room)) throw new Error(`already subscribed to ${this.namespace}/${room}: unsubscribe first`);
    const name = options.name ?? this.client.options.name;
    const sub = new Subscription<M>(room, this.namespace, this, onMessage, name === undefined ? options : { ...options, name });
    this.subscriptions.set(room, sub as Subscription<unknown>);
    if (this.socket.connected) sub.join(); // else on connect
    return sub;
  }

  forget(sub: Subscription<unknown>): void {
    if (this.subscriptions.get(sub.room) === sub) this.subscriptions.delete(sub.room);
  }

  /** One call: the ack's `{ok: true, ...}`, or a NotifyError. A TOKEN_EXPIRED refusal renews the token and tries once more. */
  async request(event: string, payload: unknown, retried = false): Promise<Record<string, unknown>> {
    if (this.client.isClosed) throw new NotifyError('CLOSED', 'the client is closed');
    let reply: { ok?: boolean; error?: unknown } & Record<string, unknown>;
    try {
      reply = await this.socket.timeout(this.client.timeout).emitWithAck(event, payload);
    } catch {
      throw new NotifyError('TIMEOUT', `${event}: no answer within ${this.client.timeout} ms (the connection may have dropped; it may or may not have been done)`);
    }
    if (reply?.ok === true) return reply;
    const err = errorFromBody(reply?.error);
    if (err.code === 'TOKEN_EXPIRED' && !retried && this.client.tokens.canRenew) {
      const token = await this.client.tokens.renew();
      if (token !== undefined) {
        await this.refreshNow(token);
        return this.request(event, payload, true);
      }
    }
    throw err;
  }

  /** Sends REFRESH {token} (not waiting for it: errors go to the client's `error`). */
  refresh(token: string): void {
    if (this.socket.connected) this.refreshNow(token).catch((err: NotifyError) => this.client.fail(err));
  }

  private async refreshNow(token: string): Promise<void> {
    const reply = await this.request('REFRESH', { token }, true);
    this.client.announce('refreshed', { namespace: this.namespace, exp: typeof reply.exp === 'number' ? reply.exp : tokenExpiry(token) });
  }

  close(): void {
    clearTimeout(this.retryTimer);
    for (const sub of [...this.subscriptions.values()]) sub.end();
    this.socket.disconnect();
  }

  private connected_(): void {
    this.backoff.reset();
    this.client.announce('connect', { namespace: this.namespace, recovered: this.socket.recovered });
    for (const sub of this.subscriptions.values()) sub.join();
  }

  private disconnected(reason: string): void {
    this.client.announce('disconnect', { namespace: this.namespace, reason });
    if (this.client.isClosed || reason === 'io client disconnect') return;
    // socket.io-client does not reconnect after the server's own disconnect: do it, later.
    if (reason === 'io server disconnect' && !this.dismissed) this.retryLater();
  }

  /** connect_error: the transport failed (socket.io-client retries) or the namespace refused (we retry). */
  private refused(err: Error & { data?: unknown }): void {
    if (this.client.isClosed) return;
    if (err.data === undefined) return; // transport level: the Manager reconnects by itself
    const error = errorFromBody(err.data);
    this.client.fail(error);
    if (error.code === 'UNAUTHORIZED' && this.client.tokens.canRenew) {
      this.client.tokens.renew().then(() => this.retryLater(), (e: unknown) => this.client.fail(asNotifyError(e, 'UNAUTHORIZED')));
    } else if (error.temporary) {
      this.retryLater();
    }
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.client.isClosed && !this.socket.connected) this.socket.connect();
    }, this.backoff.next());
  }

  /** An ERROR event: no call waits for it (we always ack). TOKEN_EXPIRED: renew now. */
  private serverError(body: { code?: string }): void {
    const err = errorFromBody(body);
    if (err.code === 'TOKEN_EXPIRED' && this.client.tokens.canRenew) {
      this.client.tokens.renew().catch((e: unknown) => this.client.fail(asNotifyError(e, 'TOKEN_EXPIRED')));
      return;
    }
    if (err.code === 'DISCONNECTED_BY_SERVER') this.dismissed = true;
    this.client.fail(err);
  }
}

function asNotifyError(err: unknown, code: 'UNAUTHORIZED' | 'TOKEN_EXPIRED'): NotifyError {
  if (err instanceof NotifyError) return err;
  return new NotifyError(code, `getToken failed: ${err instanceof Error ? err.message : String(err)}`);
}

/** Connects to the service at `url` (http(s)://host:port); namespaces are opened as they are used. */
export function createClient(url: string, options: ClientOptions = {}): NotifyClient {
  return new NotifyClient(url, options);
}
