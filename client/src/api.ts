/**
 * The service's HTTP API (docs/PROTOCOL.md section 7) with the same typed errors: publish to any
 * namespace, read history and presence, list rooms, disconnect a user, get a connection ticket.
 * Dependency-free (the global `fetch` of browsers and Node.js 18+, or one passed in).
 */
import { NotifyError, errorFromBody } from './errors.js';

export interface ApiOptions {
  /** X-API-Key: every route */
  apiKey?: string;
  /** a user's token (Bearer): the routes its rights allow, and POST /ticket */
  token?: string;
  fetch?: typeof fetch;
}

export interface HttpPublishResult {
  offset: number;
  recipients: number;
}

export interface PresenceMember {
  id: string;
  name: string;
  user: string | null;
  protocol: 'socketio' | 'sock' | 'sse';
  node: string;
}

export interface RoomInfo {
  namespace: string;
  room: string;
  members: number;
}

/** A namespace as the HTTP routes name it: without its slash. */
const bare = (namespace: string): string => encodeURIComponent(namespace.replace(/^\//, ''));

export class NotifyApi {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(url: string, private readonly options: ApiOptions = {}) {
    this.base = url.replace(/\/+$/, '');
    this.fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  async publish(namespace: string, room: string, message: unknown, options: { store?: boolean } = {}): Promise<HttpPublishResult> {
    const query = options.store ? '?store=true' : '';
    const body = await this.call('POST', `/publish/${bare(namespace)}/${encodeURIComponent(room)}${query}`, JSON.stringify(message === undefined ? null : message));
    return { offset: body.offset as number, recipients: body.recipients as number };
  }

  /** The room's recent messages (history and store), oldest first; `since` an SSE id `<epoch>:<offset>`. */
  async history<T = unknown>(namespace: string, room: string, options: { limit?: number; since?: string } = {}): Promise<T[]> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.since !== undefined) query.set('since', options.since);
    const q = query.toString() ? `?${query}` : '';
    return (await this.call('GET', `/rooms/${bare(namespace)}/${encodeURIComponent(room)}/history${q}`)).messages as T[];
  }

  async presence(namespace: string, room: string): Promise<PresenceMember[]> {
    return (await this.call('GET', `/rooms/${bare(namespace)}/${encodeURIComponent(room)}/presence`)).members as PresenceMember[];
  }

  /** One page of the rooms with members; `next` is the cursor of the following page, null on the last. */
  async rooms(options: { namespace?: string; prefix?: string; limit?: number; cursor?: string } = {}): Promise<{ rooms: RoomInfo[]; next: string | null }> {
    const query = new URLSearchParams();
    if (options.namespace !== undefined) query.set('namespace', options.namespace.replace(/^\//, ''));
    if (options.prefix !== undefined) query.set('prefix', options.prefix);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const body = await this.call('GET', `/rooms${query.toString() ? `?${query}` : ''}`);
    return { rooms: body.rooms as RoomInfo[], next: (body.next as string | null) ?? null };
  }

  /** Closes every connection of a user (a token's `sub`), optionally blocking it (`'10m'`, ms). */
  async disconnect(user: string, options: { block?: string | number } = {}): Promise<number> {
    const body = options.block === undefined ? undefined : JSON.stringify({ block: options.block });
    return (await this.call('POST', `/users/${encodeURIComponent(user)}/disconnect`, body)).disconnected as number;
  }

  /** A one-time connection ticket for the token (for browsers: /sock, SSE, socket.io `?ticket=`). */
  async ticket(): Promise<{ ticket: string; expiresIn: number }> {
    const body = await this.call('POST', '/ticket', undefined, true);
    return { ticket: body.ticket as string, expiresIn: body.expiresIn as number };
  }

  /** The API key when there is one (it works on every route; a token beside it would be taken for the caller), else the token. */
  private async call(method: string, path: string, body?: string, asUser = false): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = {};
    if (this.options.apiKey !== undefined && !asUser) headers['x-api-key'] = this.options.apiKey;
    else if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(this.base + path, { method, headers, body });
    } catch (err) {
      throw new NotifyError('CONNECTION_FAILED', `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok && typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
    const error = (parsed as { error?: unknown } | undefined)?.error;
    throw error === undefined ? new NotifyError(res.status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST', `${method} ${path}: HTTP ${res.status}`, undefined, res.status) : errorFromBody(error, res.status);
  }
}

export function createApi(url: string, options: ApiOptions = {}): NotifyApi {
  return new NotifyApi(url, options);
}

export { NotifyError } from './errors.js';
export type { NotifyErrorCode } from './codes.js';
