/**
 * GET /events/:namespace/:room: the rooms of any namespace as a Server-Sent Events stream, for
 * clients without a socket.io or WebSocket library (browsers' EventSource, curl, serverless code).
 *
 * - Admitted like any connection (origin, connection rate, repeat offenders; with auth on a ticket,
 *   `?token=` or `Authorization: Bearer`), and needs the subscribe right on every room: refused
 *   with a JSON error before the stream starts.
 * - More rooms with repeated `?room=`. Each delivery is one event (lib/http/sse-member.ts).
 * - Resumption: `Last-Event-ID` (or `?lastEventId=`) is `<epoch>:<offset>`: each room replays what
 *   it missed after that position, in order, before live messages; a room that cannot (another
 *   epoch, older than history, beyond its last offset) starts with `event: reset`.
 * - `retry:` at the start, `: ping` every --sse-ping, `event: shutdown` and a proper end of the
 *   response when the service closes, `event: error` with TOKEN_EXPIRED when the token expires,
 *   `event: disconnect` when POST /users/:user/disconnect names the stream's user.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { HttpProtocol } from '../core/dispatch.js';
import { ServiceError } from '../core/errors.js';
import type { Hub } from '../core/hub.js';
import type { Position } from '../core/types.js';
import { roomName } from '../core/validate.js';
import { roomFromPath } from './http-io.js';
import type { Logger } from '../log/logger.js';
import { SseMember, sseText } from './sse-member.js';
import { logClosed } from '../log/connection-close.js';

/** What a browser waits before it reconnects a dropped stream. */
const RETRY_MS = 3000;
/** setTimeout's limit: a token valid for longer is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SseOptions {
  core: Hub;
  protocols: readonly HttpProtocol[];
  /** Origin, rates and credentials, as for a WebSocket upgrade (lib/auth/access.ts admitUpgrade). */
  admit: (req: IncomingMessage, query: URLSearchParams) => Promise<Principal | undefined>;
  logger: Logger;
  pingMs: number;
  maxSendBuffer: number;
  isClosing: () => boolean;
  /** A stream started in namespace `ns` (the metrics). */
  opened?: (ns: string) => void;
}

/** `<epoch>:<offset>` (epochs never contain a colon), or undefined when it is not one. */
export function parseEventId(id: string | undefined | null): Position | undefined {
  if (!id) return undefined;
  const colon = id.indexOf(':');
  if (colon <= 0) return undefined;
  const offset = Number(id.slice(colon + 1));
  if (!Number.isSafeInteger(offset) || offset < 0) return undefined;
  return { epoch: id.slice(0, colon), offset };
}

interface Stream {
  member: SseMember;
  res: ServerResponse;
  /** Ends the stream when its token expires. */
  timer: NodeJS.Timeout | undefined;
  /** Why it ended, when the service ended it (else the client closed it). */
  reason: string | undefined;
}

export class SseStreams {
  private readonly open = new Set<Stream>();
  private readonly pinger: NodeJS.Timeout;

  constructor(private readonly options: SseOptions) {
    // One timer for every stream: a comment line keeps proxies from closing idle ones.
    this.pinger = setInterval(() => {
      for (const { member } of this.open) member.write(': ping\n\n');
    }, options.pingMs);
    this.pinger.unref();
  }

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** Streams open now per namespace (read when metrics are scraped). */
  countsByNamespace(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { member } of this.open) counts.set(member.ns, (counts.get(member.ns) ?? 0) + 1);
    return counts;
  }

  /** Serves GET /events/:namespace/:room (`ns` without its slash, `room` still percent-encoded). */
  async handle(req: IncomingMessage, res: ServerResponse, ns: string, encodedRoom: string, query: URLSearchParams): Promise<void> {
    const { core, logger } = this.options;
    if (req.method !== 'GET') throw new ServiceError('METHOD_NOT_ALLOWED');
    const protocol = this.options.protocols.find((p) => p.name === `/${ns}`);
    if (!protocol) throw new ServiceError('NOT_FOUND', `no namespace /${ns.slice(0, 64)}`);
    if (this.options.isClosing()) throw new ServiceError('SHUTTING_DOWN');
    const rooms = this.rooms(encodedRoom, query);
    const principal = await this.options.admit(req, query);
    // Made first: a slow reader's cut, seen by the member, says why the stream ended.
    const entry = { res, timer: undefined, reason: undefined } as Omit<Stream, 'member'> as Stream;
    const member = new SseMember({
      ns: protocol.name,
      auth: principal,
      res,
      format: protocol.sseEvent,
      maxSendBuffer: this.options.maxSendBuffer,
      onSlow: (unsent) => {
        entry.reason = 'slow_consumer';
        core.counts.slowConsumer();
        logger.warn('slow SSE reader disconnected', { nsp: protocol.name, member: member.id, unsentBytes: unsent });
      },
    });
    // Every right before the stream starts: a refusal is still a plain JSON answer.
    for (const room of rooms) await core.authorize(member, 'subscribe', room);
    const lastEventId = (req.headers['last-event-id'] as string | undefined) ?? query.get('lastEventId') ?? undefined;
    const since = parseEventId(lastEventId);

    // A page of another origin reads the stream with EventSource: the admission above refused any
    // origin --cors-origin does not allow, so an origin here may read it (credentials included).
    const origin = req.headers.origin;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // nginx-style proxies: do not buffer the stream.
      'x-accel-buffering': 'no',
      ...(origin === undefined ? {} : { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' }),
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.options.opened?.(member.ns);
    entry.member = member;
    this.open.add(entry);
    const openedAt = Date.now();
    this.expireWithToken(entry, principal);
    res.on('close', () => {
      member.closed = true;
      clearTimeout(entry.timer);
      this.open.delete(entry);
      logClosed(logger, { protocol: 'sse', namespace: member.ns, rooms: rooms.length, reason: entry.reason ?? 'client_closed', openedAt, user: principal?.user });
      core.detach(member).catch((err: unknown) => logger.error('SSE stream cleanup failed', { nsp: member.ns, err }));
    });

    const name = principal?.name ?? query.get('name')?.slice(0, core.limits.maxNameLength) ?? member.id;
    try {
      for (const room of rooms) {
        // A position that is not one: no room can resume from it, and each says so.
        if (lastEventId !== undefined && since === undefined) member.onRecovery(room, false, 'UNKNOWN_OFFSET');
        await core.join(member, room, name, since);
        if (!member.connected) return;
      }
    } catch (err) {
      const error = err instanceof ServiceError ? { code: err.code, message: err.message } : { code: 'INTERNAL_ERROR', message: 'internal error' };
      if (error.code === 'INTERNAL_ERROR') logger.error('SSE stream failed', { nsp: member.ns, err });
      core.counts.error(error.code);
      entry.reason = 'error';
      member.write(sseText('error', error));
      res.end();
    }
  }

  /** The rooms a request names: the path's, then each `?room=`, once each, within the room limit. */
  private rooms(encodedRoom: string, query: URLSearchParams): string[] {
    const limits = this.options.core.limits;
    const rooms = new Set([roomFromPath(encodedRoom, limits)]);
    for (const extra of query.getAll('room')) {
      rooms.add(roomName(extra, limits));
      if (rooms.size > limits.maxRoomsPerSocket) throw new ServiceError('TOO_MANY_ROOMS', `a stream may follow at most ${limits.maxRoomsPerSocket} rooms`);
    }
    return [...rooms];
  }

  /** With auth on: at the token's expiry the stream gets `event: error` TOKEN_EXPIRED and ends. */
  private expireWithToken(entry: Stream, principal: Principal | undefined): void {
    const exp = principal?.exp;
    if (exp === undefined) return;
    const check = (): void => {
      const left = exp * 1000 - Date.now();
      if (left > 0) {
        entry.timer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
        entry.timer.unref();
        return;
      }
      this.options.core.counts.error('TOKEN_EXPIRED');
      entry.reason = 'token_expired';
      entry.member.write(sseText('error', { code: 'TOKEN_EXPIRED', message: 'the token has expired: reconnect with a new one' }));
      entry.res.end();
    };
    check();
  }

  /** POST /users/:user/disconnect: the user's streams get `event: disconnect` and end; answers how many. */
  disconnectUser(user: string): number {
    let count = 0;
    for (const entry of this.open) {
      const { member, res } = entry;
      if (member.auth?.user !== user || !member.connected) continue;
      entry.reason = 'disconnected_by_server';
      member.write(sseText('disconnect', { code: 'DISCONNECTED_BY_SERVER' }));
      res.end();
      count++;
    }
    return count;
  }

  /** Shutdown: every stream gets `event: shutdown` and a proper end of its response. */
  close(): void {
    clearInterval(this.pinger);
    for (const entry of this.open) {
      const { member, res } = entry;
      entry.reason = 'shutdown';
      member.write(sseText('shutdown', {}));
      res.end();
    }
  }
}
