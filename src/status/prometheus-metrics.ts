// Prometheus metrics fed by the daemons' statsd calls: the runner and the chron keep emitting the
// original statsd names through the Metrics interface, and this adapter turns each known name into
// a labelled prom-client metric (the Kafka backend's names: kafka-prometheus.ts). The host segment is dropped (Prometheus adds `instance` itself);
// label values that come from data (job types, group names, partitions) are capped in number so a
// flood of odd job types cannot blow up the series count.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Metrics } from '../observability/statsd.js';
import { kafkaTranslator } from './kafka-prometheus.js';

/** Distinct values kept per data-driven label; later ones are reported as "_other". */
export const DEFAULT_MAX_LABEL_VALUES = 200;
export const OTHER_LABEL = '_other';

export interface PrometheusMetricsOptions {
  /** Registers only this daemon's families up front (both when omitted). */
  readonly role?: 'jobrunner' | 'jobchron';
  readonly maxLabelValues?: number;
}

/** Remembers the first `max` values seen; anything new after that maps to "_other". */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max) return OTHER_LABEL;
    this.seen.add(raw);
    return raw;
  }
}

const LOOP_STATES = new Set(['idle', 'all-full', 'some-full']);
const CHRON_ACTIONS: Record<string, string> = {
  'job-recycle': 'recycled',
  'job-abandon': 'abandoned',
  'job-undelay': 'undelayed',
  'job-prune': 'pruned',
};
const PASS_RESULTS = new Set(['raced', 'claimed', 'done', 'failed']);

const DISPATCH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Enqueue → start: from within the second to a backlog of hours. */
const PICKUP_BUCKETS = [1, 2, 5, 10, 30, 60, 300, 900, 3600, 10800, 43200, 86400];
const PASS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function runnerFamilies(registers: Registry[]) {
  return {
    starts: new Counter({ name: 'jobrunner_starts_total', help: 'jobrunner start-ups.', registers }),
    spawned: new Counter({
      name: 'jobrunner_dispatches_started_total',
      help: 'Dispatches started.',
      registers,
    }),
    priorityChanges: new Counter({
      name: 'jobrunner_priority_changes_total',
      help: 'Priority mode switches of runner groups.',
      registers,
    }),
    loopStates: new Counter({
      name: 'jobrunner_loop_state_total',
      help: 'Scheduling loop samples (at most one per 100 ms) by state: idle, all-full, some-full.',
      labelNames: ['state'],
      registers,
    }),
    jobs: new Counter({
      name: 'jobrunner_jobs_total',
      help: 'Jobs MediaWiki reported run, by job type and outcome (ok, failed).',
      labelNames: ['type', 'outcome'],
      registers,
    }),
    dispatchDuration: new Histogram({
      name: 'jobrunner_dispatch_duration_seconds',
      help: 'Wall-clock duration of one dispatch (one runJobs run), by the queue type it was started for.',
      labelNames: ['type'],
      buckets: DISPATCH_BUCKETS,
      registers,
    }),
    pickupLatency: new Histogram({
      name: 'jobrunner_pickup_latency_seconds',
      help: "Dispatch start minus the time the job it pops first became ready (release time if delayed, else enqueue time), by job type; MediaWiki's job timestamps are whole seconds.",
      labelNames: ['type'],
      buckets: PICKUP_BUCKETS,
      registers,
    }),
    noticeLatency: new Histogram({
      name: 'jobrunner_notice_latency_seconds',
      help: 'From the discovery poll that first saw an idle queue ready to the start of its dispatch.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    dispatchStatus: new Counter({
      name: 'jobrunner_dispatch_problems_total',
      help: 'Dispatch problems by kind: timeout (SIGTERM sent), kill (SIGKILL sent), error, none (no result).',
      labelNames: ['status'],
      registers,
    }),
    backoffs: new Counter({
      name: 'jobrunner_backoffs_total',
      help: 'Back-offs applied after a dispatch, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    backoffsActive: new Gauge({
      name: 'jobrunner_backoffs_active',
      help: 'Queues (scope queue) and wikis (scope wiki) held by a back-off right now, by reason; wiki-failing means several job types of the wiki failed in a row.',
      labelNames: ['scope', 'reason'],
      registers,
    }),
    redisErrors: new Counter({
      name: 'jobrunner_redis_errors_total',
      help: 'Failed discovery polls.',
      registers,
    }),
    slotsBusy: new Gauge({
      name: 'jobrunner_slots_busy',
      help: 'Runner slots with a dispatch in flight, by group.',
      labelNames: ['group'],
      registers,
    }),
    slotsTotal: new Gauge({
      name: 'jobrunner_slots_total',
      help: 'Configured runner slots, by group.',
      labelNames: ['group'],
      registers,
    }),
  };
}

function chronFamilies(registers: Registry[]) {
  return {
    starts: new Counter({ name: 'jobchron_starts_total', help: 'jobchron start-ups.', registers }),
    jobs: new Counter({
      name: 'jobchron_jobs_total',
      help: 'Jobs the chron moved, by action (recycled, abandoned, undelayed, pruned) and job type.',
      labelNames: ['action', 'type'],
      registers,
    }),
    passes: new Counter({
      name: 'jobchron_passes_total',
      help: 'Chron rounds by result: done, failed, claimed (held a partition), raced (held none).',
      labelNames: ['result'],
      registers,
    }),
    passDuration: new Histogram({
      name: 'jobchron_pass_duration_seconds',
      help: 'Duration of one chron round over the partitions it holds.',
      buckets: PASS_BUCKETS,
      registers,
    }),
    partitionFailures: new Counter({
      name: 'jobchron_partition_failures_total',
      help: 'Chron partition passes that failed, by partition.',
      labelNames: ['partition'],
      registers,
    }),
    quarantined: new Counter({
      name: 'jobchron_quarantined_members_total',
      help: 'Members of s-queuesWithJobs that were not a JSON [type, domain] pair, moved to jobrunner:chron:s-queuesQuarantined.',
      registers,
    }),
    redisErrors: new Counter({
      name: 'jobchron_redis_errors_total',
      help: 'Redis command errors.',
      registers,
    }),
  };
}

/**
 * A Metrics that records the runner's and chron's statsd names as Prometheus metrics in
 * `registry`. Names it does not know are counted in jobqueue_unmapped_metrics_total{name}.
 */
export function createPrometheusMetrics(registry: Registry, options: PrometheusMetricsOptions = {}): Metrics {
  const registers = [registry];
  const cap = options.maxLabelValues ?? DEFAULT_MAX_LABEL_VALUES;
  const types = new LabelCap(cap);
  const groups = new LabelCap(cap);
  const partitions = new LabelCap(cap);
  const names = new LabelCap(cap);
  const kafka = kafkaTranslator(registers, {
    rules: new LabelCap(cap),
    types,
    streams: new LabelCap(cap),
  });
  let runner: ReturnType<typeof runnerFamilies> | null = null;
  let chron: ReturnType<typeof chronFamilies> | null = null;
  const runnerMetrics = () => (runner ??= runnerFamilies(registers));
  const chronMetrics = () => (chron ??= chronFamilies(registers));
  if (options.role !== 'jobchron') runnerMetrics();
  if (options.role !== 'jobrunner') chronMetrics();
  const unmapped = new Counter({
    name: 'jobqueue_unmapped_metrics_total',
    help: 'statsd metric names this exporter has no Prometheus mapping for.',
    labelNames: ['name'],
    registers,
  });

  const increment = (segments: readonly string[], delta = 1): void => {
    if (delta <= 0 || !Number.isFinite(delta)) return;
    const [head, a, b] = segments;
    switch (head) {
      case 'start-runner':
        return runnerMetrics().starts.inc(delta);
      case 'spawn':
        return runnerMetrics().spawned.inc(delta);
      case 'prioritychange':
        return runnerMetrics().priorityChanges.inc(delta);
      case 'pop':
        if (a !== undefined && (b === 'ok' || b === 'failed')) {
          return runnerMetrics().jobs.inc({ type: types.value(a), outcome: b }, delta);
        }
        break;
      case 'runner-status':
        if (a !== undefined) return runnerMetrics().dispatchStatus.inc({ status: a }, delta);
        break;
      case 'backoff':
        if (a !== undefined) return runnerMetrics().backoffs.inc({ reason: a }, delta);
        break;
      case 'redis-error':
        return (options.role === 'jobchron' ? chronMetrics() : runnerMetrics()).redisErrors.inc(delta);
      case 'start-chron':
        return chronMetrics().starts.inc(delta);
      case 'queue-quarantine':
        return chronMetrics().quarantined.inc(delta);
      case 'periodictasks':
        if (a !== undefined && PASS_RESULTS.has(a)) return chronMetrics().passes.inc({ result: a }, delta);
        if (a === 'partition-failed' && b !== undefined) {
          return chronMetrics().partitionFailures.inc({ partition: partitions.value(b) }, delta);
        }
        break;
      default:
        if (head !== undefined && LOOP_STATES.has(head))
          return runnerMetrics().loopStates.inc({ state: head }, delta);
        if (head !== undefined && a !== undefined && CHRON_ACTIONS[head] !== undefined) {
          return chronMetrics().jobs.inc({ action: CHRON_ACTIONS[head], type: types.value(a) }, delta);
        }
        if (kafka.increment(segments, delta)) return;
    }
    unmapped.inc({ name: names.value(head ?? '') }, delta);
  };

  const timing = (segments: readonly string[], ms: number): void => {
    if (!Number.isFinite(ms) || ms < 0) return;
    const [head, a] = segments;
    const seconds = ms / 1000;
    if (head === 'dispatch-time' && a !== undefined) {
      runnerMetrics().dispatchDuration.observe({ type: types.value(a) }, seconds);
    } else if (head === 'pickup-latency' && a !== undefined) {
      runnerMetrics().pickupLatency.observe({ type: types.value(a) }, seconds);
    } else if (head === 'notice-latency') {
      runnerMetrics().noticeLatency.observe(seconds);
    } else if (head === 'periodictasks' && a === 'duration') {
      chronMetrics().passDuration.observe(seconds);
    } else if (!kafka.timing(segments, seconds)) {
      unmapped.inc({ name: names.value(head ?? '') });
    }
  };

  const gauge = (segments: readonly string[], value: number): void => {
    if (!Number.isFinite(value)) return;
    const [head, a] = segments;
    if (head === 'slots-busy' && a !== undefined)
      runnerMetrics().slotsBusy.set({ group: groups.value(a) }, value);
    else if (head === 'slots-total' && a !== undefined)
      runnerMetrics().slotsTotal.set({ group: groups.value(a) }, value);
    else if (head === 'backoffs-active' && a !== undefined && segments[2] !== undefined)
      runnerMetrics().backoffsActive.set({ scope: a, reason: segments[2] }, value);
    else if (!kafka.gauge(segments, value)) unmapped.inc({ name: names.value(head ?? '') });
  };

  return { increment, timing, gauge, close: () => Promise.resolve() };
}

/** Sends every call to both; close() closes both. */
export function teeMetrics(a: Metrics, b: Metrics): Metrics {
  return {
    increment(segments, delta) {
      a.increment(segments, delta);
      b.increment(segments, delta);
    },
    timing(segments, ms) {
      a.timing(segments, ms);
      b.timing(segments, ms);
    },
    gauge(segments, value) {
      a.gauge(segments, value);
      b.gauge(segments, value);
    },
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}
