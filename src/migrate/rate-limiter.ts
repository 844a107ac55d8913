// --rate N: at most N jobs per second, spread evenly (a schedule of when the next job may go).
export class RateLimiter {
  private nextFreeMs = 0;

  constructor(
    /** Jobs per second; undefined or 0 = unlimited. */
    readonly perSecond: number | undefined,
    private readonly clock: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  get limited(): boolean {
    return this.perSecond !== undefined && this.perSecond > 0;
  }

  /** Largest write that keeps the pace smooth: a quarter second of jobs (at least 1). */
  chunkSize(batchSize: number): number {
    if (!this.limited) return batchSize;
    return Math.max(1, Math.min(batchSize, Math.floor((this.perSecond as number) / 4)));
  }

  /** Waits until `jobs` more jobs may be written. */
  async take(jobs: number): Promise<void> {
    if (!this.limited || jobs <= 0) return;
    const now = this.clock();
    const start = Math.max(now, this.nextFreeMs);
    this.nextFreeMs = start + (jobs * 1000) / (this.perSecond as number);
    if (start > now) await this.sleep(start - now);
  }
}
