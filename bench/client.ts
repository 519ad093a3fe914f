/**
 * One load-generator connection: a raw `ws` client speaking Engine.IO v4 / Socket.IO v5 on /layout.
 * No socket.io-client: its per-packet decoding, event emitter layers and timers would make the
 * client side (which shares the 2 cores with the server) the bottleneck long before the server.
 */
import WebSocket from 'ws';
import {
  ACK_PREFIX,
  CONNECT,
  EIO_CLOSE,
  EIO_MESSAGE,
  EIO_OPEN,
  EIO_PING,
  emitFrame,
  notifyFrame,
  NSP,
  SIO_ACK,
  SIO_CONNECT,
  SIO_CONNECT_ERROR,
  SIO_DISCONNECT,
  SIO_EVENT,
  splitIdAndBody,
  WS_PATH,
} from './protocol.js';

export interface ClientOptions {
  port: number;
  /** Every EVENT frame, as the raw bytes off the wire. */
  onEvent?: (frame: Buffer) => void;
  /** The connection went away while nobody was closing it. */
  onLost?: (reason: string) => void;
  /** Bound on the WebSocket handshake plus the namespace connect. */
  timeoutMs?: number;
}

type AckHandler = (args: unknown[] | undefined) => void;

export class BenchClient {
  private ws: WebSocket | undefined;
  private nextId = 0;
  private readonly acks = new Map<number, AckHandler>();
  private connected = false;
  private closing = false;
  private connectDone: ((err?: Error) => void) | undefined;

  constructor(private readonly opts: ClientOptions) {}

  /** Opens the WebSocket and joins the namespace; resolves on `40/layout,{"sid":...}`. */
  connect(): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${this.opts.port}${WS_PATH}`, {
        perMessageDeflate: false,
        // The frames are ASCII we generate ourselves; validation would be pure client overhead.
        skipUTF8Validation: true,
        handshakeTimeout: timeoutMs,
        maxPayload: 16 * 1024 * 1024,
      });
      this.ws = ws;
      const timer = setTimeout(() => this.connectDone?.(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
      this.connectDone = (err) => {
        this.connectDone = undefined;
        clearTimeout(timer);
        if (err) {
          this.closing = true;
          ws.terminate();
          reject(err);
        } else {
          this.connected = true;
          resolve();
        }
      };
      ws.on('message', (data: Buffer) => this.onFrame(data));
      ws.on('error', (err) => this.gone(`error: ${err.message}`));
      ws.on('close', (code) => this.gone(`close ${code}`));
    });
  }

  /** Emits with an ack; resolves with the ack's arguments, or undefined if the connection closed first. */
  request(event: string, payload: unknown): Promise<unknown[] | undefined> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.acks.set(id, resolve);
      this.ws!.send(emitFrame(id, event, payload));
    });
  }

  /** JOIN {room, name}; the payload is a JSON string when `asString` (as the 2-IMMERSE client library sends it). */
  async join(room: string, name: string, asString: boolean): Promise<void> {
    const payload = asString ? JSON.stringify({ room, name }) : { room, name };
    const reply = await this.request('JOIN', payload);
    const ack = reply?.[0] as { ok?: unknown; error?: unknown } | undefined;
    if (ack?.ok !== true) throw new Error(`JOIN ${room} refused: ${JSON.stringify(ack ?? 'connection closed')}`);
  }

  /** NOTIFY with a benchmark message; `done(ok)` runs on the ack. Callback, not promise: this is the publisher's hot path. */
  notify(roomJson: string, seq: number, t: number, pad: string, asString: boolean, done: (ok: boolean) => void, store = false): void {
    const id = this.nextId++;
    this.acks.set(id, (args) => done((args?.[0] as { ok?: unknown } | undefined)?.ok === true));
    this.ws!.send(notifyFrame(id, roomJson, seq, t, pad, asString, store));
  }

  get isConnected(): boolean {
    return this.connected && !this.closing;
  }

  /** Drops the TCP connection at once (no close handshake: the run is over, nobody measures this). */
  terminate(): void {
    this.closing = true;
    this.ws?.terminate();
  }

  private onFrame(buf: Buffer): void {
    const type = buf[0];
    if (type === EIO_MESSAGE) {
      const sio = buf[1];
      if (sio === SIO_EVENT) {
        this.opts.onEvent?.(buf);
      } else if (sio === SIO_ACK) {
        const { id, body } = splitIdAndBody(buf.toString('utf8'), ACK_PREFIX.length);
        const handler = this.acks.get(id);
        if (handler) {
          this.acks.delete(id);
          handler(JSON.parse(body) as unknown[]);
        }
      } else if (sio === SIO_CONNECT) {
        this.connectDone?.();
      } else if (sio === SIO_CONNECT_ERROR) {
        this.connectDone?.(new Error(`namespace ${NSP} refused: ${buf.toString('utf8')}`));
      } else if (sio === SIO_DISCONNECT) {
        this.gone('server disconnected the namespace');
      }
    } else if (type === EIO_PING) {
      // Engine.IO v4: the server pings, the client answers; a missed pong closes the connection.
      this.ws!.send('3');
    } else if (type === EIO_OPEN) {
      this.ws!.send(CONNECT);
    } else if (type === EIO_CLOSE) {
      this.gone('server closed the Engine.IO session');
    }
  }

  private gone(reason: string): void {
    if (this.connectDone) {
      this.connectDone(new Error(reason));
      return;
    }
    const wasUp = this.connected && !this.closing;
    this.connected = false;
    this.closing = true;
    for (const handler of this.acks.values()) handler(undefined);
    this.acks.clear();
    if (wasUp) this.opts.onLost?.(reason);
  }
}
