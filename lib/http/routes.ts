/**
 * The service's plain HTTP routes (socket.io answers its own path before these run), dispatched
 * on one table (route-table.ts) that the OpenAPI document (openapi.ts, GET /openapi.json) is
 * checked against:
 *   GET  /healthcheck          liveness: 200 OK
 *   GET  /readyz               readiness: 200 OK, or 503 while closing, while (cluster) Redis is
 *                              unreachable or while the message store cannot store
 *   POST /bus-message/:room    publish a JSON body to a /bus room as EVENT {sender: 'POST', ...}
 *                              (an API key is required when auth is on); `?store=true` keeps it
 *                              durably and answers once it is committed
 *   POST /publish/:namespace/:room
 *                              the same for a room of any namespace that takes HTTP messages
 *                              (its module's `httpMessage`: how its members get it); an API key,
 *                              or a user's token with the publish right on the room
 *   GET  /events/:namespace/:room
 *                              the room (and more with ?room=) as a Server-Sent Events stream (sse.ts)
 *   POST /ticket               a one-time connection ticket for a Bearer token (auth on)
 *   /rooms..., /users/:user/disconnect
 *                              the server API (api-routes.ts)
 *   GET  /openapi.json         the OpenAPI document of all of these
 *   GET  /metrics              Prometheus metrics (metrics-route.ts; an API key when auth is on)
 *   /admin...                  the admin page and its JSON API (lib/admin/, given as `more`)
 * Every failure is a JSON `{error: {code, message}}` with the catalog's HTTP status. Each request
 * is logged at the `http` level once answered (method, path without its query, status, ms).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from '../auth/access.js';
import { ServiceError, toErrorBody } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { serverPublisher, type Hub } from '../core/hub.js';
import type { Publisher } from '../core/types.js';
import type { Readiness } from './readiness.js';
import type { HttpProtocol } from '../core/dispatch.js';
import type { SseStreams } from './sse.js';
import { parseMessageBody } from '../json/large-body.js';
import { readBody, roomFromPath, sendJson } from './http-io.js';
import { apiRoutes, publisherFor, type ApiDeps } from './api-routes.js';
import { openApiDocument } from './openapi.js';
import { routePattern, type Route } from './route-table.js';
import { metricsRoute, type MetricsRouteDeps } from './metrics-route.js';

export interface HttpDeps {
  core: Hub;
  logger: Logger;
  readiness: Readiness;
  isClosing: () => boolean;
  /** The protocols: which take HTTP messages, and how (POST /publish/:namespace/:room). */
  namespaces: readonly HttpProtocol[];
  /** GET /events/:namespace/:room (lib/http/sse.ts); absent: not served. */
  sse?: SseStreams;
  /** API keys, users' tokens and tickets (lib/auth/access.ts); absent, HTTP publishing is open. */
  access?: Pick<Access, 'checkPublisher' | 'ticketRoute' | 'httpCaller'>;
  /** The server API (api-routes.ts); absent: not served. */
  api?: Pick<ApiDeps, 'disconnect' | 'nodeId'>;
  /** GET /metrics (metrics-route.ts); absent: not served. */
  metrics?: MetricsRouteDeps;
  /** Told the code of every error body it answers (the `notify_errors_total` metric). */
  failed?: (code: string) => void;
  /**
   * Routes of another part under one path prefix (the admin page's, lib/admin/): every answer under
   * the prefix, its refusals and NOT_FOUND / METHOD_NOT_ALLOWED included, gets that part's headers.
   */
  more?: { under: string; routes: readonly Route[]; headers(res: ServerResponse): void };
}

export interface HttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** What it serves: the OpenAPI document (openapi.ts) lists exactly these. */
  readonly routes: readonly Pick<Route, 'path' | 'methods'>[];
}

export function createHttpHandler(deps: HttpDeps): HttpHandler {
  const table = routeTable(deps).map((route) => ({ route, pattern: routePattern(route.path) }));
  const { logger, more } = deps;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (logger.isLevelEnabled('http')) logRequest(logger, req, res);
    if (more && (req.url === more.under || req.url?.startsWith(`${more.under}/`) || req.url?.startsWith(`${more.under}?`))) more.headers(res);
    dispatch(req, res, table).catch((err: unknown) => {
      const body = toErrorBody(err);
      // The path only: a query string may hold a credential.
      const path = (req.url ?? '/').split('?', 1)[0];
      if (body.code === 'INTERNAL_ERROR') logger.error('HTTP route failed', { path, err });
      else if (logger.isDebugEnabled()) logger.debug('HTTP request refused', { path, code: body.code });
      // An answer already under way (a stream) cannot carry an error body.
      if (!res.headersSent) deps.failed?.(body.code);
      sendJson(res, err instanceof ServiceError ? err.status : body.code === 'INTERNAL_ERROR' ? 500 : 400, { error: body });
    });
  };
  return Object.assign(handler, { routes: table.map(({ route }) => ({ path: route.path, methods: route.methods })) });
}

/** One `http`-level line once the request is answered (or its connection closed): never its query string, headers or body. */
function logRequest(logger: Logger, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  res.once('close', () => {
    logger.http('http request', {
      method: req.method,
      path: (req.url ?? '/').split('?', 1)[0],
      status: res.statusCode,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  });
}

async function dispatch(req: IncomingMessage, res: ServerResponse, table: { route: Route; pattern: RegExp }[]): Promise<void> {
  const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
  for (const { route, pattern } of table) {
    const match = pattern.exec(path);
    if (!match) continue;
    if (!route.methods.includes(req.method ?? 'GET')) {
      req.resume();
      throw new ServiceError('METHOD_NOT_ALLOWED');
    }
    await route.handle({ req, res, params: match.slice(1), query: new URLSearchParams(query) });
    return;
  }
  throw new ServiceError('NOT_FOUND');
}

/** Every route this service serves (those of parts it lacks left out). */
function routeTable(deps: HttpDeps): Route[] {
  const plainOk = (res: ServerResponse, head: boolean): void => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(head ? undefined : 'OK');
  };
  const routes: Route[] = [
    { path: '/healthcheck', methods: ['GET', 'HEAD'], handle: async ({ req, res }) => plainOk(res, req.method === 'HEAD') },
    {
      path: '/readyz',
      methods: ['GET', 'HEAD'],
      async handle({ req, res }) {
        if (deps.isClosing()) throw new ServiceError('SHUTTING_DOWN');
        const { ready, reasons, failing } = deps.readiness.state();
        if (!ready) throw new ServiceError('NOT_READY', `not ready: ${reasons.join(', ')}`, { failing });
        plainOk(res, req.method === 'HEAD');
      },
    },
    {
      path: '/bus-message/{room}',
      methods: ['POST'],
      async handle({ req, res, params, query }) {
        deps.access?.checkPublisher(req);
        await publish(req, res, deps, serverPublisher('/bus'), params[0]!, query, true);
      },
    },
    {
      path: '/publish/{namespace}/{room}',
      methods: ['POST'],
      async handle({ req, res, params, query }) {
        const ns = `/${params[0]!}`;
        checkTakesMessages(deps, ns);
        let who: Publisher;
        try {
          who = await publisherFor(req, query, httpCallerOf(deps), ns);
        } catch (err) {
          req.resume(); // drain the body, so the refusal can be read
          throw err;
        }
        await publish(req, res, deps, who, params[1]!, query, false);
      },
    },
    { path: '/openapi.json', methods: ['GET'], handle: async ({ res }) => sendJson(res, 200, openApiDocument) },
  ];
  const { sse, access, api, metrics } = deps;
  if (metrics) routes.push(metricsRoute(metrics));
  if (sse) routes.push({ path: '/events/{namespace}/{room}', methods: ['GET'], handle: ({ req, res, params, query }) => sse.handle(req, res, params[0]!, params[1]!, query) });
  if (access) routes.push({ path: '/ticket', methods: ['POST', 'OPTIONS'], handle: ({ req, res }) => access.ticketRoute(req, res) });
  if (api) routes.push(...apiRoutes({ ...api, ...httpCallerOf(deps), core: deps.core, protocols: deps.namespaces }));
  routes.push(...(deps.more?.routes ?? []));
  return routes;
}

function httpCallerOf(deps: HttpDeps): Pick<ApiDeps, 'caller'> {
  const access = deps.access;
  return access ? { caller: (req, query) => access.httpCaller(req, query) } : {};
}

function checkTakesMessages(deps: HttpDeps, ns: string): void {
  const module = deps.namespaces.find((m) => m.name === ns);
  if (!module?.httpMessage) throw new ServiceError('NOT_FOUND', `no namespace ${ns.slice(0, 64)} that takes HTTP messages`);
}

/**
 * Publishes the body to `:room` of the publisher's namespace through the hub, as the namespace's
 * module says its members get an HTTP message (a user's token needs the publish right: the hub
 * asks); answers the receipt (with `room` for the older /bus-message).
 */
async function publish(req: IncomingMessage, res: ServerResponse, deps: HttpDeps, who: Publisher, encodedRoom: string, query: URLSearchParams, withRoom: boolean): Promise<void> {
  const ns = who.ns;
  const module = deps.namespaces.find((m) => m.name === ns);
  if (!module?.httpMessage) throw new ServiceError('NOT_FOUND', `no namespace ${ns.slice(0, 64)} that takes HTTP messages`);
  if (deps.isClosing()) throw new ServiceError('SHUTTING_DOWN');
  const room = roomFromPath(encodedRoom, deps.core.limits);
  const message = await parseMessageBody(await readBody(req, deps.core.limits.maxPayload), deps.core.limits.maxDepth);
  const store = storeParam(query) || (module.alwaysStored === true && deps.core.storing);
  const { event, args } = module.httpMessage(room, message, store);
  // [history] the offset and recipients, and the durable commit when asked (STORE_FAILED: 500; delivered
  // all the same, unless the namespace stores first: then not delivered when it cannot be stored)
  const { offset, recipients } =
    store && module.storeFirst
      ? await deps.core.publishStored(who, room, {}, event, ...(args as [never]))
      : await deps.core.receipt(deps.core.publish(who, room, event, ...(args as [never])), store, {});
  sendJson(res, 200, withRoom ? { ok: true, room, recipients, offset } : { ok: true, recipients, offset });
}

/** `store=true|1` (or a bare `store`) in the query string asks for durable storage. */
function storeParam(query: URLSearchParams): boolean {
  const value = query.get('store');
  if (value === null || value === 'false' || value === '0') return false;
  if (value === '' || value === 'true' || value === '1') return true;
  throw new ServiceError('INVALID_PAYLOAD', 'store must be true or false');
}
