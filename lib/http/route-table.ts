/**
 * The HTTP routes as a table: each a path template in OpenAPI's form (`/rooms/{namespace}/{room}`)
 * and its methods. routes.ts dispatches on it, and test/openapi.test.ts compares it with the OpenAPI
 * document (openapi.ts), so the document lists exactly what is served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The template's parameters in order, still percent-encoded. */
  params: string[];
  query: URLSearchParams;
}

export interface Route {
  path: string;
  methods: readonly string[];
  handle(request: RouteRequest): Promise<void>;
}

/** A template's regular expression: `{namespace}` a namespace name without its slash, any other parameter one path segment. */
export function routePattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (segment === '{namespace}' ? '([a-z][a-z0-9-]*)' : /^\{\w+\}$/.test(segment) ? '([^/]+)' : segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}
