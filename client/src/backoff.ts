/** Reconnect delays: exponential from `min` to `max`, each with full jitter so clients spread out. */
export interface BackoffOptions {
  /** first delay, ms (default 500) */
  min?: number;
  /** ceiling, ms (default 10 000) */
  max?: number;
}

export class Backoff {
  private attempts = 0;
  private readonly min: number;
  private readonly max: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.min = options.min ?? 500;
    this.max = options.max ?? 10_000;
  }

  /** The next delay: a random point in [ceiling/2, ceiling], the ceiling doubling per attempt. */
  next(): number {
    const ceiling = Math.min(this.max, this.min * 2 ** Math.min(this.attempts, 30));
    this.attempts++;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  reset(): void {
    this.attempts = 0;
  }
}
