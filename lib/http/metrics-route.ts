/**
 * GET /metrics: the node's Prometheus metrics in the text format (lib/metrics/metrics.ts), on the
 * main port and, with --metrics-port, on a listener of its own that serves nothing else. With auth
 * on it needs an API key, as the HTTP API takes it, unless --metrics-public.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceError, toErrorBody } from '../core/errors.js';
import type { Route } from './route-table.js';
import { sendJson } from './http-io.js';

export interface MetricsSource {
  scrape(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsRouteDeps {
  metrics: MetricsSource;
  /** Throws UNAUTHORIZED unless the request may read them (lib/auth/access.ts checkMetricsReader); absent: open. */
  check?: (req: IncomingMessage) => void;
}

async function serve(deps: MetricsRouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  deps.check?.(req);
  const text = await deps.metrics.scrape();
  res.writeHead(200, { 'content-type': deps.metrics.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

export function metricsRoute(deps: MetricsRouteDeps): Route {
  return { path: '/metrics', methods: ['GET', 'HEAD'], handle: ({ req, res }) => serve(deps, req, res) };
}

/**
 * The --metrics-port listener: GET /metrics only, anything else 404; failures as the main port
 * answers them (`{error: {code, message}}`), `failed` told of the coded ones (the error metric).
 */
export function createMetricsServer(deps: MetricsRouteDeps, failed: (code: string) => void): Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const answer = async (): Promise<void> => {
      if (path !== '/metrics' && path !== '/metrics/') throw new ServiceError('NOT_FOUND');
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new ServiceError('METHOD_NOT_ALLOWED');
      await serve(deps, req, res);
    };
    answer().catch((err: unknown) => {
      const body = toErrorBody(err);
      failed(body.code);
      if (!res.headersSent) sendJson(res, err instanceof ServiceError ? err.status : 500, { error: body });
    });
  });
}

/** Listens on `port` of `host`; resolves with the address. */
export function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
