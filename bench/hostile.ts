/**
 * The `hostile` scenario: 100 normal clients each NOTIFY their own room with an ack every 100 ms
 * (measuring the ack round trip), first alone (quiet), then while an attacker (bench/attacker.ts,
 * another thread) sends the worst frames the limits allow and deep frames that are refused.
 * The figure that matters: the normal clients' ack p99 under attack against the quiet one.
 */
import { Worker } from 'node:worker_threads';
import { optionDefault } from '../lib/config/option-values.js';
import { BenchClient } from './client.js';
import { nowMs } from './protocol.js';
import { LatencyHistogram } from './stats.js';

export interface HostileScenario {
  name: string;
  kind: 'hostile';
  clients: number;
  pingMs: number;
  durationMs: number;
  /** Also the frames within the limits (max size, max depth - 1); else only the refused deep frames. */
  heavyFrames: boolean;
}

/** The service's defaults, which the bench servers run with. */
const MAX_DEPTH = optionDefault('max-depth');
const MAX_PAYLOAD = optionDefault('max-payload');
const BYTE_RATE = optionDefault('byte-rate');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pings from every client for `durationMs`; the round trips' histogram and how many acks never came. */
async function pingPhase(clients: BenchClient[], pingMs: number, durationMs: number): Promise<{ hist: LatencyHistogram; missing: number }> {
  const hist = new LatencyHistogram();
  let missing = 0;
  const end = nowMs() + durationMs;
  await Promise.all(
    clients.map(async (client, i) => {
      await sleep((pingMs * i) / clients.length); // spread the clients over the interval
      while (nowMs() < end) {
        const t = nowMs();
        const reply = await Promise.race([client.request('NOTIFY', { room: `ping-${i}`, message: t }), sleep(10_000).then(() => undefined)]);
        if ((reply?.[0] as { ok?: unknown } | undefined)?.ok === true) hist.add(nowMs() - t);
        else missing++;
        await sleep(Math.max(0, pingMs - (nowMs() - t)));
      }
    }),
  );
  return { hist, missing };
}

export async function hostile(
  port: number,
  s: HostileScenario,
  figures: Record<string, number>,
  notes: string[],
): Promise<{ disconnects: number }> {
  let disconnects = 0;
  const clients: BenchClient[] = [];
  for (let i = 0; i < s.clients; i++) {
    const client = new BenchClient({ port, onLost: () => void disconnects++ });
    await client.connect();
    await client.join(`ping-${i}`, `normal-${i}`, false);
    clients.push(client);
  }
  await pingPhase(clients, s.pingMs, 1000); // warm-up
  const quiet = await pingPhase(clients, s.pingMs, s.durationMs);

  const attacker = new Worker(new URL('./attacker.js', import.meta.url), { workerData: { port, maxDepth: MAX_DEPTH, maxPayload: MAX_PAYLOAD, byteRate: BYTE_RATE, heavyFrames: s.heavyFrames } });
  await new Promise<void>((resolve, reject) => {
    attacker.once('message', () => resolve());
    attacker.once('error', reject);
  });
  const start = nowMs();
  const attacked = await pingPhase(clients, s.pingMs, s.durationMs);
  const seconds = (nowMs() - start) / 1000;
  const counts = await new Promise<{ heavyAcked: number; heavyRateLimited: number; heavyCut: number; refusedSent: number; refusedClosed: number; handshakesRefused: number }>((resolve) => {
    attacker.once('message', resolve);
    attacker.postMessage('stop');
  });
  await attacker.terminate();
  for (const client of clients) client.terminate();

  figures.quietP50Ms = quiet.hist.quantile(0.5);
  figures.quietP99Ms = quiet.hist.quantile(0.99);
  figures.attackP50Ms = attacked.hist.quantile(0.5);
  figures.attackP99Ms = attacked.hist.quantile(0.99);
  figures.attackMaxMs = attacked.hist.max;
  figures.p99Ratio = figures.attackP99Ms / figures.quietP99Ms;
  figures.heavyFramesPerSec = counts.heavyAcked / seconds;
  figures.heavyRateLimitedPerSec = counts.heavyRateLimited / seconds;
  figures.heavyCuts = counts.heavyCut;
  figures.refusedFramesPerSec = counts.refusedClosed / seconds;
  figures.attackerHandshakesRefused = counts.handshakesRefused;
  if (quiet.missing + attacked.missing > 0) notes.push(`acks missing: ${quiet.missing} quiet, ${attacked.missing} under attack`);
  return { disconnects };
}
