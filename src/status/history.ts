// The dashboard's last hour, kept in the daemon's memory (no external service): every few seconds
// one sample of the farm summary and, on a runner, its totals and pickup latencies. Rates and
// percentiles are per interval. Served as columns (uPlot's data shape) by GET /api/history.
import type { FarmSummary } from './farm-summary.js';

export const HISTORY_INTERVAL_MS = 10_000;
export const HISTORY_SPAN_MS = 3600_000;
/** Queues whose backlog is charted: the deepest ones at each sample. */
export const HISTORY_TOP_QUEUES = 5;

/** What one sample reads. */
export interface RawSample {
  readonly at: number;
  readonly farm: Pick<FarmSummary, 'totals' | 'rows'> | null;
  /** Runner totals (absent on jobchron). */
  readonly totals?: { readonly jobsOk: number; readonly jobsFailed: number; readonly errors: number };
  /** Pickup latency samples (runner): how many ever, and the most recent ones. */
  readonly pickup?: { readonly count: number; readonly recentMs: readonly number[] };
}

export interface HistoryPoint {
  /** UNIX seconds (uPlot's x axis). */
  readonly t: number;
  readonly jobsOkPerSec: number | null;
  readonly jobsFailedPerSec: number | null;
  readonly dispatchErrorsPerSec: number | null;
  readonly pickupP50Ms: number | null;
  readonly pickupP99Ms: number | null;
  readonly unclaimed: number | null;
  readonly abandoned: number | null;
  readonly oldestAgeSeconds: number | null;
  /** "wiki type" → unclaimed, for the deepest queues of this sample. */
  readonly top: Readonly<Record<string, number>>;
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}

/** The point for `now`, with rates and percentiles over the interval since `before`. */
export function pointOf(before: RawSample | null, now: RawSample): HistoryPoint {
  const seconds = before ? (now.at - before.at) / 1000 : 0;
  const rate = (pick: (t: NonNullable<RawSample['totals']>) => number): number | null =>
    before?.totals && now.totals && seconds > 0
      ? Math.max(0, pick(now.totals) - pick(before.totals)) / seconds
      : null;
  let p50: number | null = null;
  let p99: number | null = null;
  if (now.pickup && before?.pickup) {
    const fresh = Math.min(now.pickup.count - before.pickup.count, now.pickup.recentMs.length);
    const recent = fresh > 0 ? [...now.pickup.recentMs.slice(-fresh)].sort((a, b) => a - b) : [];
    p50 = percentile(recent, 0.5);
    p99 = percentile(recent, 0.99);
  }
  const top: Record<string, number> = {};
  const deepest = [...(now.farm?.rows ?? [])].sort((a, b) => b.unclaimed - a.unclaimed);
  for (const row of deepest.slice(0, HISTORY_TOP_QUEUES)) {
    if (row.unclaimed > 0) top[`${row.wiki} ${row.type}`] = row.unclaimed;
  }
  return {
    t: Math.round(now.at / 1000),
    jobsOkPerSec: rate((t) => t.jobsOk),
    jobsFailedPerSec: rate((t) => t.jobsFailed),
    dispatchErrorsPerSec: rate((t) => t.errors),
    pickupP50Ms: p50,
    pickupP99Ms: p99,
    unclaimed: now.farm?.totals.unclaimed ?? null,
    abandoned: now.farm?.totals.abandoned ?? null,
    oldestAgeSeconds: now.farm?.totals.oldestAgeSeconds ?? null,
    top,
  };
}

export interface HistoryColumns {
  readonly intervalMs: number;
  readonly t: number[];
  readonly series: Record<Exclude<keyof HistoryPoint, 't' | 'top'>, (number | null)[]>;
  /** Backlog of the queues that are among the deepest in the latest sample. */
  readonly top: { readonly labels: string[]; readonly values: (number | null)[][] };
}

const SERIES = [
  'jobsOkPerSec',
  'jobsFailedPerSec',
  'dispatchErrorsPerSec',
  'pickupP50Ms',
  'pickupP99Ms',
  'unclaimed',
  'abandoned',
  'oldestAgeSeconds',
] as const;

/** A bounded ring of points, sampled on a timer. */
export class History {
  private readonly points: HistoryPoint[] = [];
  private last: RawSample | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly capacity: number;

  constructor(
    private readonly sample: () => Promise<RawSample>,
    readonly intervalMs = HISTORY_INTERVAL_MS,
    spanMs = HISTORY_SPAN_MS,
  ) {
    this.capacity = Math.max(2, Math.ceil(spanMs / intervalMs));
  }

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample; a failed read leaves a gap rather than stopping the history. */
  async tick(): Promise<void> {
    let raw: RawSample;
    try {
      raw = await this.sample();
    } catch {
      return;
    }
    this.add(pointOf(this.last, raw));
    this.last = raw;
  }

  add(point: HistoryPoint): void {
    this.points.push(point);
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
  }

  columns(): HistoryColumns {
    const series = Object.fromEntries(
      SERIES.map((name) => [name, this.points.map((p) => p[name])]),
    ) as HistoryColumns['series'];
    const latest = this.points.at(-1);
    const labels = latest ? Object.keys(latest.top) : [];
    return {
      intervalMs: this.intervalMs,
      t: this.points.map((p) => p.t),
      series,
      top: { labels, values: labels.map((label) => this.points.map((p) => p.top[label] ?? null)) },
    };
  }
}

/** A sample from the cached farm summary and the daemon's own state (runner totals, if any). */
export function sampleOf(farm: FarmSummary | null, status: object, at: number): RawSample {
  const s = status as {
    totals?: { jobsOk?: unknown; jobsFailed?: unknown; errors?: unknown };
    pickupLatency?: { count?: unknown; recentMs?: unknown };
  };
  const t = s.totals;
  const totals =
    t && typeof t.jobsOk === 'number' && typeof t.jobsFailed === 'number' && typeof t.errors === 'number'
      ? { jobsOk: t.jobsOk, jobsFailed: t.jobsFailed, errors: t.errors }
      : undefined;
  const p = s.pickupLatency;
  const pickup =
    p && typeof p.count === 'number' && Array.isArray(p.recentMs)
      ? { count: p.count, recentMs: p.recentMs.filter((v): v is number => typeof v === 'number') }
      : undefined;
  return { at, farm, ...(totals ? { totals } : {}), ...(pickup ? { pickup } : {}) };
}
