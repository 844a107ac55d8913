// The farm summary behind /metrics, /status and the dashboard, taken at most once per `ttlMs`
// however many requests arrive: concurrent readers share one Redis round, so a 10,000-queue farm
// and a busy dashboard cost one listing per interval.
import type { FarmSummary } from './farm-summary.js';

export interface QueueSnapshotSource {
  /** Reads every queue of the farm now. */
  summary(): Promise<FarmSummary>;
}

export class SnapshotCache {
  private current: FarmSummary | null = null;
  private takenAt = -Infinity;
  private pending: Promise<FarmSummary> | null = null;

  constructor(
    private readonly source: QueueSnapshotSource,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached summary while it is fresh, else a new one (shared with concurrent callers). */
  get(): Promise<FarmSummary> {
    if (this.current && this.now() - this.takenAt < this.ttlMs) return Promise.resolve(this.current);
    this.pending ??= this.source
      .summary()
      .then((summary) => {
        this.current = summary;
        this.takenAt = this.now();
        return summary;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  /** After an admin action: the next get() reads Redis again. */
  invalidate(): void {
    this.takenAt = -Infinity;
  }
}
