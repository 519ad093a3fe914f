/**
 * The admin page's routes, all behind its basic auth (auth.ts); every answer under /admin gets its
 * headers (headers.ts, set by lib/http/routes.ts for the whole prefix):
 *   GET  /admin, /admin/{file}           the page (static.ts), /admin/vendor/{file}: uPlot
 *   GET  /admin/api/overview             nodes, connections, errors, slow consumers, rates (cluster-wide)
 *   GET  /admin/api/rooms                rooms with members, a page (as GET /rooms)
 *   GET  /admin/api/rooms/{namespace}/{room}   a room's members and recent messages
 *   POST /admin/api/users/{user}/disconnect    as POST /users/:user/disconnect (same-origin JSON only)
 * Refusals are the catalog's JSON errors; a 401 asks for credentials (WWW-Authenticate), never redirects.
 */
import { serverPublisher } from '../core/hub.js';
import { disconnectUser, history, presence, protocolOf, rooms, type ApiDeps } from '../http/api-routes.js';
import { pathSegment, roomFromPath, sendJson } from '../http/http-io.js';
import type { Route, RouteRequest } from '../http/route-table.js';
import { aggregate } from './aggregate.js';
import type { AdminAuth } from './auth.js';
import type { ClusterStats } from './cluster-stats.js';
import { checkSameOrigin } from './headers.js';
import { StaticFiles } from './static.js';

export interface AdminDeps {
  auth: AdminAuth;
  stats: ClusterStats;
  /** What the server API reads rooms and disconnects users with (lib/http/api-routes.ts). */
  api: Omit<ApiDeps, 'caller'>;
}

/** Messages of a room shown on the page. */
const RECENT_MESSAGES = '20';

export function adminRoutes(deps: AdminDeps): Route[] {
  const files = new StaticFiles();
  const guarded = (path: string, methods: readonly string[], handle: (request: RouteRequest) => Promise<void> | void): Route => ({
    path,
    methods,
    async handle(request) {
      try {
        deps.auth.check(request.req, request.res);
      } catch (err) {
        request.req.resume();
        throw err;
      }
      await handle(request);
    },
  });
  const api = deps.api;
  return [
    guarded('/admin', ['GET'], ({ req, res }) => files.serveOwn(req, res, 'index.html')),
    guarded('/admin/vendor/{file}', ['GET'], ({ req, res, params }) => files.serveVendor(req, res, pathSegment(params[0]!, 'file'))),
    guarded('/admin/{file}', ['GET'], ({ req, res, params }) => files.serveOwn(req, res, pathSegment(params[0]!, 'file'))),
    guarded('/admin/api/overview', ['GET'], ({ res }) => {
      const view = deps.stats.view();
      sendJson(res, 200, {
        self: view.self,
        redis: view.redis,
        at: Date.now(),
        nodes: view.nodes.map((n) => ({
          node: n.node,
          ready: n.ready,
          reasons: n.reasons,
          lastSeen: n.at,
          startedAt: n.startedAt,
          connections: n.connections.reduce((sum, c) => sum + c[3], 0),
          memory: n.memory,
          lag: n.lag,
        })),
        totals: aggregate(view.nodes),
        rates: deps.stats.rates.series(),
      });
    }),
    guarded('/admin/api/rooms', ['GET'], async ({ res, query }) => sendJson(res, 200, await rooms(api, query))),
    guarded('/admin/api/rooms/{namespace}/{room}', ['GET'], async ({ res, params }) => {
      const protocol = protocolOf(api, params[0]!);
      const room = roomFromPath(params[1]!, api.core.limits);
      const who = serverPublisher(protocol.name);
      const [members, messages] = await Promise.all([presence(api, protocol, who, room), history(api.core, protocol, who, room, new URLSearchParams({ limit: RECENT_MESSAGES }))]);
      sendJson(res, 200, { namespace: params[0]!, room, members, messages });
    }),
    guarded('/admin/api/users/{user}/disconnect', ['POST'], async ({ req, res, params }) => {
      try {
        checkSameOrigin(req);
      } catch (err) {
        req.resume();
        throw err;
      }
      sendJson(res, 200, await disconnectUser(api, req, params[0]!));
    }),
  ];
}
