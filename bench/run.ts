/**
 * Benchmark entry: `node dist/bench/run.js [--quick] [--rounds 3] [--scenarios a,b] [--servers us,baseline,limit]
 * [--json-out FILE] [--workers 1] [--concurrency 32] [--pad 100] [--payload object|string] [--parse fast|full] [--window N]`.
 *
 * `--window N` holds max-rate fan-out to N messages in flight (default: about 50k deliveries' worth,
 * 50 at 1000 subscribers); `--window 1` waits for every delivery before the next publication.
 *
 * `--servers us,us-redis,us-redis2` compares one node in memory, one node in cluster mode and two
 * nodes in cluster mode (subscribers split over both, the publisher on the first), each with a
 * private redis-server; `us-before` and `us-redis2-before` run the build at BENCH_BEFORE_SERVER
 * beside them (bench/servers.ts lists every kind).
 *
 * Runs every scenario against every server, alternating the order A B C / C B A between rounds so
 * that drift (thermal, page cache, a noisy neighbour) does not favour one server. Prints progress
 * on stderr, then a table and one `BENCH_JSON {...}` line on stdout.
 *
 * One client worker by default: on a 2-core machine the server takes one core, and a second worker
 * only adds contention (measured: wider spreads, ~30% more client CPU per delivery, lower rates).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machine } from './proc.js';
import { referenceFor, summarizeRuns, table, type Plan } from './report.js';
import { DEFAULT_SERVERS, runOnce, scenarios, type RunOptions, type RunResult } from './scenarios.js';
import { ALL_SERVER_KINDS, killAllServers, SERVER_KINDS, type ServerKind } from './servers.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    scenarios: { type: 'string' },
    servers: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'json-out': { type: 'string' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '32' },
    pad: { type: 'string', default: '100' },
    payload: { type: 'string', default: 'object' },
    parse: { type: 'string', default: 'fast' },
    'ratio-to': { type: 'string' },
    window: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function usage(message?: string): never {
  if (message) process.stderr.write(`error: ${message}\n`);
  process.stderr.write(
    'usage: node dist/bench/run.js [--quick] [--rounds N] [--scenarios a,b] [--servers us,baseline,limit,us-redis,us-redis2] [--json-out FILE]\n' +
      '       [--workers N] [--concurrency N] [--pad BYTES] [--payload object|string] [--parse fast|full] [--ratio-to SERVER] [--window N]\n' +
      `servers: ${ALL_SERVER_KINDS.join(', ')} (default ${SERVER_KINDS.join(',')}; ${Object.entries(DEFAULT_SERVERS).map(([name, d]) => `${name}: ${d.servers.join(',')}`).join('; ')})\n` +
      `scenarios: ${scenarios(false).map((s) => s.name).join(', ')}\n`,
  );
  process.exit(message ? 2 : 0);
}

if (args.help) usage();
const int = (name: string, value: string, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be an integer from ${min} to ${max}`);
  return n;
};
const rounds = int('rounds', args.rounds!, 1, 50);
const all = scenarios(args.quick!);
const wanted = args.scenarios?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = wanted?.filter((w) => !all.some((s) => s.name === w));
if (unknown?.length) usage(`unknown scenario ${unknown.join(', ')}`);
const list = wanted ? all.filter((s) => wanted.includes(s.name)) : all;
const chosen = args.servers?.split(',').map((s) => s.trim()) as ServerKind[] | undefined;
if (chosen && (chosen.some((s) => !ALL_SERVER_KINDS.includes(s)) || new Set(chosen).size !== chosen.length)) usage(`--servers takes distinct names from ${ALL_SERVER_KINDS.join(', ')}`);
const ratioTo = args['ratio-to'] as ServerKind | undefined;
if (ratioTo && chosen && !chosen.includes(ratioTo)) usage('--ratio-to must name one of the --servers');
/**
 * Without --servers, each scenario runs against its own default set (the baselines, or for the
 * cluster case one node against two); ratios are to --ratio-to when the scenario ran it, else to the
 * scenario's reference: the baseline when present, else the first server.
 */
const plan: Plan = (scenario) => {
  const own = DEFAULT_SERVERS[scenario.name];
  const servers = chosen ?? own?.servers ?? [...SERVER_KINDS];
  const fallback = own && servers.includes(own.reference) ? own.reference : servers.includes('baseline') ? 'baseline' : servers[0]!;
  return { servers, reference: referenceFor(scenario, servers, ratioTo && servers.includes(ratioTo) ? ratioTo : fallback) };
};
const allServers = [...new Set(list.flatMap((s) => plan(s).servers))];
if (args.payload !== 'object' && args.payload !== 'string') usage('--payload must be object or string');
if (args.parse !== 'fast' && args.parse !== 'full') usage('--parse must be fast or full');
const options: RunOptions = {
  workers: int('workers', args.workers!, 1, 8),
  concurrency: int('concurrency', args.concurrency!, 1, 1000),
  pad: 'x'.repeat(int('pad', args.pad!, 0, 1 << 20)),
  asString: args.payload === 'string',
  parse: args.parse,
  ...(args.window !== undefined ? { window: int('window', args.window, 1, 10_000) } : {}),
};

// Children never outlive the harness: killed on every way out.
process.on('exit', killAllServers);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping servers\n`);
    killAllServers();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const host = machine();
  const runs: RunResult[] = [];
  const started = Date.now();
  for (let round = 0; round < rounds; round++) {
    for (const scenario of list) {
      const { servers } = plan(scenario);
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        const t = Date.now();
        const result = await runOnce(scenario, server, round, options);
        runs.push(result);
        const f = result.figures;
        const bits = Object.entries(f).map(([k, v]) => `${k}=${Number.isFinite(v) ? +v.toPrecision(4) : v}`).join(' ');
        const c = result.checks;
        process.stderr.write(
          `[round ${round + 1}/${rounds}] ${scenario.name} ${server}: ${bits} | lost ${c.lost} dup ${c.duplicates} self ${c.self}` +
            ` disc ${c.disconnects} (${((Date.now() - t) / 1000).toFixed(1)} s)${result.error ? ` ERROR ${result.error.slice(0, 300)}` : ''}\n`,
        );
        for (const note of result.notes) process.stderr.write(`    note: ${note.slice(0, 300)}\n`);
      }
    }
  }

  const summary = summarizeRuns(runs, list, plan, rounds);
  const header = `notification-service bench: ${rounds} round(s)${args.quick ? ' (quick)' : ''}, ${options.workers} client worker(s), pad ${options.pad.length} B, ${args.payload} payloads,${options.window ? ` window ${options.window},` : ''} ${((Date.now() - started) / 60_000).toFixed(1)} min`;
  process.stdout.write(`${table(summary, list, plan, host, header)}\n`);
  const json = JSON.stringify({
    machine: host,
    options: { rounds, quick: args.quick, servers: allServers, workers: options.workers, concurrency: options.concurrency, pad: options.pad.length, payload: args.payload, parse: args.parse, window: options.window ?? null },
    scenarios: list,
    summary,
    runs,
  });
  if (args['json-out']) writeFileSync(args['json-out'], `${json}\n`);
  process.stdout.write(`BENCH_JSON ${json}\n`);
  const failed = runs.some((r) => r.error !== undefined || r.checks.lost + r.checks.duplicates + r.checks.self + r.checks.foreign > 0);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  killAllServers();
  process.exit(1);
});
