/**
 * The Grafana dashboard of deploy/grafana/dashboards/notification-service.json, written from here by
 * `npm run dashboard` (never edited by hand: test/monitoring-config.test.ts compares them). Every
 * query reads the metrics of lib/metrics/ (names and labels as docs/PROTOCOL.md lists them) and
 * prom-client's default process metrics, for the replicas the `job` and `instance` variables pick.
 */
import { SCHEMA_VERSION, datasourceVariable, labelVariable, layout, type RowSpec, type StateMapping } from './grafana-panels.js';

export const DASHBOARD_FILE = new URL('../../deploy/grafana/dashboards/notification-service.json', import.meta.url);

/** The replicas the variables select. */
const SEL = 'job="$job", instance=~"$instance"';
const of = (metric: string, extra = ''): string => `${metric}{${SEL}${extra}}`;
const rate = (metric: string, extra = ''): string => `rate(${of(metric, extra)}[$__rate_interval])`;
const quantile = (q: number, histogram: string, by = ''): string =>
  `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ''}le) (${rate(`${histogram}_bucket`)}))`;

const UP_DOWN: StateMapping[] = [
  { value: 1, text: 'up', color: 'green' },
  { value: 0, text: 'down', color: 'red' },
];
const READY: StateMapping[] = [
  { value: 1, text: 'ready', color: 'green' },
  { value: 0, text: 'not ready', color: 'red' },
];

/** The event-loop lag p99 above which the NotifyEventLoopLagHigh alert fires (deploy/prometheus/alerts.yml). */
export const EVENT_LOOP_LAG_ALERT_SECONDS = 0.1;

const ROWS: RowSpec[] = [
  {
    title: 'Overview',
    panels: [
      { kind: 'stat', width: 3, title: 'Replicas up', description: 'Replicas Prometheus scrapes successfully.', queries: [{ expr: 'count(up{job="$job"} == 1) or vector(0)' }] },
      { kind: 'stat', width: 3, title: 'Replicas ready', description: 'Replicas whose /readyz answers 200 (notify_ready).', queries: [{ expr: `sum(${of('notify_ready')})` }] },
      { kind: 'stat', width: 3, title: 'Connections', description: 'Open client connections, all protocols and replicas.', queries: [{ expr: `sum(${of('notify_connections')})` }] },
      { kind: 'stat', width: 3, title: 'Publications', description: 'Messages accepted for publication per second, all sources.', unit: 'cps', queries: [{ expr: `sum(${rate('notify_messages_published_total')})` }] },
      { kind: 'stat', width: 3, title: 'Deliveries', description: 'Messages written to members per second, all replicas.', unit: 'cps', queries: [{ expr: `sum(${rate('notify_deliveries_total')})` }] },
      { kind: 'stat', width: 3, title: 'Publish p99', description: 'From a publication accepted to its last local member written, 99th percentile.', unit: 's', queries: [{ expr: quantile(0.99, 'notify_publish_duration_seconds') }] },
      { kind: 'stat', width: 3, title: 'Errors', description: 'Coded errors sent to clients per second (see Errors by code).', unit: 'cps', queries: [{ expr: `sum(${rate('notify_errors_total')})` }] },
      {
        kind: 'stat', width: 3, title: 'Redis', description: 'Whether every replica reaches Redis (cluster mode; nothing on a single node).',
        states: UP_DOWN, noValue: 'single node', queries: [{ expr: `min(${of('notify_redis_up')})` }],
      },
    ],
  },
  {
    title: 'Connections',
    panels: [
      {
        kind: 'timeseries', width: 12, title: 'Connections by namespace, protocol and transport', description: 'Open connections (notify_connections), summed over the selected replicas.',
        queries: [{ expr: `sum by (namespace, protocol, transport) (${of('notify_connections')})`, legend: '{{namespace}} {{protocol}}/{{transport}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Connections opened', description: 'Connections accepted per second (notify_connections_total): reconnection storms show here.',
        unit: 'cps', queries: [{ expr: `sum by (namespace, protocol) (${rate('notify_connections_total')})`, legend: '{{namespace}} {{protocol}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'Connections per replica', description: 'Open connections of each replica: affinity by client address spreads them unevenly behind NAT.',
        queries: [{ expr: `sum by (instance) (${of('notify_connections')})`, legend: '{{instance}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'Engine.IO revision', description: 'Open socket.io connections by Engine.IO protocol revision (3: socket.io-client 1.x/2.x, 4: 3.x and later).',
        queries: [{ expr: `sum by (eio) (${of('notify_client_protocol_connections')})`, legend: 'EIO {{eio}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'Rooms', description: 'Rooms with members, summed over replicas (a room with members on two replicas counts twice).',
        queries: [{ expr: `sum by (namespace) (${of('notify_rooms')})`, legend: '{{namespace}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'Room memberships', description: 'Sum of room members over rooms and replicas.',
        queries: [{ expr: `sum by (namespace) (${of('notify_room_members')})`, legend: '{{namespace}}' }], min: 0,
      },
    ],
  },
  {
    title: 'Messages',
    panels: [
      {
        kind: 'timeseries', width: 12, title: 'Publications by namespace and source', description: 'Messages accepted for publication per second (socket, http, sock, chat).',
        unit: 'cps', queries: [{ expr: `sum by (namespace, source) (${rate('notify_messages_published_total')})`, legend: '{{namespace}} {{source}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Deliveries by namespace and protocol', description: 'Messages written to members per second: publications times their audience.',
        unit: 'cps', queries: [{ expr: `sum by (namespace, protocol) (${rate('notify_deliveries_total')})`, legend: '{{namespace}} {{protocol}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Publish latency p50 / p99', description: 'From a publication accepted to its last local member written (notify_publish_duration_seconds), all namespaces.',
        unit: 's', queries: [
          { expr: quantile(0.5, 'notify_publish_duration_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'notify_publish_duration_seconds'), legend: 'p99' },
        ], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Publish latency p99 by namespace', description: 'The same, per namespace.',
        unit: 's', queries: [{ expr: quantile(0.99, 'notify_publish_duration_seconds', 'namespace'), legend: '{{namespace}}' }], min: 0,
      },
    ],
  },
  {
    title: 'Errors and refusals',
    panels: [
      {
        kind: 'timeseries', width: 12, title: 'Errors by code', description: 'Coded errors sent to clients per second (the catalog of docs/PROTOCOL.md). INTERNAL_ERROR and STORE_FAILED are the service\'s own failures.',
        unit: 'cps', queries: [{ expr: `sum by (code) (${rate('notify_errors_total')})`, legend: '{{code}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Authentication failures', description: 'Refused authentications per second, by reason.',
        unit: 'cps', queries: [{ expr: `sum by (reason) (${rate('notify_auth_failures_total')})`, legend: '{{reason}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Rate limited', description: 'Requests refused by a rate limit per second, by limit.',
        unit: 'cps', queries: [{ expr: `sum by (limit) (${rate('notify_rate_limited_total')})`, legend: '{{limit}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Slow consumer disconnects', description: 'Connections closed per second for not reading their messages (send buffer above --max-send-buffer).',
        unit: 'cps', queries: [{ expr: `sum by (instance) (${rate('notify_slow_consumer_disconnects_total')})`, legend: '{{instance}}' }], min: 0,
      },
    ],
  },
  {
    title: 'Process',
    panels: [
      {
        kind: 'timeseries', width: 8, title: 'Memory', description: 'Resident set size and V8 heap of each replica.',
        unit: 'bytes', queries: [
          { expr: of('process_resident_memory_bytes'), legend: '{{instance}} RSS' },
          { expr: of('nodejs_heap_size_used_bytes'), legend: '{{instance}} heap used' },
          { expr: of('nodejs_heap_size_total_bytes'), legend: '{{instance}} heap total' },
        ], min: 0,
      },
      {
        kind: 'timeseries', width: 8, title: 'Event-loop lag p99', description: 'How late timers run on each replica: every message waits this long. The red line is the alert threshold.',
        unit: 's', threshold: EVENT_LOOP_LAG_ALERT_SECONDS, queries: [{ expr: of('nodejs_eventloop_lag_p99_seconds'), legend: '{{instance}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 8, title: 'CPU', description: 'CPU time per second of each replica (1 = one core busy; Node runs JavaScript on one).',
        unit: 'percentunit', queries: [{ expr: rate('process_cpu_seconds_total'), legend: '{{instance}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Garbage collection', description: 'Share of time spent in GC pauses, by replica and kind.',
        unit: 'percentunit', queries: [{ expr: `sum by (instance, kind) (${rate('nodejs_gc_duration_seconds_sum')})`, legend: '{{instance}} {{kind}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Open file descriptors', description: 'Each connection holds one; next to the process limit (ulimit -n).',
        queries: [
          { expr: of('process_open_fds'), legend: '{{instance}} open' },
          { expr: of('process_max_fds'), legend: '{{instance}} limit' },
        ], min: 0,
      },
    ],
  },
  {
    title: 'Cluster',
    panels: [
      {
        kind: 'state-timeline', width: 12, title: 'Redis reachable', description: 'notify_redis_up of each replica (cluster mode). All down: Redis itself is down.',
        states: UP_DOWN, noValue: 'single node', queries: [{ expr: of('notify_redis_up'), legend: '{{instance}}' }],
      },
      {
        kind: 'state-timeline', width: 12, title: 'Readiness', description: 'notify_ready of each replica: what GET /readyz answers (not ready while Redis is unreachable or while closing).',
        states: READY, queries: [{ expr: of('notify_ready'), legend: '{{instance}}' }],
      },
      {
        kind: 'timeseries', width: 12, title: 'Cluster nodes seen', description: 'Nodes each replica sees in the cluster, next to the replicas Prometheus scrapes: a replica seeing fewer is cut off.',
        queries: [
          { expr: of('notify_cluster_nodes'), legend: '{{instance}}' },
          { expr: 'count(up{job="$job"} == 1)', legend: 'replicas scraped' },
        ], min: 0,
      },
      {
        kind: 'timeseries', width: 12, title: 'Session recoveries', description: 'Connection-state recoveries per second, by result.',
        unit: 'cps', seriesColors: { failed: 'red', recovered: 'green' }, queries: [{ expr: `sum by (result) (${rate('notify_recoveries_total')})`, legend: '{{result}}' }], min: 0,
      },
    ],
  },
  {
    title: 'History and message store',
    panels: [
      {
        kind: 'timeseries', width: 6, title: 'History bytes', description: 'Bytes of recent room history held in memory by a single node (in cluster mode the history is in Redis).',
        unit: 'bytes', noValue: 'in Redis (cluster mode)', queries: [{ expr: of('notify_history_bytes'), legend: '{{instance}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'History messages', description: 'Messages of recent room history held in memory by a single node (in cluster mode the history is in Redis).',
        noValue: 'in Redis (cluster mode)',
        queries: [{ expr: of('notify_history_messages'), legend: '{{instance}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'Store writes', description: 'Messages written to the message store per second (publications with store: true), by result.',
        unit: 'cps', seriesColors: { failed: 'red', ok: 'green' }, queries: [{ expr: `sum by (result) (${rate('notify_store_writes_total')})`, legend: '{{result}}' }], min: 0,
      },
      {
        kind: 'timeseries', width: 6, title: 'Store write latency p50 / p99', description: 'notify_store_write_duration_seconds over the selected replicas.',
        unit: 's', queries: [
          { expr: quantile(0.5, 'notify_store_write_duration_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'notify_store_write_duration_seconds'), legend: 'p99' },
        ], min: 0,
      },
    ],
  },
];

/** The dashboard, as Grafana's JSON model. */
export function dashboard(): Record<string, unknown> {
  return {
    annotations: {
      list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }],
    },
    description: 'Notification service: connections, messages, errors, process and cluster state (metrics of GET /metrics).',
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [],
    panels: layout(ROWS),
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    tags: ['notification-service', 'socket.io'],
    templating: {
      list: [
        datasourceVariable(),
        labelVariable('job', 'Job', 'label_values(notify_ready, job)', false),
        labelVariable('instance', 'Replica', 'label_values(notify_ready{job="$job"}, instance)', true),
      ],
    },
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    title: 'Notification service',
    uid: 'notification-service',
    version: 1,
  };
}

/** The file's text: two-space JSON and a final newline, as Grafana's own export writes. */
export function dashboardText(): string {
  return `${JSON.stringify(dashboard(), null, 2)}\n`;
}
