/**
 * The attacker of the `hostile` scenario, in its own thread so that its frame building and
 * sending do not delay the measuring clients: one connection sends the worst frames the limits
 * allow (a NOTIFY whose message nests --max-depth - 1 levels and fills --max-payload with small
 * numbers, two in flight, as fast as its rate limit lets it: the next frame as soon as an ack
 * comes, after a RATE_LIMITED ack only once the --byte-rate budget has had time to take one more
 * frame, reconnecting when cut), another sends 2-million-deep `[[[[…` frames
 * (4 MB) that the server refuses by closing the connection, reconnecting each time.
 *
 * It connects from 127.0.0.2, an address the service does not exempt from its limits (only
 * 127.0.0.1 and ::1 are, as trusted local tools), as a remote client would: so its connections
 * count for --conn-rate and --violation-limit. A refused handshake is retried after 100 ms.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { CONNECT, EVENT_PREFIX, WS_PATH } from './protocol.js';

const { port, maxDepth, maxPayload, byteRate, heavyFrames } = workerData as { port: number; maxDepth: number; maxPayload: number; byteRate: number; heavyFrames: boolean };
let stopping = false;
const counts = { heavyAcked: 0, heavyRateLimited: 0, heavyCut: 0, refusedSent: 0, refusedClosed: 0, handshakesRefused: 0 };
/** Not in the service's default --rate-limit-exempt. */
const ATTACKER_ADDRESS = '127.0.0.2';
const RETRY_MS = 100;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A message `maxDepth - 1` levels deep of about maxPayload bytes: the payload object is the last level. */
function heavyMessage(): string {
  const levels = maxDepth - 1;
  const room = 1024;
  const numbers = Math.floor((maxPayload - 2 * levels - room) / 2);
  return `${'['.repeat(levels)}${'0,'.repeat(numbers - 1)}0${']'.repeat(levels)}`;
}

/** Opens a /layout connection; resolves once the namespace is joined (onClose: whether it had been). */
function open(onMessage: (text: string) => void, onClose: (joined: boolean) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, localAddress: ATTACKER_ADDRESS });
    let joined = false;
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (!joined) counts.handshakesRefused++;
      onClose(joined);
      reject(new Error('closed before connect'));
    });
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text[0] === '0') ws.send(CONNECT);
      else if (text === '2') ws.send('3');
      else if (text.startsWith('40')) {
        joined = true;
        resolve(ws);
      }
      else onMessage(text);
    });
  });
}

async function heavy(): Promise<void> {
  const body = `["NOTIFY",{"room":"hostile-sink","message":${heavyMessage()}}]`;
  // After a refusal: wait until the bucket has drained one frame's worth (the rate limit's pace).
  const paceMs = byteRate > 0 ? (1000 * body.length) / byteRate : 0;
  let id = 0;
  let ws: WebSocket | undefined;
  const send = (): void => {
    if (!stopping && ws?.readyState === WebSocket.OPEN) ws.send(`${EVENT_PREFIX}${id++}${body}`);
  };
  const connect = async (): Promise<void> => {
    ws = await open(
      (text) => {
        if (!text.startsWith('43')) return;
        if (text.includes('"RATE_LIMITED"')) {
          counts.heavyRateLimited++;
          setTimeout(send, paceMs);
        } else {
          counts.heavyAcked++;
          send();
        }
      },
      (joined) => {
        if (stopping) return;
        if (joined) counts.heavyCut++;
        setTimeout(() => void connect().catch(() => undefined), RETRY_MS);
      },
    );
    send();
    send();
  };
  // Refused (an earlier round's violations): the close handler retries.
  await connect().catch(() => undefined);
}

async function refused(): Promise<void> {
  const frame = `${EVENT_PREFIX}["NOTIFY",${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}]`;
  while (!stopping) {
    const joined = await new Promise<boolean>((resolve) => {
      open(() => undefined, (joined) => {
        if (joined) counts.refusedClosed++;
        resolve(joined);
      }).then((ws) => {
        counts.refusedSent++;
        ws.send(frame);
      }, () => undefined);
    });
    if (!joined) await pause(RETRY_MS);
  }
}

parentPort!.on('message', (msg: string) => {
  if (msg === 'stop') {
    stopping = true;
    parentPort!.postMessage(counts);
  }
});
if (heavyFrames) void heavy().then(() => parentPort!.postMessage('started'));
else parentPort!.postMessage('started');
void refused();
