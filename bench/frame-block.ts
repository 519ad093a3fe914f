/**
 * How long one hostile frame holds a server's event loop: `node dist/bench/frame-block.js [kind]`
 * (kind `us`, or `us-before` with BENCH_BEFORE_SERVER=<other build>/dist/server.js). A pinger
 * sends NOTIFYs back to back with acks; one 4 MB `42/layout,["NOTIFY",[[[[…]]]]]` frame (2 million
 * levels) is sent from another connection; the longest ack round trip around it, minus the
 * quiet one, is how long the server could not answer anybody.
 */
import WebSocket from 'ws';
import { BenchClient } from './client.js';
import { CONNECT, EVENT_PREFIX, WS_PATH, nowMs } from './protocol.js';
import { killAllServers, startServer, type ServerKind } from './servers.js';

const kind = (process.argv[2] ?? 'us') as ServerKind;
const FRAMES = Number(process.argv[3] ?? 3);

async function pingMax(client: BenchClient, ms: number): Promise<number> {
  let max = 0;
  const end = nowMs() + ms;
  while (nowMs() < end) {
    const t = nowMs();
    await client.request('NOTIFY', { room: 'block', message: 1 });
    max = Math.max(max, nowMs() - t);
  }
  return max;
}

function sendDeepFrame(port: number): Promise<void> {
  const frame = `${EVENT_PREFIX}["NOTIFY",${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}]`;
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`, { perMessageDeflate: false });
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text[0] === '0') ws.send(CONNECT);
      else if (text.startsWith('40')) ws.send(frame, () => resolve());
    });
  });
}

async function main(): Promise<void> {
  const server = await startServer(kind);
  try {
    const pinger = new BenchClient({ port: server.port });
    await pinger.connect();
    await pingMax(pinger, 500);
    const quiet = await pingMax(pinger, 1000);
    const blocks: number[] = [];
    for (let i = 0; i < FRAMES; i++) {
      const around = pingMax(pinger, 4000);
      await sendDeepFrame(server.port);
      blocks.push(await around);
    }
    process.stdout.write(`${kind}: quiet max ack ${quiet.toFixed(1)} ms; max ack around each 4 MB [[[[ frame: ${blocks.map((b) => b.toFixed(0)).join(', ')} ms\n`);
    pinger.terminate();
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`frame-block failed: ${String(err)}\n`);
  killAllServers();
  process.exit(1);
});
