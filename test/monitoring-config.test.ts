/**
 * The monitoring files of deploy/ hold together and read what the service really exposes: the
 * Grafana dashboard (as `npm run dashboard` writes it, provisioned by the compose file), the
 * Prometheus scrape configuration and alerts (checked and unit-tested by promtool where it is
 * installed), and every metric name their expressions use, scraped from real services in single
 * mode, in cluster mode and with a message store, with auth on as Prometheus scrapes them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';
import { dashboardText } from '../scripts/grafana-dashboard.js';
import { secretAuth } from './helpers/auth.js';
import { startInMode } from './helpers/cluster.js';
import { tempDir } from './helpers/process.js';
import { exposedNames, metricNames } from './helpers/promql.js';
import { promtool, requirePromtoolOrSkip } from './helpers/promtool.js';
import { requireRedisOrSkip } from './helpers/redis.js';
import type { Running } from './helpers/service.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const read = (path: string): string => readFileSync(join(DEPLOY, path), 'utf8');
const yamlOf = <T>(path: string): T => parse(read(path)) as T;

interface Target { expr: string; refId: string; datasource?: { uid?: string } }
interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { type?: string; uid?: string }; targets?: Target[] }
interface Variable { name: string; type: string; query: string | { query: string }; datasource?: { uid?: string } }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }
interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface ScrapeConfig { job_name: string; metrics_path?: string; dns_sd_configs?: { names: string[]; type: string; port: number }[]; authorization?: { type?: string; credentials_file?: string } }
interface PrometheusConfig { global: { scrape_interval: string }; rule_files: string[]; scrape_configs: ScrapeConfig[] }
interface ComposeService { image?: string; profiles?: string[]; environment?: Record<string, string>; volumes?: string[]; secrets?: string[]; ports?: string[]; command?: string[] }
interface Compose { services: Record<string, ComposeService>; secrets?: Record<string, { file: string }>; volumes?: Record<string, unknown> }

const dashboard = JSON.parse(read('grafana/dashboards/notification-service.json')) as Dashboard;
const dataPanels = dashboard.panels.filter((p) => p.type !== 'row');
const variableQuery = (v: Variable): string => (typeof v.query === 'string' ? v.query : v.query.query);
/** Every PromQL expression of the dashboard: its panels' and its query variables'. */
const dashboardExprs = [
  ...dataPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
  ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, expr: variableQuery(v) })),
];
const alerts = yamlOf<RuleFile>('prometheus/alerts.yml');
const rules = alerts.groups.flatMap((g) => g.rules);
const alertExprs = rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));
const prometheus = yamlOf<PrometheusConfig>('prometheus/prometheus.yml');
const compose = yamlOf<Compose>('docker-compose.yml');
/** Names Prometheus itself gives every target, not the service. */
const SYNTHETIC = new Set(['up']);

/** A compose `host:container[:ro]` volume as its two paths. */
const mount = (volume: string): { from: string; to: string } => {
  const [from, to] = volume.split(':');
  return { from: from!, to: to! };
};

describe('monitoring: the Grafana dashboard', () => {
  it('is exactly what npm run dashboard writes from scripts/grafana-dashboard.ts', () => {
    expect(read('grafana/dashboards/notification-service.json') === dashboardText(), 'deploy/grafana/dashboards/notification-service.json differs: run `npm run dashboard`').to.equal(true);
  });

  it('is a current Grafana dashboard whose queries go to the ${datasource} variable, with job and instance variables', () => {
    expect(dashboard.schemaVersion).to.be.at.least(41);
    expect(dashboard.uid).to.match(/^[\w-]{1,40}$/);
    const vars = dashboard.templating.list;
    expect(vars.map((v) => v.name)).to.deep.equal(['datasource', 'job', 'instance']);
    expect(vars[0]).to.include({ type: 'datasource', query: 'prometheus' });
    for (const v of vars.slice(1)) expect(v.datasource?.uid, v.name).to.equal('${datasource}');
    for (const p of dataPanels) {
      expect(p.datasource, p.title).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets ?? [], p.title).to.not.be.empty;
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).to.equal('${datasource}');
      expect(new Set(p.targets!.map((t) => t.refId)).size, `${p.title}: refIds`).to.equal(p.targets!.length);
    }
    // Every panel but those on `up` (which has no instance of its own) reads the selected replicas only.
    for (const { where, expr } of dashboardExprs.filter((e) => e.where.startsWith('panel') && !/^count\(up/.test(e.expr))) {
      expect(expr, where).to.include('instance=~"$instance"');
    }
  });

  it('lays its panels out on the 24-column grid without overlaps, with unique ids', () => {
    expect(new Set(dashboard.panels.map((p) => p.id)).size).to.equal(dashboard.panels.length);
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).to.be.at.most(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const key = `${i},${j}`;
          expect(cells.has(key), `${p.title} overlaps ${cells.get(key)}`).to.equal(false);
          cells.set(key, p.title);
        }
      }
    }
  });

  it('shows connections, publish and delivery rates, publish latency p50/p99, errors by code, memory, event-loop lag, CPU, GC and Redis state', () => {
    const all = dashboardExprs.map((e) => e.expr).join('\n');
    for (const needed of [
      'sum by (namespace, protocol, transport) (notify_connections{',
      'rate(notify_connections_total{',
      'sum by (namespace, source) (rate(notify_messages_published_total{',
      'sum by (namespace, protocol) (rate(notify_deliveries_total{',
      'histogram_quantile(0.5, sum by (le) (rate(notify_publish_duration_seconds_bucket{',
      'histogram_quantile(0.99, sum by (le) (rate(notify_publish_duration_seconds_bucket{',
      'sum by (code) (rate(notify_errors_total{',
      'process_resident_memory_bytes{',
      'nodejs_heap_size_used_bytes{',
      'nodejs_eventloop_lag_p99_seconds{',
      'rate(process_cpu_seconds_total{',
      'nodejs_gc_duration_seconds_sum{',
      'notify_redis_up{',
      'notify_cluster_nodes{',
      'notify_ready{',
      'histogram_quantile(0.99, sum by (le) (rate(notify_store_write_duration_seconds_bucket{',
    ]) {
      expect(all, needed).to.include(needed);
    }
  });
});

describe('monitoring: the Prometheus alerts', () => {
  it('are groups of rules, each with alert, expr, for, a severity and a summary and description', () => {
    expect(alerts.groups).to.not.be.empty;
    const names = new Set<string>();
    for (const rule of rules) {
      expect(rule.alert, JSON.stringify(rule)).to.match(/^Notify[A-Z]\w+$/);
      expect(names.has(rule.alert!), `${rule.alert} twice`).to.equal(false);
      names.add(rule.alert!);
      expect(rule.expr, rule.alert).to.be.a('string').and.not.empty;
      expect(rule.for, rule.alert).to.match(/^\d+[smh]$/);
      expect(rule.labels?.severity, rule.alert).to.be.oneOf(['warning', 'critical']);
      expect(rule.annotations?.summary, rule.alert).to.be.a('string').and.not.empty;
      expect(rule.annotations?.description, rule.alert).to.be.a('string').and.not.empty;
    }
  });

  it('cover Redis down, the error rate, event-loop lag, readiness and replicas down, each explained in deploy/README.md', () => {
    const byExpr = (metric: string): string[] => rules.filter((r) => metricNames(r.expr).includes(metric)).map((r) => r.alert!);
    expect(byExpr('notify_redis_up')).to.not.be.empty;
    expect(byExpr('notify_errors_total')).to.not.be.empty;
    expect(byExpr('nodejs_eventloop_lag_p99_seconds')).to.not.be.empty;
    expect(byExpr('notify_ready')).to.not.be.empty;
    expect(rules.some((r) => /^up\{[^}]*\} == 0$/.test(r.expr))).to.equal(true);
    const readme = read('README.md');
    for (const rule of rules) expect(readme, `deploy/README.md says nothing of ${rule.alert}`).to.include(`\`${rule.alert}\``);
  });

  it('pass promtool check rules and the unit tests of alerts.test.yml', function () {
    requirePromtoolOrSkip(this);
    promtool(['check', 'rules', 'alerts.yml'], join(DEPLOY, 'prometheus'));
    const tested = promtool(['test', 'rules', 'alerts.test.yml'], join(DEPLOY, 'prometheus'));
    expect(tested).to.include('SUCCESS');
    // Every alert has a case of its own.
    const cases = read('prometheus/alerts.test.yml');
    for (const rule of rules) expect(cases, `alerts.test.yml tests nothing of ${rule.alert}`).to.include(`alertname: ${rule.alert}\n`);
  });
});

describe('monitoring: prometheus.yml and the compose file', () => {
  const scrape = prometheus.scrape_configs.find((c) => c.job_name === 'notify')!;
  const notify = compose.services.notify!;

  it('Prometheus loads alerts.yml and scrapes every replica of the compose service, with the compose secret as its API key', () => {
    expect(prometheus.rule_files).to.deep.equal(['alerts.yml']);
    expect(scrape, 'a scrape config of job notify (the alerts and the dashboard name it)').to.not.equal(undefined);
    expect(scrape.dns_sd_configs).to.deep.equal([{ names: ['notify'], type: 'A', port: Number(notify.environment!.PORT), refresh_interval: '30s' }]);
    expect(scrape.metrics_path ?? '/metrics').to.equal('/metrics');
    const prom = compose.services.prometheus!;
    expect(prom.secrets).to.have.length(1);
    expect(scrape.authorization).to.deep.equal({ type: 'Bearer', credentials_file: `/run/secrets/${prom.secrets![0]}` });
    const secret = compose.secrets![prom.secrets![0]!]!;
    const defaultFile = /^\$\{METRICS_API_KEY_FILE:-(.+)\}$/.exec(secret.file)?.[1];
    expect(defaultFile, 'the key file comes from METRICS_API_KEY_FILE, with a default').to.be.a('string');
    expect(read(defaultFile!), 'the default key file is empty (AUTH=none)').to.equal('');
    expect(notify.environment!.API_KEYS).to.equal('${API_KEYS:-}');
    expect(prom.volumes!.map(mount)).to.deep.include({ from: './prometheus', to: '/etc/prometheus' });
    expect(prom.command).to.include('--config.file=/etc/prometheus/prometheus.yml');
  });

  it('Grafana is provisioned with that Prometheus and the dashboard, its admin password from the environment', () => {
    const grafana = compose.services.grafana!;
    expect(grafana.environment!.GF_SECURITY_ADMIN_PASSWORD).to.match(/^\$\{GRAFANA_ADMIN_PASSWORD:-/);
    const mounts = grafana.volumes!.map(mount);
    const provisioning = mounts.find((m) => m.to === '/etc/grafana/provisioning')!;
    expect(provisioning.from).to.equal('./grafana/provisioning');
    const sources = yamlOf<{ datasources: { type: string; url: string; uid: string; isDefault: boolean; jsonData: { timeInterval: string } }[] }>('grafana/provisioning/datasources/prometheus.yml').datasources;
    expect(sources).to.have.length(1);
    expect(sources[0]).to.include({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
    expect(sources[0]!.jsonData.timeInterval, 'the scrape interval').to.equal(prometheus.global.scrape_interval);
    const providers = yamlOf<{ providers: { type: string; options: { path: string } }[] }>('grafana/provisioning/dashboards/notification-service.yml').providers;
    const dashboards = mounts.find((m) => m.to === providers[0]!.options.path);
    expect(dashboards?.from, 'the provider\'s path is where compose mounts deploy/grafana/dashboards').to.equal('./grafana/dashboards');
    expect(existsSync(join(DEPLOY, 'grafana/dashboards/notification-service.json'))).to.equal(true);
  });

  it('starts Prometheus and Grafana only with --profile monitoring, on pinned images, reachable on the loopback only; the other services have no profile', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const monitoring = name === 'prometheus' || name === 'grafana';
      expect(service.profiles, name).to.deep.equal(monitoring ? ['monitoring'] : undefined);
      if (!monitoring) continue;
      expect(service.image, name).to.match(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
      for (const port of service.ports ?? []) expect(port, name).to.match(/^127\.0\.0\.1:/);
    }
    expect(Object.keys(compose.volumes ?? {})).to.include.members(['prometheus-data', 'grafana-data']);
  });

  it('prometheus.yml passes promtool check config', function () {
    requirePromtoolOrSkip(this);
    // The key file exists only in the container: syntax and everything else but referenced files.
    promtool(['check', 'config', '--syntax-only', 'prometheus.yml'], join(DEPLOY, 'prometheus'));
  });

  it('every dashboard expression is valid PromQL (promtool, as recording rules with the variables filled in)', function () {
    requirePromtoolOrSkip(this);
    const dir = mkdtempSync(join(tmpdir(), 'ns-dashboard-rules-'));
    try {
      const filled = (expr: string): string => expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'notify').replaceAll('$instance', '.+');
      const queries = dashboardExprs.filter((e) => e.where.startsWith('panel'));
      const file = { groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: filled(q.expr) })) }] };
      writeFileSync(join(dir, 'rules.json'), JSON.stringify(file));
      promtool(['check', 'rules', 'rules.json'], dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('monitoring: metric names in PromQL', () => {
  it('are the identifiers that are neither functions, keywords, labels nor variables', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (namespace, le) (rate(notify_publish_duration_seconds_bucket{job="$job", instance=~"$instance"}[$__rate_interval])))')).to.deep.equal(['notify_publish_duration_seconds_bucket']);
    expect(metricNames('notify_cluster_nodes < on (job) group_left () count by (job) (up{job="notify"} == 1)')).to.deep.equal(['notify_cluster_nodes', 'up']);
    expect(metricNames('(notify_redis_up == 0) unless on (job) (max by (job) (notify_redis_up offset 5m) == 0) or vector(0)')).to.deep.equal(['notify_redis_up']);
    expect(metricNames('label_values(notify_ready{job="$job"}, instance)')).to.deep.equal(['notify_ready']);
    expect(metricNames('sum(rate(process_cpu_seconds_total{code!~"A|B"}[5m])) * 60 > 1e3')).to.deep.equal(['process_cpu_seconds_total']);
  });

  it('catch a misspelt metric', () => {
    expect(metricNames('sum by (code) (rate(notify_eror_total{job="$job"}[$__rate_interval]))')).to.deep.equal(['notify_eror_total']);
  });

  it('are read from a /metrics text: TYPE lines (a histogram as its series) and samples', () => {
    const names = exposedNames('# HELP a_total x\n# TYPE a_total counter\n# TYPE h_seconds histogram\n# TYPE g gauge\ng{x="1"} 2\nother 1\n');
    expect([...names].sort()).to.deep.equal(['a_total', 'g', 'h_seconds_bucket', 'h_seconds_count', 'h_seconds_sum', 'other']);
  });
});

describe('monitoring: every metric the dashboard and the alerts read is one the service exposes', function () {
  const KEY = 'monitoring-scrape-key-0123456789';
  const services: Running[] = [];
  const dirs: string[] = [];
  const exposed = new Set<string>();

  /** GET /metrics as Prometheus sends it (prometheus.yml: a Bearer API key). */
  const scrape = async (svc: Running): Promise<string> => {
    const res = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    const text = await res.text();
    expect(res.status, text.slice(0, 200)).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    return text;
  };

  before(async function () {
    // Cluster mode is one of the three: without Redis the whole check would be partial.
    requireRedisOrSkip(this);
    const auth = secretAuth({ apiKeys: [KEY] });
    const dataDir = tempDir('ns-monitoring-');
    dirs.push(dataDir);
    services.push(await startInMode(this, 'memory', { auth }));
    services.push(await startInMode(this, 'redis', { auth }));
    services.push(await startInMode(this, 'memory', { auth, storage: { kind: 'sqlite', dataDir } }));
    for (const svc of services) for (const name of exposedNames(await scrape(svc))) exposed.add(name);
  });
  after(async () => {
    await Promise.allSettled(services.map((s) => s.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('GET /metrics takes the API key as Prometheus sends it, and refuses a scrape without it', async () => {
    const res = await fetch(`${services[0]!.url}/metrics`);
    await res.arrayBuffer();
    expect(res.status).to.equal(401);
    expect(await scrape(services[0]!)).to.include('# TYPE notify_connections gauge');
  });

  for (const [what, exprs] of [['the dashboard', dashboardExprs], ['the alerts', alertExprs]] as const) {
    it(`${what} read only metrics the service exposes (single, cluster, store)`, () => {
      const unknown = exprs.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !exposed.has(n) && !SYNTHETIC.has(n)).map((n) => `${where}: ${n}`));
      expect(unknown, unknown.join('\n')).to.deep.equal([]);
    });
  }

  it('every notify_ metric the service exposes is on the dashboard', () => {
    const shown = new Set(dashboardExprs.flatMap((e) => metricNames(e.expr)));
    const families = [...exposed].filter((n) => n.startsWith('notify_') && !/_(count|sum)$/.test(n));
    const missing = families.filter((n) => !shown.has(n));
    expect(missing, `not on the dashboard (scripts/grafana-dashboard.ts): ${missing.join(', ')}`).to.deep.equal([]);
    // The scrape found the metrics at all: an empty scrape would pass the checks above.
    expect(families.length).to.be.at.least(20);
  });
});
