/**
 * Whether the message store can store right now, for `GET /readyz`, known without extra work in
 * the common case: from the outcome of real saves (a failed save marks the store failing, any
 * successful save clears it). While failing, and only then, a light probe (MessageStore.probe: one
 * committed write through the messages table) runs at once and then every `probeIntervalMs`, so
 * readiness comes back when the store works again without waiting for a publisher to try.
 * PostgreSQL also reports a lost pooled connection on its own, which starts the probe too.
 */
import type { Position } from '../history/types.js';
import type { Logger } from '../log/logger.js';
import type { MessageStore, PendingMessage, Placement, StoredMessage } from './types.js';

/** How often a failing store is probed. */
export const PROBE_INTERVAL_MS = 1000;
/** The readiness reason names the failure; a driver's message can be long. */
const MAX_REASON_LENGTH = 200;

export class MonitoredStore implements MessageStore {
  readonly description: string;
  /** Why the store is failing; undefined while it works. */
  private failure: string | undefined;
  /** Bumped on every failure: a probe started before it does not clear it. */
  private failures = 0;
  private probing = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly inner: MessageStore,
    private readonly logger: Logger,
    private readonly probeIntervalMs = PROBE_INTERVAL_MS,
    /** Told of every write's outcome and duration (the metrics). */
    private readonly written?: (ok: boolean, seconds: number) => void,
  ) {
    this.description = inner.description;
    inner.onTrouble?.((reason) => this.failed(reason));
  }

  /** Why `store: true` messages would fail now, or undefined. */
  notReadyReason(): string | undefined {
    return this.failure === undefined ? undefined : `message store failing (${this.description}): ${this.failure}`;
  }

  save(row: StoredMessage): Promise<void> {
    return this.watch(this.inner.save(row));
  }

  savePending(row: PendingMessage): Promise<void> {
    return this.watch(this.inner.savePending(row));
  }

  place(id: string, placement: Placement): Promise<void> {
    return this.watch(this.inner.place(id, placement));
  }

  /** A write's outcome tells whether the store works. */
  private watch(write: Promise<void>): Promise<void> {
    const written = this.written;
    const started = written ? performance.now() : 0;
    return write.then(
      () => {
        written?.(true, (performance.now() - started) / 1000);
        this.worked();
      },
      (err: unknown) => {
        written?.(false, (performance.now() - started) / 1000);
        this.failed((err as Error).message);
        throw err;
      },
    );
  }

  page(ns: string, room: string, limit: number, before?: Position): Promise<StoredMessage[]> {
    return this.inner.page(ns, room, limit, before);
  }

  prune(ts: number): Promise<number> {
    return this.inner.prune(ts);
  }

  probe(): Promise<void> {
    return this.inner.probe();
  }

  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    return this.inner.close();
  }

  private worked(): void {
    if (this.failure === undefined) return;
    this.failure = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    this.logger.info('message store works again', { store: this.description });
  }

  private failed(reason: string): void {
    // A save refused because the store is closing says nothing about the store.
    if (this.closed) return;
    this.failures++;
    if (this.failure === undefined) {
      this.logger.warn('message store failing: not ready until it works again', { store: this.description, err: reason });
      this.timer = setInterval(() => this.runProbe(), this.probeIntervalMs);
      this.timer.unref();
    }
    this.failure = reason.slice(0, MAX_REASON_LENGTH);
    // At once: a failure of one bad row (or one dropped connection) is over by the next probe.
    this.runProbe();
  }

  private runProbe(): void {
    if (this.probing || this.closed) return;
    this.probing = true;
    const before = this.failures;
    this.inner.probe().then(
      () => {
        this.probing = false;
        if (this.failures === before) this.worked();
      },
      (err: unknown) => {
        this.probing = false;
        if (this.failure !== undefined && !this.closed) this.failure = String((err as Error).message).slice(0, MAX_REASON_LENGTH);
      },
    );
  }
}
