/**
 * A Server-Sent Events stream as a hub member (held by the hub, no group): each delivery becomes
 * one event, `id: <epoch>:<offset>` (messages only), `event: <name>`, `data: <JSON on one line>`.
 * A delivery is encoded once however many streams it goes to. A reader that falls more than
 * --max-send-buffer behind is cut, as a slow socket.io consumer is.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AuthState } from '../auth/principal.js';
import type { SseEvent } from '../core/dispatch.js';
import { RoomNames } from '../core/room-names.js';
import type { Envelope, Protocol, Subscriber } from '../core/types.js';
import { stringifyWithRaw } from '../json/raw-json.js';
import { SharedChunk, writeSharedChunk } from '../transport/index.js';

/** Why a stream must be reloaded, as `event: reset` says (from the history's RecoveryFailure). */
const RESET_REASONS: Readonly<Record<string, string>> = {
  EPOCH_CHANGED: 'epoch_changed',
  TOO_OLD: 'too_old',
  UNKNOWN_OFFSET: 'unknown_position',
  // The shared history cannot be read now: what was missed is as lost as if too old.
  UNAVAILABLE: 'too_old',
};

/** One SSE event's text; `data` as one line of JSON (JSON escapes every line break). */
export function sseText(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${stringifyWithRaw(data) ?? 'null'}\n\n`;
}

/**
 * The last delivery encoded, and for which format: the next stream of the same delivery reuses its
 * bytes (a fan-out writes one delivery to all its streams before the next).
 */
let lastEnvelope: Envelope | undefined;
let lastFormat: SseEvent | undefined;
let lastChunk: SharedChunk | undefined;

function encode(envelope: Envelope, format: SseEvent | undefined): SharedChunk {
  if (envelope === lastEnvelope && format === lastFormat) return lastChunk!;
  const { event, data } = format ? format(envelope) : { event: envelope.event, data: envelope.args[0] ?? null };
  const meta = envelope.meta;
  lastChunk = new SharedChunk(sseText(event, data, meta ? `${meta.epoch}:${meta.offset}` : undefined));
  lastEnvelope = envelope;
  lastFormat = format;
  return lastChunk;
}

export interface SseMemberOptions {
  ns: string;
  auth: AuthState | undefined;
  res: ServerResponse;
  /** The namespace's SSE form of a delivery (lib/core/dispatch.ts HttpProtocol.sseEvent). */
  format: SseEvent | undefined;
  maxSendBuffer: number;
  /** Called once when the reader fell too far behind (the stream is destroyed right after). */
  onSlow: (unsent: number) => void;
}

export class SseMember implements Subscriber {
  readonly protocol: Protocol = 'sse';
  readonly trusted = false;
  readonly group = undefined;
  readonly rooms = new RoomNames();
  readonly id = `sse-${randomBytes(16).toString('base64url')}`;
  readonly ns: string;
  readonly auth: AuthState | undefined;
  closed = false;

  constructor(private readonly options: SseMemberOptions) {
    this.ns = options.ns;
    this.auth = options.auth;
  }

  get connected(): boolean {
    return !this.closed && !this.options.res.destroyed;
  }

  /** A delivery: its bytes, made once for every stream, written by the short path (lib/transport/sse-writes.ts). */
  send(envelope: Envelope): void {
    const shared = encode(envelope, this.options.format);
    if (this.admit(shared.bytes)) writeSharedChunk(this.options.res, shared);
  }

  /** Writes text to the stream, unless it is closed or its reader is too far behind (then it is cut). */
  write(text: string): void {
    if (this.admit(text.length)) this.options.res.write(text);
  }

  /** Whether `bytes` more may be written: open, and within --max-send-buffer (else it is cut). */
  private admit(bytes: number): boolean {
    if (!this.connected) return false;
    const { res, maxSendBuffer } = this.options;
    const unsent = res.writableLength;
    if (unsent + bytes > maxSendBuffer) {
      this.closed = true;
      this.options.onSlow(unsent);
      res.destroy();
      return false;
    }
    return true;
  }

  /** A message it missed could not be replayed: `event: reset`, before any live message of the room. */
  onRecovery(room: string, recovered: boolean, reason: string | undefined): void {
    if (!recovered) this.write(sseText('reset', { reason: RESET_REASONS[reason ?? ''] ?? 'unknown_position', room }));
  }

  unsentBytes(): number {
    return this.options.res.writableLength;
  }
}
