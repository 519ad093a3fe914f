/**
 * Small builders for Grafana dashboard JSON (the classic model, schemaVersion 42, which Grafana 12
 * and 13 load and migrate): rows, time series, stats and state timelines on a Prometheus data source
 * chosen by the `${datasource}` variable, laid out left to right on Grafana's 24-column grid.
 */

export const SCHEMA_VERSION = 42;

/** Every query goes to the data source the dashboard's `datasource` variable names. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Query {
  expr: string;
  /** Grafana's legend template, e.g. `{{instance}}`. */
  legend?: string;
}

/** A value mapping of a 1/0 gauge: text and colour for each state. */
export interface StateMapping {
  value: number;
  text: string;
  color: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  kind: 'timeseries' | 'stat' | 'state-timeline';
  queries: Query[];
  /** Grafana unit id: `short`, `cps` (per second), `s`, `bytes`, `percentunit`. */
  unit?: string;
  width: number;
  height?: number;
  /** A horizontal line at this value (time series), e.g. an alert's threshold. */
  threshold?: number;
  states?: StateMapping[];
  /** Text shown when the query returns nothing (a metric of cluster mode on a single node). */
  noValue?: string;
  /** Colours per series name, e.g. `{ failed: 'red' }`. */
  seriesColors?: Record<string, string>;
  min?: number;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

type Json = Record<string, unknown>;

function targets(queries: Query[]): Json[] {
  return queries.map((q, i) => ({
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: q.expr,
    legendFormat: q.legend ?? '__auto',
    range: true,
    refId: String.fromCharCode(65 + i),
  }));
}

function thresholds(spec: PanelSpec): Json {
  const steps: Json[] = [{ color: 'green', value: null }];
  if (spec.threshold !== undefined) steps.push({ color: 'red', value: spec.threshold });
  return { mode: 'absolute', steps };
}

function mappings(spec: PanelSpec): Json[] {
  if (!spec.states) return [];
  const options: Json = {};
  spec.states.forEach((s, index) => (options[String(s.value)] = { color: s.color, index, text: s.text }));
  return [{ type: 'value', options }];
}

function overrides(spec: PanelSpec): Json[] {
  return Object.entries(spec.seriesColors ?? {}).map(([name, color]) => ({
    matcher: { id: 'byName', options: name },
    properties: [{ id: 'color', value: { fixedColor: color, mode: 'fixed' } }],
  }));
}

function custom(spec: PanelSpec): Json {
  if (spec.kind === 'timeseries') {
    return {
      drawStyle: 'line',
      fillOpacity: 10,
      lineWidth: 1,
      showPoints: 'never',
      spanNulls: false,
      stacking: { group: 'A', mode: 'none' },
      thresholdsStyle: { mode: spec.threshold === undefined ? 'off' : 'line' },
    };
  }
  if (spec.kind === 'state-timeline') return { fillOpacity: 80, lineWidth: 0 };
  return {};
}

function options(spec: PanelSpec): Json {
  const reduce = { calcs: ['lastNotNull'], fields: '', values: false };
  if (spec.kind === 'stat') {
    return { colorMode: 'value', graphMode: 'area', justifyMode: 'auto', orientation: 'auto', reduceOptions: reduce, textMode: 'auto' };
  }
  const legend = { calcs: [], displayMode: 'list', placement: 'bottom', showLegend: true };
  if (spec.kind === 'state-timeline') {
    return { alignValue: 'left', legend, mergeValues: true, rowHeight: 0.9, showValue: 'auto', tooltip: { mode: 'single', sort: 'none' } };
  }
  return { legend, tooltip: { mode: 'multi', sort: 'desc' } };
}

function panel(spec: PanelSpec, id: number, gridPos: Json): Json {
  const defaults: Json = {
    color: { mode: spec.states ? 'thresholds' : spec.kind === 'stat' ? 'thresholds' : 'palette-classic' },
    custom: custom(spec),
    mappings: mappings(spec),
    thresholds: thresholds(spec),
    unit: spec.unit ?? 'short',
  };
  if (spec.min !== undefined) defaults.min = spec.min;
  if (spec.noValue !== undefined) defaults.noValue = spec.noValue;
  return {
    datasource: DATASOURCE,
    description: spec.description,
    fieldConfig: { defaults, overrides: overrides(spec) },
    gridPos,
    id,
    options: options(spec),
    targets: targets(spec.queries),
    title: spec.title,
    type: spec.kind,
  };
}

/** The panels of a dashboard: each row header, then its panels flowing left to right, wrapping at 24 columns. */
export function layout(rows: RowSpec[]): Json[] {
  const out: Json[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    out.push({ collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, id: id++, panels: [], title: row.title, type: 'row' });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const spec of row.panels) {
      const h = spec.height ?? (spec.kind === 'stat' ? 4 : 8);
      if (spec.width < 1 || spec.width > 24) throw new Error(`${spec.title}: width ${spec.width} is not 1-24`);
      if (x + spec.width > 24) {
        y += lineHeight;
        x = 0;
        lineHeight = 0;
      }
      out.push(panel(spec, id++, { h, w: spec.width, x, y }));
      x += spec.width;
      lineHeight = Math.max(lineHeight, h);
    }
    y += lineHeight;
  }
  return out;
}

/** A query variable over a label of a metric (refreshed when the time range changes: replicas come and go). */
export function labelVariable(name: string, label: string, query: string, all: boolean): Json {
  return {
    current: {},
    datasource: DATASOURCE,
    definition: query,
    hide: 0,
    includeAll: all,
    label,
    multi: all,
    name,
    options: [],
    query: { qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    regex: '',
    sort: 1,
    type: 'query',
    ...(all ? { allValue: '.+' } : {}),
  };
}

/** The `datasource` variable: any Prometheus data source, the default one first. */
export function datasourceVariable(): Json {
  return { current: {}, hide: 0, includeAll: false, label: 'Data source', multi: false, name: 'datasource', options: [], query: 'prometheus', refresh: 1, regex: '', type: 'datasource' };
}
