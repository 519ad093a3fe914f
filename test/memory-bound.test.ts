/**
 * The process stays within its memory bound under a flood of large messages: 400 NOTIFYs of 3 MiB
 * into distinct rooms (the default, open configuration) must not be kept whole by the recent
 * history or the recovery buffer. The service runs as its own process (dist/server.js); its RSS is
 * read from /proc.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { defaultConfig } from '../lib/config/index.js';
import { worstCaseMemory } from '../lib/abuse/memory-budget.js';
import { startCli, type RunningProcess } from './helpers/process.js';

const MIB = 1024 * 1024;
const MESSAGES = 400;
const MESSAGE_BYTES = 3 * MIB;
/** NOTIFYs in flight at once (acks pace the publisher). */
const WINDOW = 4;

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error('no VmRSS in /proc status');
  return Number(match[1]) * 1024;
}

/** A raw Socket.IO v5 client on /layout: cheaper than socket.io-client for 1.2 GB of frames. */
class RawPublisher {
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = String(data);
      if (text === '2') return ws.send('3');
      const ack = /^43\/layout,(\d+)(.*)$/s.exec(text);
      if (!ack) return;
      const id = Number(ack[1]);
      this.waiting.get(id)?.(JSON.parse(ack[2]!)[0]);
      this.waiting.delete(id);
    });
  }

  static open(url: string): Promise<RawPublisher> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { maxPayload: 16 * MIB });
      ws.once('error', reject);
      ws.once('message', () => {
        ws.send('40/layout,');
        ws.once('message', () => resolve(new RawPublisher(ws)));
      });
    });
  }

  request(event: string, payload: string): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(`42/layout,${id}["${event}",${payload}]`);
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

async function flood(publisher: RawPublisher, joined: boolean): Promise<void> {
  const body = 'x'.repeat(MESSAGE_BYTES);
  const room = (i: number) => `flood-${i}`;
  if (joined) {
    for (let i = 0; i < MESSAGES; i++) expect(await publisher.request('JOIN', JSON.stringify({ room: room(i) }))).to.include({ ok: true });
  }
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < MESSAGES) {
      const i = sent++;
      const answer = await publisher.request('NOTIFY', `{"room":"${room(i)}","message":"${body}"}`);
      expect(answer).to.include({ ok: true });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
}

/** The lowest RSS seen over `ms` (V8 hands freed pages back after a collection, not at once). */
async function settledRss(pid: number, under: number, ms: number): Promise<number> {
  let lowest = rssBytes(pid);
  const until = Date.now() + ms;
  while (lowest >= under && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100)); // sampling interval of a measurement, not a synchronisation
    lowest = Math.min(lowest, rssBytes(pid));
  }
  return lowest;
}

describe('memory bound: 400 × 3 MiB NOTIFYs into distinct rooms', function () {
  this.timeout(180_000);
  let server: RunningProcess | undefined;
  let publisher: RawPublisher | undefined;

  afterEach(async () => {
    publisher?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });

  // The configuration's worst case with one connection, from the formula in docs/PERFORMANCE.md.
  const bound = worstCaseMemory(defaultConfig(), 1);
  const limit = Math.min(400 * MIB, 2 * bound); // live bytes within the bound, plus as much uncollected garbage

  for (const joined of [false, true]) {
    it(`keeps RSS growth under ${Math.round(limit / MIB)} MiB (publisher ${joined ? 'joined to' : 'not in'} the rooms)`, async () => {
      server = await startCli(['--byte-rate', '0']); // a flood on one connection is the point here: no byte rate
      const pid = server.child.pid!;
      publisher = await RawPublisher.open(server.url);
      await publisher.request('JOIN', '{"room":"warm-up"}');
      const before = rssBytes(pid);
      await flood(publisher, joined);
      const after = await settledRss(pid, before + limit, 5000);
      const grew = after - before;
      expect(grew, `RSS grew by ${Math.round(grew / MIB)} MiB (from ${Math.round(before / MIB)} MiB)`).to.be.below(limit);
    });
  }
});
