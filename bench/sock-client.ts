/**
 * A /sock load-generator connection: a raw `ws` client speaking the service's plain-WebSocket JSON
 * frames (docs/PROTOCOL.md, "/sock"). The default config needs no ticket: `?name=` names it.
 *
 * Subscribing waits for the server's `subscribe-topic` notice about this connection (sent to every
 * participant, the newcomer included, once its membership is in place). Published messages
 * (`"action":"message"`) go to `onEvent` as raw bytes; every other server frame (presence notices)
 * is ignored. /sock delivers a publication to its sender too (the Awayto contract): the publisher
 * takes its own copy as the acknowledgement of that message (see `notify`).
 */
import WebSocket from 'ws';
import { readSeq } from './protocol.js';

export const SOCK_PATH = '/sock';
const MESSAGE_NEEDLE = Buffer.from('"action":"message"');

export interface SockClientOptions {
  port: number;
  /** Every published message this connection receives, as raw bytes. */
  onEvent?: (frame: Buffer) => void;
  onLost?: (reason: string) => void;
  timeoutMs?: number;
}

export class SockBenchClient {
  private ws: WebSocket | undefined;
  private connectionId: string | undefined;
  private connected = false;
  private closing = false;
  /** One waiter at a time: connect (for `connected`), then subscribe (for its `subscribe-topic`). */
  private waiter: { test: (text: string) => boolean; done: (err?: Error) => void } | undefined;
  /** Publisher side: seq → its ack, resolved when the message comes back to this connection. */
  private readonly ownCopies = new Map<number, (ok: boolean) => void>();
  private readonly scratch = { seq: 0 };
  /** Own copies of messages this connection did not publish or got twice (self-deliveries in error). */
  unexpectedOwn = 0;

  constructor(private readonly opts: SockClientOptions) {}

  connect(name: string): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    const ws = new WebSocket(`ws://127.0.0.1:${this.opts.port}${SOCK_PATH}?name=${encodeURIComponent(name)}`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
      maxPayload: 64 * 1024 * 1024,
    });
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.onFrame(data));
    ws.on('error', (err) => this.gone(`error: ${err.message}`));
    ws.on('close', (code) => this.gone(`close ${code}`));
    return this.wait(timeoutMs, 'connected', (text) => {
      const m = /"action":"connected".*"connectionId":"([^"]+)"/.exec(text);
      if (m) this.connectionId = m[1];
      return m !== null;
    }).then(() => void (this.connected = true));
  }

  /** Subscribes to `topic`; resolves on the server's subscribe-topic notice about this connection. */
  subscribe(topic: string, timeoutMs = 15_000): Promise<void> {
    const needle = `"sender":${JSON.stringify(this.connectionId)}`;
    const done = this.wait(timeoutMs, `subscribe ${topic}`, (text) => text.includes('"action":"subscribe-topic"') && text.includes(needle));
    this.ws!.send(JSON.stringify({ action: 'subscribe', topic }));
    return done;
  }

  /**
   * Publishes a benchmark message; `done(true)` runs when its copy comes back to this connection
   * (in the topic's order, after every earlier one), `done(false)` if the connection goes first.
   * The message text is built by hand, like bench/protocol.ts notifyFrame.
   */
  notify(topicJson: string, seq: number, t: number, pad: string, _asString: boolean, done: (ok: boolean) => void): void {
    this.ownCopies.set(seq, done);
    this.ws!.send(`{"action":"message","topic":${topicJson},"payload":{"seq":${seq},"t":${t.toFixed(3)},"pad":"${pad}"}}`);
  }

  get isConnected(): boolean {
    return this.connected && !this.closing;
  }

  terminate(): void {
    this.closing = true;
    this.ws?.terminate();
  }

  private wait(timeoutMs: number, what: string, test: (text: string) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.waiter?.done(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      this.waiter = {
        test,
        done: (err) => {
          this.waiter = undefined;
          clearTimeout(timer);
          if (err) {
            this.closing = true;
            this.ws?.terminate();
            reject(err);
          } else resolve();
        },
      };
    });
  }

  private onFrame(buf: Buffer): void {
    if (buf.indexOf(MESSAGE_NEEDLE) >= 0) {
      if (this.ownCopies.size > 0 && readSeq(buf, this.scratch)) {
        const done = this.ownCopies.get(this.scratch.seq);
        if (done) {
          this.ownCopies.delete(this.scratch.seq);
          return done(true);
        }
      }
      if (this.opts.onEvent) this.opts.onEvent(buf);
      else this.unexpectedOwn++;
      return;
    }
    const waiter = this.waiter;
    if (waiter) {
      const text = buf.toString('utf8');
      if (text.includes('"action":"error"')) return waiter.done(new Error(`refused: ${text.slice(0, 300)}`));
      if (waiter.test(text)) waiter.done();
    }
  }

  private gone(reason: string): void {
    if (this.waiter) return this.waiter.done(new Error(reason));
    const wasUp = this.connected && !this.closing;
    this.connected = false;
    this.closing = true;
    for (const done of this.ownCopies.values()) done(false);
    this.ownCopies.clear();
    if (wasUp) this.opts.onLost?.(reason);
  }
}
