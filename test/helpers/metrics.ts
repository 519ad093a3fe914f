/** Reads a service's GET /metrics (Prometheus text format) into samples a test can look up. */

/** Metrics that only a cluster node registers (docs/METRICS.md). */
export const CLUSTER_ONLY = ['notify_cluster_nodes', 'notify_redis_up'];

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  samples: Sample[];
  /** The value of `name` with exactly these labels (le etc. included); undefined when absent. */
  get(name: string, labels?: Record<string, string>): number | undefined;
  /** The value, 0 when absent. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every sample of `name`. */
  all(name: string): Sample[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (m[2] ?? '').matchAll(LABEL)) labels[key!] = raw!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
};

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { headers });
  const text = await res.text();
  const samples = res.status === 200 ? parseMetrics(text) : [];
  const get = (name: string, labels: Record<string, string> = {}): number | undefined =>
    samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    text,
    samples,
    get,
    value: (name, labels) => get(name, labels) ?? 0,
    all: (name) => samples.filter((s) => s.name === name),
  };
}
