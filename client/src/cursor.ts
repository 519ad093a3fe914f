/**
 * Exactly once and in order, for one room: the position of the last message handed to the
 * application, duplicates dropped by offset, and a `reset` when a gap cannot be filled. While a
 * (re-)JOIN is on its way the room's messages are held back, so that the JOIN's answer (recovered
 * or not) is known before any of them is handed over.
 */
export interface Position {
  epoch: string;
  offset: number;
}

/**
 * Why the application may have missed messages: the service's recovery reasons, and GAP when
 * offsets jump without the service having said so.
 */
export type ResetReason = 'EPOCH_CHANGED' | 'TOO_OLD' | 'UNKNOWN_OFFSET' | 'UNAVAILABLE' | 'GAP';

export interface ResetEvent {
  room: string;
  reason: ResetReason;
  /** the room's position from which messages are handed over again, when known */
  position: Position | undefined;
}

/** The recovery fields of a JOIN ack (or their SSE / HTTP equivalents). */
export interface JoinOutcome {
  recovered?: boolean;
  reason?: string;
  epoch?: string;
  offset?: number;
}

const REASONS = new Set<string>(['EPOCH_CHANGED', 'TOO_OLD', 'UNKNOWN_OFFSET', 'UNAVAILABLE']);

export class Cursor<T> {
  position: Position | undefined;
  private held: Array<{ meta: Position | undefined; item: T }> | undefined;

  constructor(
    private readonly room: string,
    private readonly deliver: (item: T) => void,
    private readonly reset: (event: ResetEvent) => void,
  ) {}

  /** A JOIN (or its equivalent) is sent: hold the room's messages until `joined`. */
  joining(): void {
    this.held ??= [];
  }

  get isJoining(): boolean {
    return this.held !== undefined;
  }

  /** A message of the room, with its meta. */
  offer(meta: Position | undefined, item: T): void {
    if (this.held) this.held.push({ meta, item });
    else this.accept(meta, item);
  }

  /**
   * The JOIN's answer. `quiet`: the first JOIN, whose `since` only asked for the room's position,
   * so that a recovery failure is no news to the application.
   */
  joined(outcome: JoinOutcome, quiet = false, replayed: Array<{ meta: Position | undefined; item: T }> = []): void {
    // `replayed`: what was read back another way (HTTP history), older than anything held.
    const held = [...replayed, ...(this.held ?? [])];
    this.held = undefined;
    if (outcome.recovered === false) {
      const head = typeof outcome.epoch === 'string' && outcome.epoch !== '' && typeof outcome.offset === 'number' ? { epoch: outcome.epoch, offset: outcome.offset } : undefined;
      const reason = REASONS.has(outcome.reason ?? '') ? (outcome.reason as ResetReason) : 'UNAVAILABLE';
      this.position = head;
      if (!quiet) this.reset({ room: this.room, reason, position: head });
    }
    for (const { meta, item } of held) this.accept(meta, item);
  }

  /** The JOIN failed: hand over what was held as it comes. */
  abandon(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const { meta, item } of held) this.accept(meta, item);
  }

  private accept(meta: Position | undefined, item: T): void {
    if (!meta || typeof meta.offset !== 'number' || typeof meta.epoch !== 'string') {
      this.deliver(item); // no position (a notice, an older service): nothing to order by
      return;
    }
    const last = this.position;
    if (last && meta.epoch === last.epoch) {
      if (meta.offset <= last.offset) return; // seen already (replayed after a reconnect)
      if (meta.offset > last.offset + 1) this.reset({ room: this.room, reason: 'GAP', position: { epoch: meta.epoch, offset: meta.offset - 1 } });
    } else if (last) {
      this.reset({ room: this.room, reason: 'EPOCH_CHANGED', position: { epoch: meta.epoch, offset: meta.offset - 1 } });
    }
    this.position = { epoch: meta.epoch, offset: meta.offset };
    this.deliver(item);
  }
}
