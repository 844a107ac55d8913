// One info line a minute saying how much work went through (dispatches, jobs ok/failed, errors,
// busy slots), so the journal shows work flowing without a line per dispatch (a busy runner does
// several dispatches a second). An idle stretch is logged once, not every minute.
import type { Logger } from '../observability/logger.js';
import type { RunnerTotals } from './stats.js';

export const SUMMARY_INTERVAL_MS = 60_000;

export interface WorkSnapshot {
  readonly totals: RunnerTotals;
  readonly busySlots: number;
  readonly slots: number;
}

/** The summary's fields: what happened since the previous snapshot. */
export function summaryFields(
  before: RunnerTotals,
  now: WorkSnapshot,
  seconds: number,
): Record<string, number> {
  const t = now.totals;
  return {
    seconds: Math.round(seconds),
    dispatches: t.dispatches - before.dispatches,
    jobsOk: t.jobsOk - before.jobsOk,
    jobsFailed: t.jobsFailed - before.jobsFailed,
    dispatchErrors: t.errors - before.errors,
    timeouts: t.timeouts - before.timeouts,
    busySlots: now.busySlots,
    slots: now.slots,
  };
}

export class WorkSummary {
  private timer: NodeJS.Timeout | null = null;
  private before: RunnerTotals | null = null;
  private beforeAt = 0;
  private idleLogged = false;

  constructor(
    private readonly logger: Logger,
    private readonly snapshot: () => WorkSnapshot,
    private readonly now: () => number,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.before = this.snapshot().totals;
    this.beforeAt = this.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Logs the interval just ended (public for tests). */
  tick(): void {
    const snap = this.snapshot();
    const at = this.now();
    const fields = summaryFields(this.before ?? snap.totals, snap, (at - this.beforeAt) / 1000);
    this.before = snap.totals;
    this.beforeAt = at;
    const idle = fields.dispatches === 0 && snap.busySlots === 0;
    if (idle && this.idleLogged) return;
    this.idleLogged = idle;
    this.logger.info(idle ? 'Work summary: idle (logged again when work resumes)' : 'Work summary', fields);
  }
}
