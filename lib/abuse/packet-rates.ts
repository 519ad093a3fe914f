/**
 * Per-connection rate limits applied to each socket.io packet BEFORE it is parsed (the decoder of
 * lib/transport/guarded-parser.ts asks here with the packet's type and length, read from its header):
 *
 * - events: each EVENT / BINARY_EVENT packet costs 1 in a leaky bucket of --event-rate / --event-burst;
 * - bytes: every packet costs its length (characters of the text, bytes of a binary attachment) in
 *   a leaky bucket of --byte-rate per second whose burst holds one maximal message
 *   (--max-payload + 64 KiB for its envelope).
 *
 * Above a bucket's burst an event is refused with RATE_LIMITED (and still counts, so a client that
 * keeps sending fills the bucket); above twice the burst the connection is cut. A packet longer
 * than the whole byte burst could never pass: PAYLOAD_TOO_LARGE (it holds a message over
 * --max-payload). A refused packet is never parsed: the decoder hands socket.io a small stand-in
 * event named REFUSED_EVENT, which lib/core/dispatch.ts answers like any refusal.
 */
import type { ErrorCode } from '../core/errors.js';
import { performance } from 'node:perf_hooks';
import type { RateVerdict } from './rate-limits.js';

/** The stand-in event of a refused packet: a symbol, so no client can send it. */
export const REFUSED_EVENT: unique symbol = Symbol('refused packet');

/** The stand-in event's argument. */
export interface Refusal {
  code: Extract<ErrorCode, 'RATE_LIMITED' | 'PAYLOAD_TOO_LARGE' | 'INVALID_JSON' | 'INVALID_PAYLOAD'>;
  message: string;
  /** The client event's name when its header showed it (for the ERROR event of legacy clients). */
  event: string;
  /** Close the connection (past twice a burst; a packet that socket.io would not have parsed). */
  cut: boolean;
  /** RATE_LIMITED: the rate it went over (`notify_rate_limited_total{limit}`). */
  limit?: 'events' | 'bytes';
}

export interface PacketRateLimits {
  eventsPerSecond: number;
  eventBurst: number;
  /** 0: no byte budget. */
  bytesPerSecond: number;
  byteBurst: number;
}

/** What the decoder does with a packet. */
export type PacketVerdict = { kind: 'ok' } | { kind: 'refuse'; code: Refusal['code']; message: string; cut: boolean; limit: Refusal['limit'] } | { kind: 'drop' } | { kind: 'cut' };

/** Events can be answered; an ACK over the budget is dropped unparsed; others (CONNECT, DISCONNECT) pass. */
export type PacketKind = 'event' | 'ack' | 'other';

/** The byte bucket's burst: one maximal message and its envelope always pass. */
export function byteBurst(maxPayload: number): number {
  return maxPayload + 64 * 1024;
}

const OK: PacketVerdict = { kind: 'ok' };

/** Where a bucket's level stands after a hit: up to its burst, up to twice, or beyond. */
function verdictOf(level: number, burst: number): RateVerdict {
  if (level <= burst) return 'ok';
  return level <= 2 * burst ? 'limited' : 'cut';
}

/**
 * One per Engine.IO connection (one socket.io Decoder each). Its two leaky buckets (events, bytes)
 * are two levels in this one object, drained together from one time of the last packet: draining
 * one bucket in two steps leaves it where one step would (it only drains, down to 0), so this is
 * two bucket objects, in ~50 bytes per connection instead of ~190 (three objects).
 */
export class PacketRates {
  private eventLevel = 0;
  private byteLevel = 0;
  /** performance.now() of the last packet; 0: none yet (both levels are 0 then, whatever the drain). */
  private last = 0;

  constructor(private readonly limits: PacketRateLimits) {}

  /** Drains both levels to now. */
  private drain(): void {
    const t = performance.now();
    const seconds = (t - this.last) / 1000;
    this.last = t;
    const { eventsPerSecond, bytesPerSecond } = this.limits;
    if (this.eventLevel > 0) this.eventLevel = Math.max(0, this.eventLevel - seconds * eventsPerSecond);
    if (this.byteLevel > 0) this.byteLevel = Math.max(0, this.byteLevel - seconds * bytesPerSecond);
  }

  /** A packet of `length` bytes. */
  packet(kind: PacketKind, length: number): PacketVerdict {
    const isEvent = kind === 'event';
    const { eventsPerSecond, eventBurst, bytesPerSecond, byteBurst } = this.limits;
    this.drain();
    let verdict: RateVerdict = 'ok';
    let code: Refusal['code'] = 'RATE_LIMITED';
    let limit: Refusal['limit'] = 'bytes';
    let message = '';
    if (bytesPerSecond > 0) {
      verdict = verdictOf((this.byteLevel += length), byteBurst);
      if (length > byteBurst) {
        code = 'PAYLOAD_TOO_LARGE';
        message = `packet of ${length} bytes: larger than any message allowed`;
        if (verdict === 'ok') verdict = 'limited';
      } else if (verdict !== 'ok') {
        message = `over ${bytesPerSecond} bytes per second on this connection: slow down`;
      }
    }
    if (isEvent && eventsPerSecond > 0) {
      const events = verdictOf((this.eventLevel += 1), eventBurst);
      if (events === 'cut' || (events === 'limited' && verdict === 'ok')) {
        verdict = events;
        code = 'RATE_LIMITED';
        limit = 'events';
        message = `over ${eventsPerSecond} events per second on this connection: slow down`;
      }
    }
    if (verdict === 'ok') return OK;
    if (verdict === 'cut' && !isEvent) return { kind: 'cut' };
    if (kind === 'ack') return { kind: 'drop' };
    if (kind === 'other') return OK;
    return { kind: 'refuse', code, message, cut: verdict === 'cut', limit: code === 'RATE_LIMITED' ? limit : undefined };
  }

  /** A binary attachment of an admitted packet: counted; only cut when far over. */
  attachment(length: number): boolean {
    if (this.limits.bytesPerSecond <= 0) return true;
    this.drain();
    return verdictOf((this.byteLevel += length), this.limits.byteBurst) !== 'cut';
  }
}
