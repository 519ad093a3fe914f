/**
 * The publication side of a graceful shutdown: every publication gets an answer before the
 * connections close. Once the drain begins, new publications are refused with SHUTTING_DOWN
 * (nothing delivered, nothing stored: the publisher may send it again elsewhere), the ones in
 * flight (waiting for the store's commit, an authorization or Redis) finish and are answered, and
 * while publications keep arriving (accepted just before, or refused) the connections stay open
 * until they have been quiet for a moment: what a publisher had already sent when the drain began,
 * or before it saw its first SHUTTING_DOWN, is answered too instead of being cut off on the wire.
 * A service whose publishers were quiet closes at once.
 */
import { ServiceError } from './errors.js';

export interface DrainTimes {
  /** The connections close once no publication arrived for this long... */
  quietMs: number;
  /** ...or once this much has passed since the drain began, whatever is still in flight. */
  maxMs: number;
}

export const DEFAULT_DRAIN: DrainTimes = { quietMs: 200, maxMs: 4000 };

export class PublicationDrain {
  private draining = false;
  private inFlight = 0;
  /** When the last publication arrived (Date.now(): one clock read per publication). */
  private lastPublication = 0;
  private wake: (() => void) | undefined;

  get active(): boolean {
    return this.draining;
  }

  /** Notes a publication; throws SHUTTING_DOWN once the drain has begun. */
  admit(): void {
    this.lastPublication = Date.now();
    if (!this.draining) return;
    throw new ServiceError('SHUTTING_DOWN', 'the service is shutting down: publish elsewhere or later');
  }

  /** Counts a publication whose answer is pending until `answer` settles. */
  track<T>(answer: Promise<T>): Promise<T> {
    this.inFlight++;
    const done = (): void => {
      this.inFlight--;
      if (this.inFlight === 0) this.wake?.();
    };
    answer.then(done, done);
    return answer;
  }

  /** Begins the drain; resolves when the connections may close (see the module comment). */
  async drain(times: DrainTimes = DEFAULT_DRAIN): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + times.maxMs;
    for (;;) {
      const now = Date.now();
      const quietLeft = this.lastPublication + times.quietMs - now;
      if ((this.inFlight === 0 && quietLeft <= 0) || now >= deadline) break;
      // Wait for the last answer in flight, or for the quiet time to pass, whichever is due.
      const waitMs = Math.min(deadline - now, this.inFlight === 0 ? quietLeft : deadline - now);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    // The answers of the last settled publications are written by callbacks queued behind them.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
