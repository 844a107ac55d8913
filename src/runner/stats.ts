// What JobRunner.stats() reports (for the status server and the demo), and the bounded buffers
// behind it.
import type { ReadinessStats } from '../backend/types.js';
import type { BackoffEntry } from './backoff.js';
import type { DamperState } from './failure-damper.js';
import type { DispatchOutcome } from './outcome.js';
import type { PriorityMode } from './priority.js';
import type { PartitionState } from './ready-view.js';

export interface SlotStats {
  readonly index: number;
  readonly busy: boolean;
  readonly wiki: string | null;
  readonly type: string | null;
  /** Dispatch start (ms since epoch) while busy. */
  readonly since: number | null;
  /** Child PID, when the dispatcher reports it (not yet: the dispatcher does not expose PIDs). */
  readonly pid?: number;
  /** Removed by a reload: finishes its child, then disappears. */
  readonly retiring: boolean;
}

export interface GroupStats {
  readonly name: string;
  /** Configured slot count (0 for a group removed by a reload that still has children). */
  readonly runners: number;
  readonly mode: PriorityMode;
  readonly modeSince: number;
  readonly busy: number;
  readonly slots: readonly SlotStats[];
}

export interface RunnerTotals {
  readonly dispatches: number;
  /** Dispatches that returned a valid runJobs result. */
  readonly dispatchesOk: number;
  /** Jobs reported "ok" / "failed" by MediaWiki. */
  readonly jobsOk: number;
  readonly jobsFailed: number;
  /** Failed dispatches (spawn, exit code, bad output, HTTP) and `reached: exception`. */
  readonly errors: number;
  readonly timeouts: number;
  readonly aborted: number;
}

export interface FailureRecord {
  readonly at: number;
  readonly group: string;
  readonly wiki: string;
  readonly type: string;
  readonly outcome: DispatchOutcome;
  readonly errorKind: string | null;
  readonly error: string;
  readonly excerpt: string | null;
  /** Command line or URL, secrets masked. */
  readonly target: string;
  readonly durationMs: number;
}

/** One job runJobs reported as failed (it stays claimed; jobchron retries or abandons it). */
export interface FailedJobRecord {
  readonly at: number;
  readonly wiki: string;
  /** The job's own type (a dispatch for one type can report others it ran). */
  readonly type: string;
  readonly error: string;
}

export interface LatencySummary {
  /**
   * enqueue-to-dispatch: dispatch start minus the time the job it pops first became ready (release
   * time if delayed, else enqueue time; MediaWiki stores whole seconds, so up to 1 s too high).
   * notice-to-dispatch: from the start of the discovery poll that first saw an idle queue ready to
   * the start of its dispatch (millisecond precision; excludes push → that poll).
   */
  readonly measure: 'enqueue-to-dispatch' | 'notice-to-dispatch';
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly maxMs: number | null;
  /** Most recent samples, oldest first. */
  readonly recentMs: readonly number[];
}

export interface RunnerStats {
  readonly startedAt: number | null;
  readonly state: 'idle' | 'running' | 'draining' | 'stopped';
  readonly groups: readonly GroupStats[];
  readonly totals: RunnerTotals;
  /** Last 50 failed dispatches, oldest first. */
  readonly recentFailures: readonly FailureRecord[];
  /** Jobs MediaWiki reported `failed` (with its error), newest last. */
  readonly recentFailedJobs: readonly FailedJobRecord[];
  /** Enqueue → dispatch start (job timestamps; Redis backend). */
  readonly pickupLatency: LatencySummary;
  /** Discovery notice → dispatch start. */
  readonly noticeLatency: LatencySummary;
  /** Ready queues discovery currently knows of. */
  readonly knownQueues: number;
  readonly partitions: readonly PartitionState[];
  readonly backoffs: readonly BackoffEntry[];
  /** The farm-wide cap on failing dispatches and the wikis backed off for failing (failure-damper.ts). */
  readonly failureDamping: DamperState;
  readonly discoveryIntervalMs: number;
  /** off: runner.wakeOnPush is false or the backend has no push notifications (memcached). */
  readonly pushWake: 'off' | 'watching' | 'polling';
  /** Incremental readiness tracking per partition (Redis backend; empty for the others). */
  readonly readiness: readonly ReadinessStats[];
}

/** Fixed-size ring: keeps the newest `capacity` items. */
export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    if (this.items.length < this.capacity) return [...this.items];
    return [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  get size(): number {
    return this.items.length;
  }
}

export function summarizeLatency(
  measure: LatencySummary['measure'],
  samples: readonly number[],
  total: number,
): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number | null =>
    sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null);
  return {
    measure,
    count: total,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    maxMs: sorted.length === 0 ? null : (sorted[sorted.length - 1] ?? null),
    recentMs: samples,
  };
}
