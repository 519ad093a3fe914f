/**
 * The service's plain HTTP routes (socket.io answers its own path before these run):
 *   GET  /healthcheck          liveness: 200 OK
 *   GET  /readyz               readiness: 200 OK, or 503 while closing, while (cluster) Redis is
 *                              unreachable or while the message store cannot store
 *   POST /bus-message/:room    publish a JSON body to a /bus room as EVENT {sender: 'POST', ...}
 *                              (an API key is required when auth is on); `?store=true` keeps it
 *                              durably and answers once it is committed
 *   POST /publish/:namespace/:room
 *                              the same for a room of any namespace that takes HTTP messages
 *                              (its module's `httpMessage`: how its members get it)
 *   GET  /events/:namespace/:room
 *                              the room (and more with ?room=) as a Server-Sent Events stream (sse.ts)
 *   POST /ticket               a one-time connection ticket for a Bearer token (auth on)
 * Every failure is a JSON `{error: {code, message}}` with the catalog's HTTP status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from '../auth/access.js';
import { ServiceError, toErrorBody } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { serverPublisher, type Hub } from '../core/hub.js';
import type { Readiness } from './readiness.js';
import type { HttpProtocol } from '../core/dispatch.js';
import type { SseStreams } from './sse.js';
import { parseMessageBody } from '../json/large-body.js';
import { roomName } from '../core/validate.js';

export interface HttpDeps {
  core: Hub;
  logger: Logger;
  readiness: Readiness;
  isClosing: () => boolean;
  /** The protocols: which take HTTP messages, and how (POST /publish/:namespace/:room). */
  namespaces: readonly HttpProtocol[];
  /** GET /events/:namespace/:room (lib/http/sse.ts); absent: not served. */
  sse?: SseStreams;
  /** API keys and tickets (lib/auth/access.ts); absent, HTTP publishing is open. */
  access?: Pick<Access, 'checkPublisher' | 'ticketRoute'>;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

const BUS_MESSAGE = /^\/bus-message\/([^/]+)\/?$/;
const PUBLISH = /^\/publish\/([a-z][a-z0-9-]*)\/([^/]+)\/?$/;
const EVENTS = /^\/events\/([a-z][a-z0-9-]*)\/([^/]+)\/?$/;

export function createHttpHandler(deps: HttpDeps): HttpHandler {
  return (req, res) => {
    route(req, res, deps).catch((err: unknown) => {
      const body = toErrorBody(err);
      // The path only: a query string may hold a credential.
      const path = (req.url ?? '/').split('?', 1)[0];
      if (body.code === 'INTERNAL_ERROR') deps.logger.error('HTTP route failed', { path, err });
      else if (deps.logger.isDebugEnabled()) deps.logger.debug('HTTP request refused', { path, code: body.code });
      sendJson(res, err instanceof ServiceError ? err.status : body.code === 'INTERNAL_ERROR' ? 500 : 400, { error: body });
    });
  };
}

async function route(req: IncomingMessage, res: ServerResponse, deps: HttpDeps): Promise<void> {
  const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
  if (path === '/healthcheck') {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ServiceError('METHOD_NOT_ALLOWED');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : 'OK');
    return;
  }
  if (path === '/readyz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ServiceError('METHOD_NOT_ALLOWED');
    if (deps.isClosing()) throw new ServiceError('SHUTTING_DOWN');
    const { ready, reasons, failing } = deps.readiness.state();
    if (!ready) throw new ServiceError('NOT_READY', `not ready: ${reasons.join(', ')}`, { failing });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : 'OK');
    return;
  }
  if (path === '/ticket' && deps.access) {
    await deps.access.ticketRoute(req, res);
    return;
  }
  const bus = BUS_MESSAGE.exec(path);
  if (bus) {
    await publish(req, res, deps, '/bus', bus[1]!, query, true);
    return;
  }
  const events = EVENTS.exec(path);
  if (events && deps.sse) {
    await deps.sse.handle(req, res, events[1]!, events[2]!, new URLSearchParams(query));
    return;
  }
  const target = PUBLISH.exec(path);
  if (target) {
    await publish(req, res, deps, `/${target[1]!}`, target[2]!, query, false);
    return;
  }
  throw new ServiceError('NOT_FOUND');
}

/**
 * Publishes the body to `:room` of namespace `ns` through the hub, as the namespace's module says
 * its members get an HTTP message; answers the receipt (with `room` for the older /bus-message).
 */
async function publish(req: IncomingMessage, res: ServerResponse, deps: HttpDeps, ns: string, encodedRoom: string, query: string, withRoom: boolean): Promise<void> {
  if (req.method !== 'POST') throw new ServiceError('METHOD_NOT_ALLOWED');
  const module = deps.namespaces.find((m) => m.name === ns);
  if (!module?.httpMessage) throw new ServiceError('NOT_FOUND', `no namespace ${ns.slice(0, 64)} that takes HTTP messages`);
  if (deps.isClosing()) throw new ServiceError('SHUTTING_DOWN');
  deps.access?.checkPublisher(req);
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedRoom);
  } catch {
    throw new ServiceError('INVALID_ROOM', 'room is not valid percent-encoding');
  }
  const room = roomName(decoded, deps.core.limits);
  const message = await parseMessageBody(await readBody(req, deps.core.limits.maxPayload), deps.core.limits.maxDepth);
  const store = storeParam(query) || (module.alwaysStored === true && deps.core.storing);
  const { event, args } = module.httpMessage(room, message, store);
  // [history] the offset and recipients, and the durable commit when asked (STORE_FAILED: 500; delivered
  // all the same, unless the namespace stores first: then not delivered when it cannot be stored)
  const { offset, recipients } =
    store && module.storeFirst
      ? await deps.core.publishStored(serverPublisher(ns), room, {}, event, ...(args as [never]))
      : await deps.core.receipt(deps.core.publish(serverPublisher(ns), room, event, ...(args as [never])), store, {});
  sendJson(res, 200, withRoom ? { ok: true, room, recipients, offset } : { ok: true, recipients, offset });
}

/** `store=true|1` (or a bare `store`) in the query string asks for durable storage. */
function storeParam(query: string): boolean {
  const value = new URLSearchParams(query).get('store');
  if (value === null || value === 'false' || value === '0') return false;
  if (value === '' || value === 'true' || value === '1') return true;
  throw new ServiceError('INVALID_PAYLOAD', 'store must be true or false');
}

/** Reads a body of at most `max` bytes as UTF-8; past that the request is refused with 413. */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume(); // drain, so the 413 can be read by the caller
    return Promise.reject(new ServiceError('PAYLOAD_TOO_LARGE', `body exceeds ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        req.removeAllListeners('data');
        req.resume();
        reject(new ServiceError('PAYLOAD_TOO_LARGE', `body exceeds ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
