/**
 * Turns the runs into the readable table and the JSON summary: per scenario and server, each
 * figure as median [min-max] over the rounds and the median of its per-round ratios to baseline.
 */
import type { Machine } from './proc.js';
import { protocolOf, warmUpMessages, type Checks, type RunResult, type Scenario, type ScenarioServers } from './scenarios.js';
import type { ServerKind } from './servers.js';
import { ratios, summarize, type Summary } from './stats.js';

/** What the fixed-rate scenarios show: the rate offered, its latency and what it cost. */
const PACED: [key: string, label: string][] = [
  ['deliveriesPerSec', 'deliveries/s (offered)'],
  ['latP50Ms', 'latency p50 ms'],
  ['latP99Ms', 'latency p99 ms'],
  ['latMaxMs', 'latency max ms'],
  ['cpuSecPer100k', 'server CPU s / 100k deliveries'],
  ['serverMainShare', 'main-thread share of server CPU'],
  ['serverKernelShare', 'kernel share of server CPU'],
  ['serverPerClientCpu', 'server CPU / client CPU, same run'],
];

/** Figures shown per scenario kind, with their labels (lower is better unless marked). */
const FIGURES: Record<Scenario['kind'], [key: string, label: string][]> = {
  'fanout-max': [
    ['deliveriesPerSec', 'deliveries/s (higher=better)'],
    ['cpuSecPer100k', 'server CPU s / 100k deliveries'],
    ['serverKernelShare', 'kernel share of server CPU'],
    ['rssAfterMiB', 'server RSS after, MiB'],
    ['serverCores', 'server cores busy'],
    ['clientCores', 'client cores busy'],
    ['clientCpuSecPer100k', 'client CPU s / 100k deliveries'],
    ['serverPerClientCpu', 'server CPU / client CPU, same run'],
    ['connectJoinPerSec', 'connect+join /s'],
    ['busiestNodeCores', 'busiest node cores busy'],
    ['projectedPerSec', 'deliveries/s, 1 core per node (projected)'],
  ],
  'fanout-rate': PACED,
  rooms: [...PACED, ['connectJoinPerSec', 'connect+join /s']],
  capacity: [
    ['connections', 'connections (open-file limit caps it)'],
    ['connectJoinPerSec', 'connect+join /s (higher=better)'],
    ['cpuMsPer1kConnects', 'server CPU ms / 1k connect+join'],
    ['serverPerClientCpu', 'server CPU / client CPU, same run'],
    ['serverCores', 'server cores busy'],
    ['clientCores', 'client cores busy'],
    ['rssPerConnKiB', 'server RSS KiB / idle connection'],
    ['rssAfterMiB', 'server RSS with all, MiB'],
    ['broadcastReached', 'share of them a broadcast reached'],
    ['broadcastMsEach', 'ms from publish to the last of them'],
  ],
  hostile: [
    ['quietP50Ms', 'normal clients ack p50 ms, quiet'],
    ['quietP99Ms', 'normal clients ack p99 ms, quiet'],
    ['attackP50Ms', 'normal clients ack p50 ms, under attack'],
    ['attackP99Ms', 'normal clients ack p99 ms, under attack'],
    ['attackMaxMs', 'normal clients ack max ms, under attack'],
    ['p99Ratio', 'p99 under attack / quiet (target <= 2)'],
    ['heavyFramesPerSec', 'max-size max-depth frames handled /s (higher=more load)'],
    ['refusedFramesPerSec', 'deep frames refused /s'],
    ['attackerHandshakesRefused', 'attacker handshakes refused (--violation-limit)'],
  ],
};

const CHECK_KEYS: (keyof Checks)[] = ['lost', 'duplicates', 'self', 'outOfOrder', 'foreign', 'malformed', 'disconnects', 'connectFailures', 'nacks'];

export interface FigureSummary extends Summary {
  values: number[];
  /** Per-round value / baseline value. */
  ratio: Summary & { values: number[] };
}

export interface ServerSummary {
  figures: Record<string, FigureSummary>;
  checks: Checks;
  errors: string[];
  /** The server does not speak the scenario's protocol: its cells are '–'. */
  notApplicable?: boolean;
}

export type ScenarioSummary = Record<string, ServerSummary>;

/** Values of one figure in round order (NaN where a run failed), so rounds line up across servers. */
function valuesByRound(runs: RunResult[], scenario: string, server: ServerKind, key: string, rounds: number): number[] {
  return Array.from({ length: rounds }, (_, r) => runs.find((x) => x.scenario === scenario && x.server === server && x.round === r)?.figures[key] ?? NaN);
}

/** Which servers a scenario ran against, and the one its ratios are to. */
export type Plan = (scenario: Scenario) => ScenarioServers;

/**
 * What a scenario's ratios are to when the run's reference is the socket.io baseline: it has no
 * /sock or SSE endpoint, so those scenarios are compared with their protocol's own `limit`.
 */
export function referenceFor(scenario: Scenario, servers: readonly ServerKind[], reference: ServerKind): ServerKind {
  return reference === 'baseline' && protocolOf(scenario) !== 'socketio' && servers.includes('limit') ? 'limit' : reference;
}

export function summarizeRuns(runs: RunResult[], list: Scenario[], plan: Plan, rounds: number): Record<string, ScenarioSummary> {
  const out: Record<string, ScenarioSummary> = {};
  for (const scenario of list) {
    const { servers, reference } = plan(scenario);
    const perServer: ScenarioSummary = {};
    const keys = new Set(runs.filter((r) => r.scenario === scenario.name).flatMap((r) => Object.keys(r.figures)));
    for (const server of servers) {
      const mine = runs.filter((r) => r.scenario === scenario.name && r.server === server);
      const figures: Record<string, FigureSummary> = {};
      for (const key of keys) {
        const values = valuesByRound(runs, scenario.name, server, key, rounds);
        const rs = ratios(values, valuesByRound(runs, scenario.name, reference, key, rounds));
        figures[key] = { ...summarize(values), values, ratio: { ...summarize(rs), values: rs } };
      }
      const checks = Object.fromEntries(CHECK_KEYS.map((k) => [k, mine.reduce((n, r) => n + r.checks[k], 0)])) as unknown as Checks;
      const errors = mine.flatMap((r) => (r.error ? [`round ${r.round}: ${r.error}`] : []));
      perServer[server] = { figures, checks, errors, ...(mine.length > 0 && mine.every((r) => r.notApplicable) ? { notApplicable: true } : {}) };
    }
    out[scenario.name] = perServer;
  }
  return out;
}

/** Three significant digits, k/M suffixes: the table has to fit a terminal. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return v.toFixed(0);
  return v.toPrecision(3);
}

function describe(s: Scenario): string {
  switch (s.kind) {
    case 'fanout-max': {
      const how =
        s.protocol === 'sock'
          ? '/sock topic (plain WebSocket, published over /sock)'
          : s.protocol === 'sse'
            ? 'SSE streams of /layout (published with POST /publish, pipelined)'
            : 'one room';
      return `1 publisher -> ${s.subscribers} subscribers, ${how}, ${s.messages} messages after ${warmUpMessages(s)} unmeasured, max rate (flow-controlled)`;
    }
    case 'fanout-rate':
      return `1 publisher -> ${s.subscribers} subscribers, ${s.ratePerSec} msg/s for ${s.durationMs / 1000} s`;
    case 'rooms':
      return `${s.rooms} rooms x ${s.members} members, 1 publisher per room at ~${s.ratePerSec} msg/s (jittered; ~${Math.round(s.rooms * s.ratePerSec * (s.members - 1))} deliveries/s) for ${s.durationMs / 1000} s`;
    case 'capacity':
      return `${s.connections} idle connections, ${s.members >= s.connections ? 'all JOINed to one room' : `each JOINs a room of ${s.members}`}${s.broadcast ? `, then ${s.broadcast} messages to all of them, one at a time` : ''}`;
    case 'hostile':
      return `${s.clients} clients NOTIFY with an ack every ${s.pingMs} ms, ${s.durationMs / 1000} s quiet then ${s.durationMs / 1000} s while ${s.heavyFrames ? 'one client sends max-size max-depth frames and another ' : 'one client sends '}4 MB [[[[... frames (refused)`;
  }
}

export function table(summary: Record<string, ScenarioSummary>, list: Scenario[], plan: Plan, machine: Machine, header: string): string {
  const lines: string[] = [header, `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, linux ${machine.kernel}; ${machine.date}`];
  const cell = (f: FigureSummary | undefined, server: ServerKind, reference: ServerKind, notApplicable = false): string => {
    if (notApplicable) return '–';
    if (!f || f.n === 0) return '—';
    const range = f.n > 1 ? ` [${fmt(f.min)}-${fmt(f.max)}]` : '';
    const ratio = server !== reference && f.ratio.n > 0 ? ` x${f.ratio.median.toFixed(2)}` : '';
    return `${fmt(f.median)}${range}${ratio}`;
  };
  const W = 30;
  for (const s of list) {
    const sum = summary[s.name];
    if (!sum) continue;
    // The label column fits the scenario's longest label, plus a space.
    const W0 = Math.max(...FIGURES[s.kind].map(([, label]) => label.length), 'disconn/connfail/nack/malformed'.length) + 1;
    const { servers, reference } = plan(s);
    lines.push('', `== ${s.name}: ${describe(s)}; ratios to ${reference}`);
    lines.push('figure'.padEnd(W0) + servers.map((k) => k.padEnd(W)).join(''));
    for (const [key, label] of FIGURES[s.kind]) {
      lines.push(label.padEnd(W0) + servers.map((k) => cell(sum[k]?.figures[key], k, reference, sum[k]?.notApplicable).padEnd(W)).join(''));
    }
    lines.push(
      'lost/dup/self/ooo/foreign'.padEnd(W0) +
        servers.map((k) => { const c = sum[k]!.checks; return (sum[k]!.notApplicable ? '–' : `${c.lost}/${c.duplicates}/${c.self}/${c.outOfOrder}/${c.foreign}`).padEnd(W); }).join(''),
    );
    lines.push(
      'disconn/connfail/nack/malformed'.padEnd(W0) +
        servers.map((k) => { const c = sum[k]!.checks; return (sum[k]!.notApplicable ? '–' : `${c.disconnects}/${c.connectFailures}/${c.nacks}/${c.malformed}`).padEnd(W); }).join(''),
    );
    for (const k of servers) for (const e of sum[k]!.errors) lines.push(`  ! ${k} ${e.slice(0, 400)}`);
  }
  lines.push('', "cells: median [min-max] over rounds, xR = median of per-round ratios to the reference named in the heading (same round); '–': the server has no such endpoint.");
  return lines.join('\n');
}
