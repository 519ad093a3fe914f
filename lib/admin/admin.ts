/**
 * The admin page (GET /admin) as one part of the service: its routes, and the figures of every node
 * it shows, gathered every second (cluster-stats.ts) from the start, so the rate chart has minutes of
 * data when the page opens.
 */
import { isLoopbackHost } from '../auth/config.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Config } from '../config/index.js';
import type { Readiness } from '../http/readiness.js';
import type { Route } from '../http/route-table.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { AdminAuth } from './auth.js';
import { ClusterStats } from './cluster-stats.js';
import { setAdminHeaders } from './headers.js';
import { adminRoutes, type AdminDeps } from './routes.js';

export interface AdminOptions {
  config: Config;
  metrics: Metrics;
  nodeId: string;
  readiness: Readiness;
  cluster: Cluster | undefined;
  logger: Logger;
  api: AdminDeps['api'];
}

export interface Admin {
  /** Its routes, all under /admin, and the headers every answer there gets (headers.ts). */
  readonly http: { under: '/admin'; routes: readonly Route[]; headers: typeof setAdminHeaders };
  readonly stats: ClusterStats;
  close(): Promise<void>;
}

export function createAdmin(options: AdminOptions): Admin {
  const { config, logger, cluster } = options;
  const auth = new AdminAuth(config.auth);
  if (auth.open && !isLoopbackHost(config.host)) {
    logger.warn('the admin page /admin is open to anyone who can reach the port (--auth none, no --admin-password, no --api-key)');
  }
  const stats = new ClusterStats({
    registry: options.metrics.registry,
    nodeId: options.nodeId,
    readiness: () => options.readiness.state(),
    logger,
    ...(cluster && config.cluster ? { redis: { connection: cluster.connection, prefix: config.cluster.keyPrefix } } : {}),
  });
  stats.start();
  return { http: { under: '/admin', routes: adminRoutes({ auth, stats, api: options.api }), headers: setAdminHeaders }, stats, close: () => stats.close() };
}
