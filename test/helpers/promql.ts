/**
 * What dashboards and alerts ask Prometheus for, and what the service offers: the metric names an
 * expression reads (PromQL, with Grafana's variables), and the names a /metrics text exposes.
 * Small on purpose: enough for the expressions of deploy/, checked by test/monitoring-config.test.ts.
 */

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names an expression reads. Strings, label matchers, ranges, grouping label lists and
 * Grafana variables are dropped first; then every identifier not called as a function and not a
 * keyword is a metric. Grafana's `label_values(selector, label)` reads its selector's metric.
 */
export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\blabel_values\(\s*([^,()]*?)\s*(?:,\s*\w+\s*)?\)/g, ' $1 ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, ' ');
  const names = new Set<string>();
  for (const [name] of text.matchAll(/(?<![\w:.])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()/g)) {
    if (!KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/**
 * The series names a Prometheus text exposition offers: every family of a `# TYPE` line (a
 * histogram as its `_bucket`, `_sum` and `_count`, a summary as itself, `_sum` and `_count`),
 * and every sample's name. prom-client writes the TYPE line of a metric before it has samples.
 */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (\w+)/.exec(line);
    if (type) {
      const [, family, kind] = type;
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix);
      else names.add(family!);
      if (kind === 'summary') for (const suffix of ['_sum', '_count']) names.add(family + suffix);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]!);
  }
  return names;
}
