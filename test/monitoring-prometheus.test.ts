/**
 * A real Prometheus on deploy/prometheus/prometheus.yml and alerts.yml (only the target, the key
 * file's path and the intervals changed for a test) scraping a real cluster node with auth on: the
 * scrape works with the key file as deployed, every query of the Grafana dashboard runs and, after
 * some traffic, returns series carrying the labels its legend names, and the alerts go pending when
 * the key is wrong and when Redis goes away.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { closeAll, connect, request } from './helpers/clients.js';
import { startNodes, waitUntil } from './helpers/cluster.js';
import { metricNames } from './helpers/promql.js';
import { startPrometheus, type PrometheusServer, type Sample } from './helpers/prometheus-server.js';
import { requirePromtoolOrSkip } from './helpers/promtool.js';
import { deletePrefix, requireRedisOrSkip, startRedisServer, uniquePrefix, type RedisServer } from './helpers/redis.js';
import type { Running } from './helpers/service.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const KEY = 'prometheus-scrape-key-0123456789';

interface Target { expr: string; legendFormat?: string }
interface Panel { type: string; title: string; targets?: Target[] }
interface ScrapeConfig { job_name: string; dns_sd_configs?: unknown; static_configs?: unknown; authorization?: Record<string, string> }

const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana/dashboards/notification-service.json'), 'utf8')) as { panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr, legend: t.legendFormat ?? '' })));
/** Grafana's variables as the dashboard would fill them for this Prometheus (scraping every second). */
const filled = (expr: string): string => expr.replaceAll('$__rate_interval', '10s').replaceAll('$job', 'notify').replaceAll('$instance', '.+');
/** The labels a legend template shows: each series must carry them. */
const legendLabels = (legend: string): string[] => [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
/**
 * Panels on what this test does not cause (no store, no GC guaranteed, no limit hit, no recovery),
 * or that a cluster node has not: the in-memory history (in cluster mode it is in Redis).
 */
const QUIET = ['notify_store_', 'nodejs_gc_', 'notify_rate_limited_total', 'notify_recoveries_total', 'notify_history_'];

describe('monitoring: a real Prometheus on deploy/prometheus scraping a cluster node', function () {
  this.timeout(60_000);
  const prefix = uniquePrefix('prometheus');
  let redis: RedisServer | undefined;
  let node: Running | undefined;
  let prom: PrometheusServer | undefined;

  const keyFile = (): string => join(prom!.dir, 'metrics-api-key');
  const value = async (expr: string): Promise<number | undefined> => {
    const [first] = await prom!.query(expr);
    return first === undefined ? undefined : Number(first.value[1]);
  };
  const alertStates = async (alertname: string): Promise<string[]> => (await prom!.query(`ALERTS{alertname="${alertname}"}`)).map((s) => s.metric.alertstate!);

  before(async function () {
    requireRedisOrSkip(this, true);
    requirePromtoolOrSkip(this, 'prometheus');
    redis = await startRedisServer();
    [node] = await startNodes(1, redis.url, prefix, { auth: secretAuth({ apiKeys: [KEY] }) });
    const deployed = parse(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: ScrapeConfig[] } & Record<string, unknown>;
    const target = new URL(node.url).host;
    prom = await startPrometheus((dir) => ({
      ...deployed,
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(DEPLOY, 'prometheus/alerts.yml')],
      scrape_configs: deployed.scrape_configs.map(({ dns_sd_configs: _dns, ...job }) =>
        job.job_name !== 'notify' ? job : { ...job, static_configs: [{ targets: [target] }], authorization: { ...job.authorization, credentials_file: join(dir, 'metrics-api-key') } }),
    }), { 'metrics-api-key': `${KEY}\n` });
  });
  after(async () => {
    closeAll();
    await prom?.stop();
    await node?.close();
    if (redis) await deletePrefix(redis.url, prefix);
    await redis?.stop();
  });

  it('scrapes the node with the API key of the key file', async () => {
    await waitUntil('up{job="notify"} == 1', async () => (await value('up{job="notify"}')) === 1, 15_000);
    expect(await value('notify_ready{job="notify"}')).to.equal(1);
    expect(await value('notify_redis_up{job="notify"}')).to.equal(1);
  });

  it('every dashboard query runs; after some traffic each returns series with the labels its legend shows', async () => {
    const token = await hsToken({ sub: 'watcher', rooms: ALL_ROOMS });
    const client = await connect('v4', node!.url, '/layout', { extra: { auth: { token } } });
    await request(client, 'JOIN', { room: 'r1', name: 'watcher' });
    const publish = (key: string) => fetch(`${node!.url}/publish/layout/r1`, { method: 'POST', body: '{"n":1}', headers: { authorization: `Bearer ${key}` } });
    expect((await publish(KEY)).status).to.equal(200);
    expect((await publish('not-the-key-0123456789')).status).to.equal(401);

    const problems = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const q of queries) {
        const quiet = metricNames(q.expr).some((name) => QUIET.some((prefix) => name.startsWith(prefix)));
        let result: Sample[];
        try {
          result = await prom!.query(filled(q.expr));
        } catch (err) {
          found.push(`${q.panel}: ${(err as Error).message}`);
          continue;
        }
        if (result.length === 0 && !quiet) found.push(`${q.panel}: no series for ${q.expr}`);
        for (const sample of result) {
          for (const label of legendLabels(q.legend)) if (!sample.metric[label]) found.push(`${q.panel}: a series without ${label} (${JSON.stringify(sample.metric)})`);
        }
      }
      return found;
    };
    // Rates need two scrapes after the traffic: poll until every panel has its data.
    let last: string[] = [];
    await waitUntil('every dashboard panel shows data', async () => (last = await problems()).length === 0, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${last.join('\n')}`);
    });
    client.close();
  });

  it('a wrong key fails the scrape (NotifyInstanceDown pending); the right one works again without a restart', async () => {
    writeFileSync(keyFile(), 'wrong-key-0123456789abcdef');
    await waitUntil('up == 0 with a wrong key', async () => (await value('up{job="notify"}')) === 0, 15_000);
    await waitUntil('NotifyInstanceDown pending', async () => (await alertStates('NotifyInstanceDown')).includes('pending'), 15_000);
    writeFileSync(keyFile(), KEY);
    await waitUntil('up == 1 with the key back', async () => (await value('up{job="notify"}')) === 1, 15_000);
  });

  it('Redis gone: notify_redis_up and notify_ready 0, NotifyRedisDown and NotifyNotReady pending', async () => {
    await redis!.kill();
    await waitUntil('notify_redis_up == 0', async () => (await value('notify_redis_up{job="notify"}')) === 0, 15_000);
    expect(await value('notify_ready{job="notify"}')).to.equal(0);
    await waitUntil('NotifyRedisDown pending', async () => (await alertStates('NotifyRedisDown')).includes('pending'), 15_000);
    await waitUntil('NotifyNotReady pending', async () => (await alertStates('NotifyNotReady')).includes('pending'), 15_000);
    expect(await alertStates('NotifyRedisUnreachableFromReplica'), 'one replica, and it is every replica').to.deep.equal([]);
  });
});
