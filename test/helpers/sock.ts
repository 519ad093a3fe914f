/**
 * Plain WebSocket clients (the `ws` package) for /sock: every frame received is queued, tests wait
 * for the next frame (of an action) or for the close, never for time. `closeSockets` closes every
 * client a test opened.
 */
import { WebSocket, type ClientOptions } from 'ws';

export interface SockFrameIn {
  action: string;
  timestamp: string;
  topic?: string;
  sender?: string;
  payload?: any;
  store?: boolean;
  meta?: { offset: number; epoch: string; ts: number };
  historical?: true;
}

export interface SockClient {
  ws: WebSocket;
  connectionId: string;
  /** Every frame received so far, in order. */
  frames: SockFrameIn[];
  send(frame: unknown): void;
  /** The next frame not yet taken (of `action`, when given: frames of other actions are skipped). */
  next(action?: string, ms?: number): Promise<SockFrameIn>;
  /** Resolves with the close code. */
  closed: Promise<number>;
}

const open = new Set<WebSocket>();

export function closeSockets(): void {
  for (const ws of open) ws.terminate();
  open.clear();
}

/** `url` as http://host:port; `path` e.g. '/sock' or '/sock?name=x'. Resolves after the `connected` frame. */
export async function openSock(url: string, path = '/sock', options: ClientOptions = {}): Promise<SockClient> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, options);
  open.add(ws);
  const frames: SockFrameIn[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) frames.push(JSON.parse(data.toString()) as SockFrameIn);
    wake?.();
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => {
    open.delete(ws);
    resolve(code);
    wake?.();
  }));
  const client: SockClient = {
    ws,
    connectionId: '',
    frames,
    closed,
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    async next(action, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        while (taken < frames.length) {
          const frame = frames[taken++]!;
          if (action === undefined || frame.action === action) return frame;
        }
        if (ws.readyState === ws.CLOSED) throw new Error(`closed before a ${action ?? 'frame'} arrived`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${action ?? 'frame'} within ${ms} ms (got ${frames.map((f) => f.action).join(', ')})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
  };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
  const connected = await client.next('connected');
  client.connectionId = connected.payload.connectionId;
  return client;
}

/** An upgrade that must be refused: its HTTP status and JSON body. */
export function refusedUpgrade(url: string, path: string, options: ClientOptions = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + path, options);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    ws.once('error', () => undefined);
  });
}
