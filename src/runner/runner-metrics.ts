// The runner's statsd metrics: the original names (§8) with the host segment, plus the timings and
// gauges the original lacked (W29). Names go through Metrics, which makes each segment safe.
import type { Metrics } from '../observability/statsd.js';
import type { DispatchResult } from './dispatch/types.js';

/** Idle / all-full / some-full are counted at most this often (the original: once per 100 ms loop). */
export const LOOP_STATE_INTERVAL_MS = 100;
/** Gauges are refreshed at most this often. */
export const GAUGE_INTERVAL_MS = 1000;

/** Every scope/reason a back-off can have (backoff.ts). */
const BACKOFF_GAUGES = [
  'queue/none-ready',
  'queue/none-possible',
  'queue/mediawiki-backoff',
  'queue/failure',
  'wiki/read-only',
  'wiki/replica-lag-limit',
  'wiki/wiki-failing',
];

export type LoopState = 'idle' | 'all-full' | 'some-full' | 'spawned';

export class RunnerMetrics {
  private lastLoopStateAt = -Infinity;
  private lastGaugesAt = -Infinity;

  constructor(
    private readonly metrics: Metrics,
    private readonly host: string,
  ) {}

  started(): void {
    this.metrics.increment(['start-runner', this.host]);
  }

  spawned(): void {
    this.metrics.increment(['spawn', this.host]);
  }

  priorityChanged(): void {
    this.metrics.increment(['prioritychange', this.host]);
  }

  /** One sample of the scheduling loop's state, rate-limited like the original's 100 ms loop. */
  loopState(state: LoopState, now: number): void {
    if (state === 'spawned' || now - this.lastLoopStateAt < LOOP_STATE_INTERVAL_MS) return;
    this.lastLoopStateAt = now;
    this.metrics.increment([state, this.host]);
  }

  /** Job ready (release or enqueue timestamp) → dispatch start, per job type. */
  pickupLatency(type: string, ms: number): void {
    this.metrics.timing(['pickup-latency', type, this.host], ms);
  }

  /** Discovery notice → dispatch start. */
  noticeLatency(ms: number): void {
    this.metrics.timing(['notice-latency', this.host], ms);
  }

  /** Per finished dispatch: job counts, status counters and the duration. */
  dispatched(type: string, result: DispatchResult): void {
    for (const [jobType, counts] of Object.entries(result.byType)) {
      this.metrics.increment(['pop', jobType, 'ok', this.host], counts.ok);
      this.metrics.increment(['pop', jobType, 'failed', this.host], counts.failed);
    }
    this.metrics.timing(['dispatch-time', type, this.host], result.durationMs);
    if (result.outcome === 'timeout') this.metrics.increment(['runner-status', 'timeout']);
    if (result.killed === 'SIGKILL') this.metrics.increment(['runner-status', 'kill']);
    if (result.outcome === 'error') this.metrics.increment(['runner-status', 'error']);
    if (result.outcome === 'ok' && result.result === null) this.metrics.increment(['runner-status', 'none']);
  }

  /** `reached: exception` counts as a runner error too. */
  reachedException(): void {
    this.metrics.increment(['runner-status', 'error']);
  }

  backoff(reason: string): void {
    this.metrics.increment(['backoff', reason, this.host]);
  }

  discoveryError(): void {
    this.metrics.increment(['redis-error', this.host]);
  }

  /** Busy/total slots per group, at most once per GAUGE_INTERVAL_MS unless forced. */
  slotGauges(
    groups: ReadonlyArray<{ name: string; busy: number; total: number }>,
    now: number,
    force = false,
    backoffs?: () => ReadonlyArray<{ readonly scope: string; readonly reason: string }>,
  ): void {
    if (!force && now - this.lastGaugesAt < GAUGE_INTERVAL_MS) return;
    this.lastGaugesAt = now;
    for (const g of groups) {
      this.metrics.gauge(['slots-busy', g.name, this.host], g.busy);
      this.metrics.gauge(['slots-total', g.name, this.host], g.total);
    }
    if (backoffs) this.backoffGauges(backoffs());
  }

  /** Queues and wikis held right now, by scope and reason (every reason, so none goes stale). */
  private backoffGauges(active: ReadonlyArray<{ readonly scope: string; readonly reason: string }>): void {
    const counts = new Map<string, number>(BACKOFF_GAUGES.map((k) => [k, 0]));
    for (const b of active) {
      const key = `${b.scope}/${b.reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, n] of counts) {
      const [scope, reason] = key.split('/') as [string, string];
      this.metrics.gauge(['backoffs-active', scope, reason, this.host], n);
    }
  }
}
