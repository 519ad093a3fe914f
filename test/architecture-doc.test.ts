/**
 * docs/ARCHITECTURE.md stays true where it can be checked: every HTTP route it lists is served (not
 * NOT_FOUND) by a service with auth on (POST /ticket only exists then), every file or folder it names
 * exists, and every top-level folder of lib/ is in its table of parts.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { namespaces, wsModules } from '../namespaces/index.js';
import { secretAuth } from './helpers/auth.js';
import { serviceForSuite } from './helpers/service.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(`${root}docs/ARCHITECTURE.md`, 'utf8');

/** `GET /x`, `POST /x/:room/y` or a bare `/x` in backticks (read as GET), socket.io namespaces and WebSocket paths aside. */
function documentedRoutes(): { method: string; path: string }[] {
  const routes = new Map<string, { method: string; path: string }>();
  const nsps = new Set([...namespaces.map((m) => m.name), ...wsModules.map((m) => m.path)]);
  for (const [, method, path] of doc.matchAll(/`(?:(GET|POST) )?(\/[a-z][a-z.-]*(?:\/(?::[a-z]+|[a-z][a-z-]*))*)`/g)) {
    if (method === undefined && nsps.has(path!)) continue;
    // A namespace parameter names one that takes HTTP messages; any other is a room.
    const route = { method: method ?? 'GET', path: path!.replace(/:namespace/g, 'layout').replace(/:[a-z]+/g, 'some-room') };
    routes.set(`${route.method} ${route.path}`, route);
  }
  return [...routes.values()];
}

describe('docs/ARCHITECTURE.md', () => {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: ['k'] }) });

  it('lists only routes the service serves', async () => {
    const routes = documentedRoutes();
    expect(routes.map((r) => `${r.method} ${r.path}`)).to.include.members([
      'GET /healthcheck',
      'GET /readyz',
      'POST /bus-message/some-room',
      'POST /publish/layout/some-room',
      'POST /ticket',
      'GET /openapi.json',
      'GET /metrics',
      'GET /rooms/layout/some-room/history',
      'GET /rooms/layout/some-room/messages',
      'GET /rooms/layout/some-room/presence',
      'GET /rooms',
      'POST /users/some-room/disconnect',
    ]);
    for (const { method, path } of routes) {
      const res = await fetch(svc.url + path, { method, body: method === 'POST' ? '{}' : undefined });
      // A stream (Server-Sent Events) is served once it starts: its body never ends by itself.
      if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
        await res.body?.cancel();
        continue;
      }
      const body = await res.text();
      expect(body.includes('"NOT_FOUND"') || res.status === 404, `${method} ${path}: ${res.status} ${body}`).to.equal(false);
    }
  });

  it('names only files and folders that exist, and every folder of lib/', () => {
    const named = [...doc.matchAll(/`((?:lib|namespaces|test|bench|docs)\/[\w./-]*)`/g)].map((m) => m[1]!);
    expect(named.length).to.be.greaterThan(10);
    for (const path of named) expect(existsSync(`${root}${path.replace(/\*.*$/, '')}`), path).to.equal(true);
    const folders = readdirSync(`${root}lib`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `lib/${d.name}/`);
    for (const folder of folders) expect(doc, folder).to.include(`\`${folder}`);
  });
});
