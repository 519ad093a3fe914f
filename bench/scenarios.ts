/**
 * The scenarios and how one run of a scenario against one server goes: connect the clients
 * (paced), read the server's CPU and RSS, drive the load, wait for every delivery, read again,
 * collect the accounting from the workers. Each run gets a fresh server process and fresh workers.
 */
import { readFileSync } from 'node:fs';
import { BenchClient } from './client.js';
import { HttpPublisher } from './http-publisher.js';
import { SockBenchClient } from './sock-client.js';
import { hostile, type HostileScenario } from './hostile.js';
import { WorkerPool, type BenchProtocol, type ClientSpec, type ConnectResult, type Progress, type PublishResult, type WorkerSettings, type WorkerStats } from './pool.js';
import { cpuSeconds, kernelCpuSeconds, mainThreadCpuSeconds, rssBytes } from './proc.js';
import { nowMs } from './protocol.js';
import { publishAtRate, publishMax, type PublishClient, type PublishOutcome } from './publisher.js';
import { NotApplicable, startServer, storesMessages, type RunningServer, type ServerKind } from './servers.js';
import { LatencyHistogram } from './stats.js';

export type Scenario =
  | { name: string; kind: 'fanout-max'; subscribers: number; messages: number; protocol?: BenchProtocol }
  | { name: string; kind: 'fanout-rate'; subscribers: number; ratePerSec: number; durationMs: number }
  | { name: string; kind: 'rooms'; rooms: number; members: number; ratePerSec: number; durationMs: number }
  | {
      name: string;
      kind: 'capacity';
      connections: number;
      members: number;
      /** Messages published to one room holding every connection once they are all idle (0: none). */
      broadcast?: number;
    }
  | HostileScenario;

/** What `--servers` defaults to for a scenario that only means something against some kinds, and its ratio reference. */
export interface ScenarioServers {
  servers: ServerKind[];
  reference: ServerKind;
}

/** The cluster case compares two nodes on Redis to one node of the same build, not to the baselines. */
export const DEFAULT_SERVERS: Record<string, ScenarioServers> = {
  'cluster-2000': { servers: ['us', 'us-redis2'], reference: 'us' },
};

export function scenarios(quick: boolean): Scenario[] {
  const q = <T>(full: T, small: T): T => (quick ? small : full);
  return [
    { name: 'fanout-1000-max', kind: 'fanout-max', subscribers: q(1000, 300), messages: q(400, 150) },
    // The two protocols without socket.io: /sock topics (published over /sock) and SSE streams of
    // /layout (published with POST /publish/layout/:room); `limit` is then the protocol's own.
    { name: 'sock-fanout-1000', kind: 'fanout-max', protocol: 'sock', subscribers: q(1000, 300), messages: q(400, 150) },
    { name: 'sse-fanout-1000', kind: 'fanout-max', protocol: 'sse', subscribers: q(1000, 300), messages: q(400, 150) },
    { name: 'fanout-5000-max', kind: 'fanout-max', subscribers: q(5000, 1500), messages: q(80, 40) },
    { name: 'fanout-1000-rate', kind: 'fanout-rate', subscribers: q(1000, 300), ratePerSec: 20, durationMs: q(10_000, 4_000) },
    // Issue 17's case: 1000 rooms of 5, 10k deliveries/s (2.5 messages a second per room, each to its 4 other members).
    { name: 'rooms-1000x5', kind: 'rooms', rooms: q(1000, 200), members: 5, ratePerSec: 2.5, durationMs: q(10_000, 4_000) },
    { name: 'capacity-10k', kind: 'capacity', connections: q(10_000, 2_000), members: 5 },
    // Capped by the open-file limit of the harness and the server (each holds one descriptor per connection).
    { name: 'capacity-50k', kind: 'capacity', connections: q(50_000, 5_000), members: q(50_000, 5_000), broadcast: 3 },
    // Two nodes on Redis, the subscribers alternating between them, against one node (DEFAULT_SERVERS).
    { name: 'cluster-2000', kind: 'fanout-max', subscribers: q(2000, 600), messages: q(200, 60) },
    { name: 'hostile', kind: 'hostile', clients: 100, pingMs: 100, durationMs: q(10_000, 5_000), heavyFrames: true },
    { name: 'hostile-refused', kind: 'hostile', clients: 100, pingMs: 100, durationMs: q(10_000, 5_000), heavyFrames: false },
  ];
}

interface CpuMark {
  server: number;
  serverMain: number;
  /** Of `server`, the time spent in the kernel. */
  serverKernel: number;
  /** Per node process (cluster kinds have several), in the order of `nodePids`. */
  nodes: number[];
  client: number;
  at: number;
}

export interface RunOptions extends WorkerSettings {
  workers: number;
  /** Max-rate fan-out: messages in flight, instead of about 50k deliveries' worth (--window). */
  window?: number;
  /** Handshakes in flight per worker while connecting. */
  concurrency: number;
  pad: string;
}

/** What must be zero, plus what explains a failure. */
export interface Checks {
  lost: number;
  duplicates: number;
  self: number;
  outOfOrder: number;
  foreign: number;
  malformed: number;
  disconnects: number;
  connectFailures: number;
  nacks: number;
}

export interface RunResult {
  scenario: string;
  server: ServerKind;
  round: number;
  figures: Record<string, number>;
  checks: Checks;
  /** Why the run failed (figures are then partial or empty). */
  error?: string;
  /** The server does not speak the scenario's protocol (the socket.io baseline for /sock and SSE). */
  notApplicable?: boolean;
  notes: string[];
}

const emptyChecks = (): Checks => ({ lost: 0, duplicates: 0, self: 0, outOfOrder: 0, foreign: 0, malformed: 0, disconnects: 0, connectFailures: 0, nacks: 0 });

/** The protocol of a scenario's clients. */
export const protocolOf = (s: Scenario): BenchProtocol => (s.kind === 'fanout-max' ? (s.protocol ?? 'socketio') : 'socketio');

/**
 * Messages a max-rate fan-out publishes before its measurement: half as many as it measures. Its
 * window is 1-2 s, and each server process's first publications (V8 compiling the publish path on
 * its helper threads, code still unoptimised, first-use set-up) would otherwise be a large share of
 * it, paid once per process, so twice by two nodes (docs/PERFORMANCE.md, "Twelfth look").
 */
export const warmUpMessages = (s: { messages: number }): number => Math.ceil(s.messages / 2);

/** Resident memory of every process of the server set. */
const serverRss = (server: RunningServer): number => server.pids.reduce((sum, pid) => sum + rssBytes(pid), 0);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Splits client specs over the workers; a room stays within one worker so its local publisher sees its own counts. */
function spread(specs: ClientSpec[], workers: number, byRoom: boolean): ClientSpec[][] {
  const out: ClientSpec[][] = Array.from({ length: workers }, () => []);
  const owner = new Map<string, number>();
  specs.forEach((spec, i) => {
    let w = i % workers;
    if (byRoom) {
      w = owner.get(spec.room) ?? owner.size % workers;
      owner.set(spec.room, w);
    }
    out[w]!.push(spec);
  });
  return out;
}

class Run {
  readonly figures: Record<string, number> = {};
  readonly notes: string[] = [];
  readonly checks: Checks = { lost: 0, duplicates: 0, self: 0, outOfOrder: 0, foreign: 0, malformed: 0, disconnects: 0, connectFailures: 0, nacks: 0 };
  /** Self-deliveries and disconnects seen by the coordinator's own publisher. */
  selfSeen = 0;
  publisherSelf = (): number => this.selfSeen;
  publisherLost: string | undefined;

  constructor(
    readonly server: RunningServer,
    readonly pool: WorkerPool,
    readonly opts: RunOptions,
  ) {}

  /** Connects and joins every spec, paced; returns connections per second (connect + JOIN acked). */
  async connectAll(perWorker: ClientSpec[][]): Promise<number> {
    const total = perWorker.reduce((n, s) => n + s.length, 0);
    // Several nodes (cluster kinds): clients alternate between them, so each room spans every node.
    const ports = this.server.ports;
    if (ports.length > 1) {
      let i = 0;
      perWorker = perWorker.map((specs) => specs.map((spec) => ({ ...spec, port: ports[i++ % ports.length]! })));
    }
    const start = nowMs();
    const results = await this.pool.all<ConnectResult>(
      (i) => ({ cmd: 'connect', port: this.server.port, clients: perWorker[i]!, concurrency: this.opts.concurrency, timeoutMs: 15_000 }),
      60_000 + total * 10,
    );
    const seconds = (nowMs() - start) / 1000;
    let connected = 0;
    for (const r of results) {
      connected += r.connected;
      this.checks.connectFailures += r.failed;
      if (r.firstError) this.notes.push(`connect: ${r.firstError}`);
    }
    if (connected < total) throw new Error(`only ${connected} of ${total} clients connected and joined`);
    return connected / seconds;
  }

  /** The publisher of a fan-out scenario, in this thread: socket.io, /sock or HTTP. */
  async publisher(room: string, protocol: BenchProtocol): Promise<PublishClient & { terminate(): void }> {
    if (protocol === 'sse') {
      const client = new HttpPublisher(this.server.port, 'layout', room);
      await client.connect();
      return client;
    }
    if (protocol === 'sock') {
      // Its own copies are its acks (/sock delivers to the sender too); any other copy is a self-delivery.
      const client = new SockBenchClient({ port: this.server.port, onLost: (reason) => void (this.publisherLost ??= reason) });
      this.publisherSelf = () => client.unexpectedOwn;
      await client.connect('publisher');
      await client.subscribe(room);
      return client;
    }
    return this.socketIoPublisher(room);
  }

  /** A socket.io publisher connection in this thread, member of `room` (so a self-delivery would show). */
  async socketIoPublisher(room: string): Promise<BenchClient> {
    const client = new BenchClient({
      port: this.server.port,
      onEvent: () => void this.selfSeen++,
      onLost: (reason) => void (this.publisherLost ??= reason),
    });
    await client.connect();
    await client.join(room, 'publisher', this.opts.asString);
    return client;
  }

  /** Polls the workers until every published message reached every subscriber, or the bound passes. */
  async drain(timeoutMs: number): Promise<Progress[]> {
    const end = nowMs() + timeoutMs;
    for (;;) {
      const snaps = await this.pool.all<Progress>(() => ({ cmd: 'snapshot' }), 5_000);
      if (snaps.every((s) => s.deficit === 0)) return snaps;
      if (nowMs() > end) {
        this.notes.push(`deliveries still missing after ${timeoutMs} ms drain`);
        return snaps;
      }
      await sleep(20);
    }
  }

  /** Sums the workers' accounting into checks; returns distinct deliveries and the merged latency histogram. */
  async collect(): Promise<{ deliveries: number; lastRecvT: number; hist: LatencyHistogram }> {
    const stats = await this.pool.all<WorkerStats>(() => ({ cmd: 'collect' }), 10_000);
    const hist = new LatencyHistogram();
    let deliveries = 0;
    let lastRecvT = 0;
    for (const s of stats) {
      deliveries += s.distinct;
      lastRecvT = Math.max(lastRecvT, s.lastRecvT);
      this.checks.lost += s.lost;
      this.checks.duplicates += s.duplicates;
      this.checks.outOfOrder += s.outOfOrder;
      this.checks.self += s.self;
      this.checks.foreign += s.foreign;
      this.checks.malformed += s.malformed;
      this.checks.disconnects += s.disconnects;
      if (s.firstDisconnect) this.notes.push(`disconnect: ${s.firstDisconnect}`);
      hist.merge(s.hist);
    }
    this.checks.self += this.publisherSelf();
    if (this.publisherLost) {
      this.checks.disconnects++;
      this.notes.push(`publisher disconnect: ${this.publisherLost}`);
    }
    return { deliveries, lastRecvT, hist };
  }

  /** Server and client (this whole process: coordinator and workers) CPU seconds, read together at a phase boundary. */
  cpuMark(): CpuMark {
    const { user, system } = process.cpuUsage();
    // Cluster kinds run several processes (nodes and their Redis): their CPU is summed.
    const pids = this.server.pids;
    const sum = (read: (pid: number) => number): number => pids.reduce((total, pid) => total + read(pid), 0);
    return { server: sum(cpuSeconds), serverMain: sum(mainThreadCpuSeconds), serverKernel: sum(kernelCpuSeconds), nodes: this.server.nodePids.map(cpuSeconds), client: (user + system) / 1e6, at: nowMs() };
  }

  /**
   * CPU used since `mark`, as cores busy: a server near 1.0 is the bottleneck (it is single-threaded
   * JavaScript); otherwise the client or the flow-control window is.
   */
  utilisation(mark: CpuMark): { server: number; client: number } {
    const now = this.cpuMark();
    const seconds = (now.at - mark.at) / 1000;
    this.figures.serverCores = (now.server - mark.server) / seconds;
    // The rest of the server's CPU is V8's GC helper threads (and libuv's pool).
    this.figures.serverMainShare = now.server > mark.server ? (now.serverMain - mark.serverMain) / (now.server - mark.server) : NaN;
    // The kernel's part (syscalls: mostly the socket writes, as many for every server).
    this.figures.serverKernelShare = now.server > mark.server ? (now.serverKernel - mark.serverKernel) / (now.server - mark.server) : NaN;
    this.figures.clientCores = (now.client - mark.client) / seconds;
    // The node that works hardest: with a core of its own it could go 1 / busiestNodeCores times as fast.
    this.figures.busiestNodeCores = Math.max(...now.nodes.map((cpu, i) => (cpu - mark.nodes[i]!) / seconds));
    return { server: now.server - mark.server, client: now.client - mark.client };
  }

  /** A publish phase's refused messages, and whether it stopped at its time bound. */
  account(outcome: PublishOutcome, phase: string): void {
    this.checks.nacks += outcome.nacks;
    if (outcome.truncated) this.notes.push(`${phase} hit its time bound after ${outcome.published} messages`);
  }

  /** Throughput and CPU figures of a publish phase that started at `mark`. */
  async finish(mark: CpuMark, outcome: PublishOutcome, latency: boolean, before = 0): Promise<void> {
    const start = mark.at;
    const used = this.utilisation(mark);
    const collected = await this.collect();
    const { lastRecvT, hist } = collected;
    // Deliveries of this phase only (`before`: those of a warm-up before `mark`).
    const deliveries = collected.deliveries - before;
    this.account(outcome, 'publishing');
    const seconds = (Math.max(lastRecvT, start) - start) / 1000;
    this.figures.deliveries = deliveries;
    this.figures.deliveriesPerSec = seconds > 0 ? deliveries / seconds : NaN;
    // Both sides share 2 cores here, so at max rate the client bounds deliveries/s; this is what the
    // server set would deliver if each node had a core of its own and scaled linearly up to it.
    this.figures.projectedPerSec = this.figures.deliveriesPerSec / this.figures.busiestNodeCores!;
    this.figures.cpuSecPer100k = deliveries > 0 ? (used.server / deliveries) * 1e5 : NaN;
    this.figures.clientCpuSecPer100k = deliveries > 0 ? (used.client / deliveries) * 1e5 : NaN;
    // The client does the same work per delivery for every build of ours, so its CPU is a yardstick
    // of how fast the shared VM ran during this very window: the server's CPU over it varies ~4x
    // less between rounds than the server's CPU alone. For A/B runs of our builds; other servers'
    // frames cost their clients more or less (docs/PERFORMANCE.md, "Tenth look").
    this.figures.serverPerClientCpu = used.client > 0 ? used.server / used.client : NaN;
    if (latency) {
      this.figures.latP50Ms = hist.quantile(0.5);
      this.figures.latP99Ms = hist.quantile(0.99);
      this.figures.latMaxMs = hist.max;
    }
    this.figures.rssAfterMiB = serverRss(this.server) / 2 ** 20;
  }
}

async function fanout(run: Run, s: Extract<Scenario, { kind: 'fanout-max' | 'fanout-rate' }>): Promise<void> {
  const room = 'fanout';
  const protocol = protocolOf(s);
  const specs = Array.from({ length: s.subscribers }, (_, i): ClientSpec => ({ room, name: `sub-${i}`, publisher: false, protocol }));
  run.figures.connectJoinPerSec = await run.connectAll(spread(specs, run.pool.size, false));
  const client = await run.publisher(room, protocol);
  await run.pool.all(() => ({ cmd: 'progress', intervalMs: 10 }), 5_000);
  const common = { client, room, pad: run.opts.pad, asString: run.opts.asString, store: run.opts.store === true };
  // About 50k deliveries in flight: enough to keep every socket busy, little enough to stay out of swap-like buffering.
  // --window 1 publishes the next message only once every subscriber has the last one: nothing to batch.
  const max = { ...common, pool: run.pool, window: run.opts.window ?? Math.max(4, Math.ceil(50_000 / s.subscribers)), maxMs: 60_000 };
  // Messages and deliveries of the warm-up (max rate only), outside the measurement.
  let warmed = 0;
  let before = 0;
  if (s.kind === 'fanout-max') {
    const warm = await withTimeout(publishMax({ ...max, messages: warmUpMessages(s) }), 90_000, 'warm-up publishing');
    run.account(warm, 'warm-up publishing');
    warmed = warm.published;
    await run.pool.all(() => ({ cmd: 'expect', room, count: warmed }), 5_000);
    before = (await run.drain(20_000)).reduce((sum, p) => sum + p.distinct, 0);
  }
  await sleep(300);
  const mark = run.cpuMark();
  const outcome =
    s.kind === 'fanout-max'
      ? await withTimeout(publishMax({ ...max, messages: s.messages, after: warmed }), 90_000, 'max-rate publishing')
      : await withTimeout(publishAtRate({ ...common, ratePerSec: s.ratePerSec, durationMs: s.durationMs }), s.durationMs + 30_000, 'fixed-rate publishing');
  await run.pool.all(() => ({ cmd: 'expect', room, count: warmed + outcome.published }), 5_000);
  await run.drain(20_000);
  await run.finish(mark, outcome, s.kind === 'fanout-rate', before);
  client.terminate();
}

async function rooms(run: Run, s: Extract<Scenario, { kind: 'rooms' }>): Promise<void> {
  const specs: ClientSpec[] = [];
  for (let r = 0; r < s.rooms; r++) {
    for (let m = 1; m < s.members; m++) specs.push({ room: `room-${r}`, name: `sub-${r}-${m}`, publisher: false });
    specs.push({ room: `room-${r}`, name: `pub-${r}`, publisher: true });
  }
  run.figures.connectJoinPerSec = await run.connectAll(spread(specs, run.pool.size, true));
  await sleep(300);
  const mark = run.cpuMark();
  const results = await run.pool.all<PublishResult>(
    () => ({ cmd: 'publish', ratePerSec: s.ratePerSec, durationMs: s.durationMs, pad: run.opts.pad }),
    s.durationMs + 30_000,
  );
  const outcome = { published: 0, nacks: 0, truncated: false };
  for (const r of results) {
    outcome.published += r.published;
    outcome.nacks += r.nacks;
  }
  await run.drain(20_000);
  await run.finish(mark, outcome, true);
}

/** The soft open-file limit this process (and the servers it starts, which inherit it) runs with. */
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

async function capacity(run: Run, s: Extract<Scenario, { kind: 'capacity' }>): Promise<void> {
  // Each connection is one descriptor in the server and one in this process: stay below the limit
  // (with room for the warm-up connections, the publisher, pipes and libraries), and say so.
  const limit = openFileLimit();
  const connections = Math.min(s.connections, limit - 1_000);
  if (connections < s.connections) {
    run.notes.push(`${connections} connections instead of ${s.connections}: the open-file limit is ${limit} (ulimit -n; the hard limit bounds it)`);
  }
  run.figures.connections = connections;
  const members = Math.min(s.members, connections);
  // A few connections first, outside the measurement: lazy module loading and JIT warm-up are not per-connection costs.
  // Marked as publishers (they never publish here) so that no tracker waits for messages to their rooms:
  // the broadcast's flow control follows the slowest subscriber.
  const warm = Array.from({ length: 100 }, (_, i): ClientSpec => ({ room: `warm-${Math.floor(i / 5)}`, name: `w-${i}`, publisher: true }));
  await run.connectAll(spread(warm, run.pool.size, true));
  await sleep(1_000);
  const rss0 = serverRss(run.server);
  const mark = run.cpuMark();
  const specs = Array.from({ length: connections }, (_, i): ClientSpec => ({ room: `cap-${Math.floor(i / members)}`, name: `c-${i}`, publisher: false }));
  run.figures.connectJoinPerSec = await run.connectAll(spread(specs, run.pool.size, true));
  const used = run.utilisation(mark);
  run.figures.cpuMsPer1kConnects = (used.server * 1000) / (connections / 1000);
  run.figures.clientCpuMsPer1kConnects = (used.client * 1000) / (connections / 1000);
  // The same yardstick as for deliveries (finish): the client's CPU for the same connects.
  run.figures.serverPerClientCpu = used.client > 0 ? used.server / used.client : NaN;
  // Let the connection burst's garbage be collected before reading the resident size.
  await sleep(3_000);
  const rss1 = serverRss(run.server);
  run.figures.rssPerConnKiB = (rss1 - rss0) / connections / 1024;
  run.figures.rssAfterMiB = rss1 / 2 ** 20;
  if (s.broadcast) await broadcastToAll(run, 'cap-0', connections, s.broadcast);
  else await run.collect();
}

/** Publishes `messages` to the room every idle connection joined, one at a time, and counts who got them. */
async function broadcastToAll(run: Run, room: string, connections: number, messages: number): Promise<void> {
  const client = await run.publisher(room, 'socketio');
  await run.pool.all(() => ({ cmd: 'progress', intervalMs: 10 }), 5_000);
  const start = nowMs();
  const outcome = await withTimeout(
    publishMax({ client, room, pad: run.opts.pad, asString: run.opts.asString, store: false, pool: run.pool, messages, window: 1, maxMs: 60_000 }),
    90_000,
    'broadcast',
  );
  await run.pool.all(() => ({ cmd: 'expect', room, count: outcome.published }), 5_000);
  await run.drain(60_000);
  const { deliveries, lastRecvT } = await run.collect();
  run.checks.nacks += outcome.nacks;
  if (outcome.published < messages) run.notes.push(`only ${outcome.published} of ${messages} broadcasts were published`);
  run.figures.broadcastReached = deliveries / (connections * messages);
  run.figures.broadcastMsEach = (lastRecvT - start) / messages;
  client.terminate();
}

/** One scenario against one fresh server process; never throws (a failure is reported in the result). */
export async function runOnce(scenario: Scenario, kind: ServerKind, round: number, opts: RunOptions): Promise<RunResult> {
  let server: RunningServer | undefined;
  let pool: WorkerPool | undefined;
  let run: Run | undefined;
  let error: string | undefined;
  try {
    server = await startServer(kind, protocolOf(scenario));
    pool = WorkerPool.start(opts.workers, { ...opts, store: storesMessages(kind) });
    run = new Run(server, pool, { ...opts, store: storesMessages(kind) });
    await sleep(300);
    const r = run;
    const body =
      scenario.kind === 'rooms'
        ? rooms(run, scenario)
        : scenario.kind === 'capacity'
          ? capacity(run, scenario)
          : scenario.kind === 'hostile'
            ? hostile(server.port, scenario, run.figures, run.notes).then(({ disconnects }) => void (r.checks.disconnects += disconnects))
            : fanout(run, scenario);
    await withTimeout(body, 240_000, `${scenario.name} on ${kind}`);
    if (server.exit) throw new Error(`server exited during the run (${JSON.stringify(server.exit)})`);
  } catch (err) {
    if (err instanceof NotApplicable) return { scenario: scenario.name, server: kind, round, figures: {}, checks: emptyChecks(), notes: [err.message], notApplicable: true };
    error = (err as Error).message;
    if (server?.exit) error += ` | server exited ${JSON.stringify(server.exit)}: ${server.output().slice(-1500)}`;
  } finally {
    await pool?.terminate().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
  const result: RunResult = {
    scenario: scenario.name,
    server: kind,
    round,
    figures: run?.figures ?? {},
    checks: run?.checks ?? emptyChecks(),
    notes: run?.notes ?? [],
  };
  if (error !== undefined) result.error = error;
  return result;
}
