/**
 * A client worker thread: holds a share of the connections, accounts every delivery, runs the
 * local publishers of the rooms scenario, and reports progress to the coordinator. Commands and
 * replies are the shapes in pool.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BenchClient } from './client.js';
import type { ClientSpec, ConnectResult, Progress, PublishResult, WorkerCommand, WorkerSettings, WorkerStats } from './pool.js';
import { isEventFrame, nowMs, parseEventFully, readSeqAndTime } from './protocol.js';
import { SockBenchClient } from './sock-client.js';
import { SseBenchClient } from './sse-client.js';
import { LatencyHistogram } from './stats.js';
import { DeliveryTracker } from './tracker.js';

const { settings } = workerData as { index: number; settings: WorkerSettings };

interface Room {
  name: string;
  json: string;
  /** `"room":"<name>"` as bytes: an EVENT for another room lacks it. */
  needle: Buffer;
  /** The same for /sock frames: `"topic":"<name>"`. */
  topicNeedle: Buffer;
  /** Messages published to it so far; every subscriber should end up with exactly these. */
  expected: number;
  subscribers: DeliveryTracker[];
}

const rooms = new Map<string, Room>();
const clients: { terminate(): void }[] = [];
const publishers: { client: BenchClient; room: Room }[] = [];
const hist = new LatencyHistogram();
let lastRecvT = 0;
let self = 0;
let malformed = 0;
let disconnects = 0;
let firstDisconnect: string | undefined;
let progressTimer: NodeJS.Timeout | undefined;
const scratch = { seq: 0, t: 0 };

function roomOf(name: string): Room {
  let room = rooms.get(name);
  if (!room) {
    room = { name, json: JSON.stringify(name), needle: Buffer.from(`"room":${JSON.stringify(name)}`), topicNeedle: Buffer.from(`"topic":${JSON.stringify(name)}`), expected: 0, subscribers: [] };
    rooms.set(name, room);
  }
  return room;
}

/** The subscriber hot path: runs once per delivery, so it decodes nothing unless told to. */
function subscriberHandler(room: Room, tracker: DeliveryTracker): (frame: Buffer) => void {
  if (settings.parse === 'full') {
    return (frame) => {
      const event = isEventFrame(frame) ? parseEventFully(frame) : undefined;
      if (!event) return void malformed++;
      if (event.room !== room.name) return void tracker.foreign++;
      const now = nowMs();
      tracker.record(event.seq);
      hist.add(now - event.t);
      lastRecvT = now;
    };
  }
  return (frame) => {
    if (!isEventFrame(frame) || !readSeqAndTime(frame, scratch)) return void malformed++;
    if (frame.indexOf(room.needle) < 0) return void tracker.foreign++;
    const now = nowMs();
    tracker.record(scratch.seq);
    hist.add(now - scratch.t);
    lastRecvT = now;
  };
}

const ID_LINE = Buffer.from('id: ');

/**
 * /sock and SSE subscribers: a /sock message frame, or an SSE event block (which must start with
 * its `id:` line: a message without its position could not be resumed from).
 */
function plainHandler(protocol: 'sock' | 'sse', room: Room, tracker: DeliveryTracker): (frame: Buffer) => void {
  const needle = protocol === 'sock' ? room.topicNeedle : room.needle;
  return (frame) => {
    if (protocol === 'sse' && frame.compare(ID_LINE, 0, ID_LINE.length, 0, ID_LINE.length) !== 0) return void malformed++;
    if (!readSeqAndTime(frame, scratch, 0)) return void malformed++;
    if (frame.indexOf(needle) < 0) return void tracker.foreign++;
    const now = nowMs();
    tracker.record(scratch.seq);
    hist.add(now - scratch.t);
    lastRecvT = now;
  };
}

/** Connects one spec's client and joins its room; returns it (closed on failure). */
async function open(spec: ClientSpec, port: number, timeoutMs: number, tracker: DeliveryTracker | undefined, room: Room): Promise<{ terminate(): void }> {
  const protocol = spec.protocol ?? 'socketio';
  if (protocol === 'socketio') {
    const client = new BenchClient({ port, timeoutMs, onLost, onEvent: tracker ? subscriberHandler(room, tracker) : () => void self++ });
    try {
      await client.connect();
      await client.join(spec.room, spec.name, settings.asString);
    } catch (err) {
      client.terminate();
      throw err;
    }
    if (!tracker) publishers.push({ client, room });
    return client;
  }
  if (!tracker) throw new Error(`${protocol}: publishers run in the coordinator`);
  const onEvent = plainHandler(protocol, room, tracker);
  if (protocol === 'sock') {
    const client = new SockBenchClient({ port, timeoutMs, onLost, onEvent });
    try {
      await client.connect(spec.name);
      await client.subscribe(spec.room, timeoutMs);
    } catch (err) {
      client.terminate();
      throw err;
    }
    return client;
  }
  const client = new SseBenchClient({ port, timeoutMs, onLost, onEvent });
  await client.connect('layout', spec.room, spec.name);
  return client;
}

const onLost = (reason: string): void => {
  disconnects++;
  firstDisconnect ??= reason;
};

async function connect(port: number, specs: ClientSpec[], concurrency: number, timeoutMs: number): Promise<ConnectResult> {
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  // A bounded number of handshakes in flight: a burst of thousands of SYNs overflows the listen backlog.
  const lane = async (): Promise<void> => {
    while (next < specs.length) {
      const spec = specs[next++]!;
      const room = roomOf(spec.room);
      const tracker = spec.publisher ? undefined : new DeliveryTracker();
      try {
        clients.push(await open(spec, spec.port ?? port, timeoutMs, tracker, room));
        if (tracker) room.subscribers.push(tracker);
        connected++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, lane));
  return firstError === undefined ? { connected, failed } : { connected, failed, firstError };
}

function progress(): Progress {
  let received = 0;
  let minDistinct = Infinity;
  let distinct = 0;
  let deficit = 0;
  for (const room of rooms.values()) {
    for (const sub of room.subscribers) {
      received += sub.received;
      distinct += sub.distinct;
      if (sub.distinct < minDistinct) minDistinct = sub.distinct;
      if (sub.distinct < room.expected) deficit += room.expected - sub.distinct;
    }
  }
  return { received, minDistinct, distinct, deficit, lastRecvT };
}

/** Each local publisher sends about ratePerSec messages a second, at jittered intervals (0.5-1.5 × the period), for durationMs. */
function publish(ratePerSec: number, durationMs: number, pad: string): Promise<PublishResult> {
  const period = 1000 / ratePerSec;
  const end = nowMs() + durationMs;
  let published = 0;
  let nacks = 0;
  let inFlight = 0;
  let running = publishers.length;
  return new Promise((resolve) => {
    const finish = (): void => {
      if (running === 0 && inFlight === 0) resolve({ published, nacks });
    };
    for (const { client, room } of publishers) {
      const tick = (): void => {
        if (nowMs() >= end || !client.isConnected) {
          running--;
          return finish();
        }
        const seq = ++room.expected;
        published++;
        inFlight++;
        client.notify(room.json, seq, nowMs(), pad, settings.asString, (ok) => {
          inFlight--;
          if (!ok) nacks++;
          finish();
        }, settings.store);
        setTimeout(tick, period * (0.5 + Math.random()));
      };
      // Spread the first messages over one period so the rooms do not publish in lockstep.
      setTimeout(tick, period * Math.random());
    }
    finish();
  });
}

function collect(): WorkerStats {
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let foreign = 0;
  let subscribers = 0;
  for (const room of rooms.values()) {
    for (const sub of room.subscribers) {
      subscribers++;
      lost += sub.lost(room.expected);
      duplicates += sub.duplicates;
      outOfOrder += sub.outOfOrder;
      foreign += sub.foreign;
    }
  }
  const stats: WorkerStats = {
    ...progress(),
    subscribers,
    lost,
    duplicates,
    outOfOrder,
    self,
    foreign,
    malformed,
    disconnects,
    hist: { counts: hist.counts, count: hist.count, max: hist.max },
  };
  if (firstDisconnect !== undefined) stats.firstDisconnect = firstDisconnect;
  return stats;
}

async function handle(command: WorkerCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connect(command.port, command.clients, command.concurrency, command.timeoutMs);
    case 'progress':
      clearInterval(progressTimer);
      if (command.intervalMs > 0) progressTimer = setInterval(() => parentPort!.postMessage({ progress: progress() }), command.intervalMs);
      return {};
    case 'snapshot':
      return progress();
    case 'expect':
      roomOf(command.room).expected = command.count;
      return {};
    case 'publish':
      return publish(command.ratePerSec, command.durationMs, command.pad);
    case 'collect':
      return collect();
    case 'close':
      clearInterval(progressTimer);
      for (const client of clients) client.terminate();
      return {};
  }
}

parentPort!.on('message', (msg: WorkerCommand & { id: number }) => {
  handle(msg).then(
    (result) => parentPort!.postMessage({ id: msg.id, ok: true, result }),
    (err: unknown) => parentPort!.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
