/**
 * The service's Prometheus metrics (prom-client), one registry per service (tests run many services
 * in one process). Names and labels are a contract that dashboards (deploy/grafana) and alerts
 * (deploy/prometheus/alerts.yml) rely on: docs/PROTOCOL.md lists them. No label ever carries a room,
 * a user or a message: label values are bounded sets (namespaces, protocols, error codes).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  // Connections: gauges are read from the live state at scrape time (see lib/metrics/ sources).
  readonly connections = new Gauge({ name: 'notify_connections', help: 'Open client connections', labelNames: ['namespace', 'protocol', 'transport'] as const, registers: [this.registry] });
  readonly connectionsTotal = new Counter({ name: 'notify_connections_total', help: 'Client connections accepted', labelNames: ['namespace', 'protocol'] as const, registers: [this.registry] });
  readonly clientProtocolConnections = new Gauge({ name: 'notify_client_protocol_connections', help: 'Open Engine.IO connections by protocol revision', labelNames: ['eio'] as const, registers: [this.registry] });

  readonly rooms = new Gauge({ name: 'notify_rooms', help: 'Rooms with members on this node', labelNames: ['namespace'] as const, registers: [this.registry] });
  readonly roomMembers = new Gauge({ name: 'notify_room_members', help: 'Room memberships on this node (sum over rooms)', labelNames: ['namespace'] as const, registers: [this.registry] });

  readonly messagesPublished = new Counter({ name: 'notify_messages_published_total', help: 'Messages accepted for publication', labelNames: ['namespace', 'source'] as const, registers: [this.registry] });
  readonly deliveries = new Counter({ name: 'notify_deliveries_total', help: 'Messages written to members on this node', labelNames: ['namespace', 'protocol'] as const, registers: [this.registry] });
  readonly publishDuration = new Histogram({
    name: 'notify_publish_duration_seconds',
    help: 'From a publication accepted to its last local member written',
    labelNames: ['namespace'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly errors = new Counter({ name: 'notify_errors_total', help: 'Coded errors sent to clients', labelNames: ['code'] as const, registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'notify_auth_failures_total', help: 'Refused authentications', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly rateLimited = new Counter({ name: 'notify_rate_limited_total', help: 'Requests refused by a rate limit', labelNames: ['limit'] as const, registers: [this.registry] });
  readonly slowConsumerDisconnects = new Counter({ name: 'notify_slow_consumer_disconnects_total', help: 'Connections closed for not reading their messages', registers: [this.registry] });

  readonly historyBytes = new Gauge({ name: 'notify_history_bytes', help: 'Bytes of room history held in memory on this node', registers: [this.registry] });
  readonly historyMessages = new Gauge({ name: 'notify_history_messages', help: 'Messages of room history held in memory on this node', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
