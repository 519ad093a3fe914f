/**
 * Real socket.io clients of every version the service serves, behind one small interface:
 * v4 (socket.io-client 4), v2 (2.x, Engine.IO v3) and v1 (1.7.4, what 2-IMMERSE pins).
 */
import { io as ioV4 } from 'socket.io-client';
import ioV1 from 'socket.io-client-v1';
import ioV2 from 'socket.io-client-v2';

export type ClientVersion = 'v1' | 'v2' | 'v4';
export type TransportName = 'websocket' | 'polling';
export const VERSIONS: readonly ClientVersion[] = ['v1', 'v2', 'v4'];
export const TRANSPORTS: readonly TransportName[] = ['websocket', 'polling'];

export interface TestClient {
  readonly version: ClientVersion;
  readonly id: string;
  /** The library's own socket (`raw.io.engine` writes Engine.IO frames), for tests that craft packets. */
  readonly raw: any;
  on(event: string, listener: (...args: any[]) => void): void;
  off(event: string, listener?: (...args: any[]) => void): void;
  emit(event: string, ...args: unknown[]): void;
  close(): void;
}

export interface ConnectOptions {
  transport?: TransportName;
  query?: Record<string, string>;
  /** extra options passed to the client as they are */
  extra?: Record<string, unknown>;
  /** resolve on connect_error instead of rejecting */
  expectError?: boolean;
  /** listeners registered before connecting, for events the server sends right at connect */
  listeners?: Record<string, (...args: any[]) => void>;
}

const open: TestClient[] = [];

/** Connects and resolves once the namespace is joined; rejects on a connect error or after 5 s. */
export function connect(version: ClientVersion, baseUrl: string, nsp: string, opts: ConnectOptions = {}): Promise<TestClient> {
  const transport = opts.transport ?? 'websocket';
  const common = { transports: [transport], upgrade: false, reconnection: false, rejectUnauthorized: false, ...opts.extra };
  let socket: any;
  if (version === 'v4') {
    socket = ioV4(baseUrl + nsp, { ...common, forceNew: true, query: opts.query });
  } else {
    const query = opts.query ? new URLSearchParams(opts.query).toString() : undefined;
    // The call pattern of the 2-IMMERSE client library.
    // forceNode: from Node 22 on, engine.io-client 3 (v2) would pick Node's global WebSocket, which
    // takes no TLS options (rejectUnauthorized), over `ws`.
    socket = (version === 'v1' ? ioV1 : ioV2)(baseUrl + nsp, { ...common, 'force new connection': true, multiplex: false, query, forceNode: true });
  }
  let id = '';
  socket.on('connect', () => {
    // The id the server knows: for Engine.IO v3 clients socket.io v4 uses the legacy
    // "/nsp#engineId" form, which 2.x clients show too but 1.7 shows without the prefix.
    const raw = String(socket.id);
    id = version === 'v1' && nsp !== '/' && !raw.includes('#') ? `${nsp}#${raw}` : raw;
  });
  const client: TestClient = {
    version,
    get id() {
      return id;
    },
    raw: socket,
    on: (e, l) => socket.on(e, l),
    off: (e, l) => socket.off(e, l),
    emit: (e, ...a) => socket.emit(e, ...a),
    close: () => socket.close(),
  };
  open.push(client);
  for (const [event, listener] of Object.entries(opts.listeners ?? {})) socket.on(event, listener);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${version} client did not connect to ${nsp} over ${transport}`)), 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    const fail = (err: unknown) => {
      clearTimeout(timer);
      if (opts.expectError) resolve(client);
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    socket.once('connect_error', fail);
    socket.once('error', fail);
  });
}

/** Closes every client opened since the last call (use in afterEach). */
export function closeAll(): void {
  for (const c of open.splice(0)) c.close();
}

/** Resolves with the first payload of `event`, or rejects after `ms`. */
export function next<T = any>(client: TestClient, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, handler);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    const handler = (payload: T) => {
      clearTimeout(timer);
      client.off(event, handler);
      resolve(payload);
    };
    client.on(event, handler);
  });
}

/** Resolves with the next `count` payloads of `event`. */
export function collect<T = any>(client: TestClient, event: string, count: number, ms = 5000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    const timer = setTimeout(() => {
      client.off(event, handler);
      reject(new Error(`got ${got.length}/${count} ${event} within ${ms} ms`));
    }, ms);
    const handler = (payload: T) => {
      got.push(payload);
      if (got.length === count) {
        clearTimeout(timer);
        client.off(event, handler);
        resolve(got);
      }
    };
    client.on(event, handler);
  });
}

/** Emits with an ack callback and resolves with the reply. */
export function request<T = any>(client: TestClient, event: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event} within 5000 ms`)), 5000);
    client.emit(event, ...args, (reply: T) => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

/**
 * Records every `event` a client receives, so a test can assert later that none came. Pair it
 * with a later marker message on the same connection: once the marker is in, anything sent
 * before it would have arrived too.
 */
export function recorder(client: TestClient, event: string): { readonly received: unknown[] } {
  const received: unknown[] = [];
  client.on(event, (payload: unknown) => received.push(payload));
  return { received };
}
