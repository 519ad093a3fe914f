/**
 * The SSE scenario's publisher: `POST /publish/<namespace>/<room>` (the service's HTTP publish API,
 * lib/http/routes.ts) on one keep-alive connection, requests pipelined. The fastest realistic way to
 * feed SSE streams from a backend: one TCP connection, no per-request handshake, and the answers
 * come back in request order, so each acknowledges its publication (HTTP 200 = delivered to every
 * stream on the node).
 *
 * Raw bytes over node:net: node's http client neither pipelines nor stays cheap at thousands of
 * requests a second, and this process shares the cores with the server.
 */
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

export class HttpPublisher {
  private socket: net.Socket | undefined;
  private rest: Buffer | undefined;
  /** Acks in request order. */
  private readonly waiting: ((ok: boolean) => void)[] = [];
  private head = 0;
  private connected = false;
  private readonly prefix: string;

  constructor(
    private readonly port: number,
    ns: string,
    room: string,
  ) {
    this.prefix = `POST /publish/${ns}/${encodeURIComponent(room)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: `;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: this.port, noDelay: true }, () => {
        this.connected = true;
        resolve();
      });
      this.socket = socket;
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err) => (this.connected ? this.gone() : reject(err)));
      socket.on('close', () => this.gone());
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** POSTs a benchmark message (`{seq, t, pad}`); `done(ok)` runs on its answer. */
  notify(_roomJson: string, seq: number, t: number, pad: string, _asString: boolean, done: (ok: boolean) => void): void {
    const body = `{"seq":${seq},"t":${t.toFixed(3)},"pad":"${pad}"}`;
    this.waiting.push(done);
    this.socket!.write(`${this.prefix}${body.length}\r\n\r\n${body}`);
  }

  terminate(): void {
    this.socket?.destroy();
  }

  /** Splits answers: status line, headers up to a blank line, then Content-Length bytes of body. */
  private onData(chunk: Buffer): void {
    let buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    for (;;) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) break;
      const head = buf.toString('latin1', 0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const total = end + 4 + (m ? Number(m[1]) : 0);
      if (buf.length < total) break;
      const ok = head.startsWith('HTTP/1.1 200');
      buf = buf.subarray(total);
      const done = this.waiting[this.head];
      this.waiting[this.head++] = undefined as unknown as (ok: boolean) => void;
      done?.(ok);
    }
    this.rest = buf.length > 0 ? Buffer.from(buf) : undefined;
  }

  private gone(): void {
    if (!this.connected) return;
    this.connected = false;
    for (let i = this.head; i < this.waiting.length; i++) this.waiting[i]?.(false);
    this.waiting.length = 0;
    this.head = 0;
  }
}
