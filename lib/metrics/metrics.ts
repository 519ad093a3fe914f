/**
 * The service's Prometheus metrics (prom-client), one registry per service (tests run many services
 * in one process). Names and labels are a contract that dashboards (deploy/grafana) and alerts
 * (deploy/prometheus/alerts.yml) rely on: docs/METRICS.md lists them. No label ever carries a room,
 * a user or a message: label values are bounded sets (namespaces, protocols, error codes).
 *
 * What it costs, by kind:
 * - gauges are read from the live state when scraped (`collect`): nothing per message;
 * - the message path's counters are plain numbers per namespace (NamespaceRecorder,
 *   lib/metrics/recorder.ts), turned into prom-client values when scraped; connections accepted
 *   likewise; its duration goes into the namespace's series of a histogram of plain numbers
 *   (lib/metrics/bucket-histogram.ts), made once;
 * - the rest (errors, refusals, store writes, recoveries) count rare events directly.
 *
 * Off (`--metrics false`): nothing is recorded (`enabled` false: the hub gets no recorder) and the
 * service serves no /metrics; the registry exists, empty of values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NamespaceRecorder, PROTOCOLS, PUBLISH_BUCKETS, SOURCES } from './recorder.js';
import { BucketHistogram } from './bucket-histogram.js';
import type { LiveState } from './live-state.js';
import type { AuthFailureReason } from '../auth/failure-reasons.js';

export type { PublishSource } from './recorder.js';
export { NamespaceRecorder } from './recorder.js';

/** Which limit refused a request: a bounded set (docs/METRICS.md). */
export type RateLimit = 'events' | 'bytes' | 'connections' | 'control';
export type RecoveryResult = 'recovered' | 'failed';

/** prom-client's event-loop delay sampling interval (its default is 10 ms: see the constructor). */
const EVENT_LOOP_SAMPLE_MS = 50;
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the cluster metrics read when scraped. */
export interface ClusterState {
  redisUp(): boolean;
  /** Nodes with a live heartbeat, this one included, as last seen by this node's presence sweep. */
  nodes(): number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly recorders = new Map<string, NamespaceRecorder>();
  /** Connections accepted per namespace and protocol: plain numbers, exported at scrape (a connect burst pays no label hashing). */
  private readonly accepted = new Map<string, Partial<Record<'socketio' | 'sock' | 'sse', number>>>();
  private live: LiveState | undefined;
  /** roomCounts()' walk, for the rest of one collection. */
  private roomWalk: ReturnType<LiveState['rooms']> | undefined;
  private storeWrites: Counter<'result'> | undefined;
  private storeDuration: Histogram | undefined;
  private recoveries: Counter<'result'> | undefined;

  readonly connections: Gauge<'namespace' | 'protocol' | 'transport'>;
  readonly connectionsTotal: Counter<'namespace' | 'protocol'>;
  readonly clientProtocolConnections: Gauge<'eio'>;
  readonly rooms: Gauge<'namespace'>;
  readonly roomMembers: Gauge<'namespace'>;
  readonly messagesPublished: Counter<'namespace' | 'source'>;
  readonly deliveries: Counter<'namespace' | 'protocol'>;
  readonly publishDuration: BucketHistogram;
  readonly errors: Counter<'code'>;
  readonly authFailures: Counter<'reason'>;
  readonly rateLimited: Counter<'limit'>;
  readonly slowConsumerDisconnects: Counter;
  readonly ready: Gauge;

  constructor(readonly enabled = true) {
    const registers = [this.registry];
    const metrics = this;
    this.connections = new Gauge({
      name: 'notify_connections',
      help: 'Open client connections',
      labelNames: ['namespace', 'protocol', 'transport'] as const,
      registers,
      collect() {
        this.reset();
        for (const c of metrics.live?.connections() ?? []) this.inc({ namespace: c.namespace, protocol: c.protocol, transport: c.transport }, c.count);
      },
    });
    this.connectionsTotal = new Counter({
      name: 'notify_connections_total',
      help: 'Client connections accepted',
      labelNames: ['namespace', 'protocol'] as const,
      registers,
      collect() {
        this.reset();
        for (const [ns, byProtocol] of metrics.accepted) for (const [protocol, n] of Object.entries(byProtocol)) this.inc({ namespace: ns, protocol }, n);
      },
    });
    this.clientProtocolConnections = new Gauge({
      name: 'notify_client_protocol_connections',
      help: 'Open Engine.IO connections by protocol revision',
      labelNames: ['eio'] as const,
      registers,
      collect() {
        const eio = metrics.live?.engineIo();
        if (!eio) return;
        this.set({ eio: '3' }, eio.v3);
        this.set({ eio: '4' }, eio.v4);
      },
    });
    this.rooms = new Gauge({
      name: 'notify_rooms',
      help: 'Rooms with members on this node',
      labelNames: ['namespace'] as const,
      registers,
      collect() {
        this.reset();
        for (const r of metrics.roomCounts()) this.set({ namespace: r.namespace }, r.rooms);
      },
    });
    this.roomMembers = new Gauge({
      name: 'notify_room_members',
      help: 'Room memberships on this node (sum over rooms)',
      labelNames: ['namespace'] as const,
      registers,
      collect() {
        this.reset();
        for (const r of metrics.roomCounts()) this.set({ namespace: r.namespace }, r.members);
      },
    });
    this.messagesPublished = new Counter({
      name: 'notify_messages_published_total',
      help: 'Messages accepted for publication on this node',
      labelNames: ['namespace', 'source'] as const,
      registers,
      collect() {
        this.reset();
        for (const [ns, r] of metrics.recorders) for (const source of SOURCES) this.inc({ namespace: ns, source }, r.published[source]);
      },
    });
    this.deliveries = new Counter({
      name: 'notify_deliveries_total',
      help: 'Messages written to members on this node',
      labelNames: ['namespace', 'protocol'] as const,
      registers,
      collect() {
        this.reset();
        for (const [ns, r] of metrics.recorders) for (const protocol of PROTOCOLS) this.inc({ namespace: ns, protocol }, r.delivered[protocol]);
      },
    });
    this.publishDuration = new BucketHistogram({
      name: 'notify_publish_duration_seconds',
      help: 'From a publication accepted to its last local member written (docs/METRICS.md)',
      labelName: 'namespace',
      buckets: PUBLISH_BUCKETS,
      registry: this.registry,
    });
    this.errors = new Counter({ name: 'notify_errors_total', help: 'Coded errors sent to clients', labelNames: ['code'] as const, registers });
    this.authFailures = new Counter({ name: 'notify_auth_failures_total', help: 'Refused authentications', labelNames: ['reason'] as const, registers });
    this.rateLimited = new Counter({ name: 'notify_rate_limited_total', help: 'Requests refused by a rate limit', labelNames: ['limit'] as const, registers });
    this.slowConsumerDisconnects = new Counter({ name: 'notify_slow_consumer_disconnects_total', help: 'Connections closed for not reading their messages', registers });
    this.ready = new Gauge({
      name: 'notify_ready',
      help: 'Whether this node is ready (GET /readyz): 1 ready, 0 not',
      registers,
      collect() {
        const live = metrics.live;
        if (live) this.set(live.ready() ? 1 : 0);
      },
    });
    // The event-loop delay is sampled every 50 ms, not prom-client's 10 ms: each sample wakes an
    // idle loop (measured: +8 ms of CPU per second at 10 ms, +1.5 ms at 50 ms), which showed as +5 %
    // server CPU in the 20 msg/s fan-out bench. Stalls that matter (the alert's 100 ms) are still seen.
    if (enabled) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /**
   * The rooms and memberships per namespace, walked once per collection: notify_rooms and
   * notify_room_members (and the admin page's snapshot of both) read the same walk, kept until the
   * collection's turn of the event loop ends.
   */
  private roomCounts(): ReturnType<LiveState['rooms']> {
    if (!this.roomWalk) {
      this.roomWalk = this.live?.rooms() ?? [];
      setImmediate(() => (this.roomWalk = undefined));
    }
    return this.roomWalk;
  }

  /** The live state the gauges read when scraped (lib/metrics/live-state.ts). */
  watch(live: LiveState): void {
    this.live = live;
    if (live.history) this.addHistory(live.history);
  }

  private addHistory(history: () => { bytes: number; messages: number }): void {
    const registers = [this.registry];
    new Gauge({ name: 'notify_history_bytes', help: 'Bytes of room history held in memory on this node', registers, collect() { this.set(history().bytes); } });
    new Gauge({ name: 'notify_history_messages', help: 'Messages of room history held in memory on this node', registers, collect() { this.set(history().messages); } });
  }

  /** The message path's recorder of namespace `ns` (made once; the hub keeps it). */
  namespace(ns: string): NamespaceRecorder {
    let recorder = this.recorders.get(ns);
    if (!recorder) {
      recorder = new NamespaceRecorder(this.publishDuration.labels(ns));
      this.recorders.set(ns, recorder);
    }
    return recorder;
  }

  connected(namespace: string, protocol: 'socketio' | 'sock' | 'sse'): void {
    if (!this.enabled) return;
    let byProtocol = this.accepted.get(namespace);
    if (!byProtocol) this.accepted.set(namespace, (byProtocol = {}));
    byProtocol[protocol] = (byProtocol[protocol] ?? 0) + 1;
  }

  error(code: string): void {
    if (this.enabled) this.errors.inc({ code });
  }

  authFailure(reason: AuthFailureReason): void {
    if (this.enabled) this.authFailures.inc({ reason });
  }

  limited(limit: RateLimit): void {
    if (this.enabled) this.rateLimited.inc({ limit });
  }

  slowConsumer(): void {
    if (this.enabled) this.slowConsumerDisconnects.inc();
  }

  /** Cluster mode: `notify_redis_up`, `notify_cluster_nodes`. */
  addCluster(state: ClusterState): void {
    const registers = [this.registry];
    new Gauge({ name: 'notify_redis_up', help: 'Whether this node reaches Redis: 1 up, 0 down', registers, collect() { this.set(state.redisUp() ? 1 : 0); } });
    new Gauge({ name: 'notify_cluster_nodes', help: 'Nodes of the cluster with a live heartbeat, as this node last saw them', registers, collect() { this.set(state.nodes()); } });
  }

  /** A message store in use: `notify_store_writes_total`, `notify_store_write_duration_seconds`. */
  addStore(): void {
    const registers = [this.registry];
    this.storeWrites = new Counter({ name: 'notify_store_writes_total', help: 'Writes to the message store', labelNames: ['result'] as const, registers });
    this.storeDuration = new Histogram({ name: 'notify_store_write_duration_seconds', help: 'Duration of writes to the message store', buckets: STORE_BUCKETS, registers });
    this.storeWrites.inc({ result: 'ok' }, 0);
    this.storeWrites.inc({ result: 'failed' }, 0);
  }

  storeWrite(ok: boolean, seconds: number): void {
    if (!this.enabled || !this.storeWrites) return;
    this.storeWrites.inc({ result: ok ? 'ok' : 'failed' });
    this.storeDuration!.observe(seconds);
  }

  /** Connection-state recovery on (or cluster mode): `notify_recoveries_total`. */
  addRecoveries(): void {
    this.recoveries = new Counter({ name: 'notify_recoveries_total', help: 'Connection-state recovery attempts', labelNames: ['result'] as const, registers: [this.registry] });
    this.recoveries.inc({ result: 'recovered' }, 0);
    this.recoveries.inc({ result: 'failed' }, 0);
  }

  recovery(result: RecoveryResult): void {
    if (this.enabled) this.recoveries?.inc({ result });
  }

  /** The exposition: Prometheus text format (`contentType` for its header). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
