/**
 * One node's figures for the admin page: its registry's notify_* metrics (lib/metrics/metrics.ts)
 * reduced to what the page shows, a few process figures and its readiness. Compact, so every node
 * can write its own to Redis every second (cluster-stats.ts). Only bounded label sets appear
 * (namespaces, protocols, transports, error codes): never a room or a user.
 */
import type { Registry } from 'prom-client';
import type { ReadinessState } from '../http/readiness.js';

export interface NodeSnapshot {
  node: string;
  /** When it was taken (ms since the epoch). */
  at: number;
  startedAt: number;
  ready: boolean;
  reasons: string[];
  /** [namespace, protocol, transport, open connections] */
  connections: [string, string, string, number][];
  /** Open Engine.IO connections by protocol revision ('3', '4'). */
  eio: Record<string, number>;
  rooms: Record<string, number>;
  members: Record<string, number>;
  /** Counters since this node started. */
  published: number;
  deliveries: number;
  errors: Record<string, number>;
  slowConsumerDisconnects: number;
  authFailures: number;
  rateLimited: number;
  /** Resident memory, bytes; event-loop lag, seconds. */
  memory: number;
  lag: number;
}

interface Values {
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

async function valuesOf(registry: Registry, name: string): Promise<Values['values']> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return ((await metric.get()) as Values).values;
}

const sum = (values: Values['values']): number => values.reduce((n, v) => n + v.value, 0);

/** Sums by one label's value; zeros left out. */
function byLabel(values: Values['values'], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    if (v.value === 0) continue;
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

export async function takeSnapshot(registry: Registry, node: string, startedAt: number, readiness: ReadinessState): Promise<NodeSnapshot> {
  const [connections, eio, rooms, members, published, deliveries, errors, slow, authFailures, rateLimited, memory, lag] = await Promise.all(
    [
      'notify_connections',
      'notify_client_protocol_connections',
      'notify_rooms',
      'notify_room_members',
      'notify_messages_published_total',
      'notify_deliveries_total',
      'notify_errors_total',
      'notify_slow_consumer_disconnects_total',
      'notify_auth_failures_total',
      'notify_rate_limited_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ].map((name) => valuesOf(registry, name)),
  );
  return {
    node,
    at: Date.now(),
    startedAt,
    ready: readiness.ready,
    reasons: readiness.reasons,
    connections: connections!.filter((v) => v.value > 0).map((v) => [String(v.labels.namespace), String(v.labels.protocol), String(v.labels.transport), v.value]),
    eio: byLabel(eio!, 'eio'),
    rooms: byLabel(rooms!, 'namespace'),
    members: byLabel(members!, 'namespace'),
    published: sum(published!),
    deliveries: sum(deliveries!),
    errors: byLabel(errors!, 'code'),
    slowConsumerDisconnects: sum(slow!),
    authFailures: sum(authFailures!),
    rateLimited: sum(rateLimited!),
    memory: sum(memory!),
    lag: sum(lag!),
  };
}
