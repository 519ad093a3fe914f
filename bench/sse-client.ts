/**
 * An SSE load-generator stream: a plain node:http GET of /events/<namespace>/<room>, its body cut
 * into events at blank lines. Each event that carries `data:` goes to `onEvent` as its raw bytes
 * (`id:`, `event:` and `data:` lines), without decoding; comments (`: ping`) and `retry:` are
 * skipped. The stream counts as connected once the 200 answer's `retry:` arrived: by then the
 * service has admitted it and is joining its room (the harness waits for every join before it
 * publishes: see `joined`).
 */
import http from 'node:http';

const EVENT_END = Buffer.from('\n\n');
const DATA_LINE = Buffer.from('data:');

export interface SseClientOptions {
  port: number;
  onEvent?: (event: Buffer) => void;
  onLost?: (reason: string) => void;
  timeoutMs?: number;
}

export class SseBenchClient {
  private req: http.ClientRequest | undefined;
  private rest: Buffer | undefined;
  private connected = false;
  private closing = false;

  constructor(private readonly opts: SseClientOptions) {}

  /** Opens the stream of `room` in namespace `ns`; resolves on the first event block (`retry:`). */
  connect(ns: string, room: string, name: string): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          this.closing = true;
          this.req?.destroy();
          reject(err);
        } else {
          this.connected = true;
          resolve();
        }
      };
      const timer = setTimeout(() => settle(new Error(`SSE connect timed out after ${timeoutMs} ms`)), timeoutMs);
      const path = `/events/${ns}/${encodeURIComponent(room)}?name=${encodeURIComponent(name)}`;
      // No agent: one dedicated socket per stream, as a browser's EventSource has.
      const req = http.get({ host: '127.0.0.1', port: this.opts.port, path, agent: false, headers: { accept: 'text/event-stream' } });
      this.req = req;
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return settle(new Error(`SSE stream refused: HTTP ${res.statusCode}`));
        }
        res.on('data', (chunk: Buffer) => {
          if (!settled) settle();
          this.onData(chunk);
        });
        res.on('end', () => this.gone('stream ended'));
        res.on('close', () => this.gone('stream closed'));
      });
      req.on('error', (err) => (settled ? this.gone(`error: ${err.message}`) : settle(err)));
    });
  }

  get isConnected(): boolean {
    return this.connected && !this.closing;
  }

  terminate(): void {
    this.closing = true;
    this.req?.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const end = buf.indexOf(EVENT_END, start);
      if (end < 0) break;
      // An event with data (comments and retry: have none).
      const data = buf.indexOf(DATA_LINE, start);
      if (data >= 0 && data < end) this.opts.onEvent?.(buf.subarray(start, end + 1));
      start = end + 2;
    }
    this.rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
  }

  private gone(reason: string): void {
    const wasUp = this.connected && !this.closing;
    this.connected = false;
    this.closing = true;
    if (wasUp) this.opts.onLost?.(reason);
  }
}
