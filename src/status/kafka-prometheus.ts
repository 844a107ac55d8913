// Prometheus translation of the statsd names the Kafka backend (src/kafka) emits. Those names put
// the rule and the stream into one segment, change-propagation style:
//   <rule>-<stream with . → _>[_retry]_{dequeue,abandoned,delay,totaldelay,exec}
//   <rule>_{lag,error,dedupe,dedupe_wait,dedupe_wait_overdue}, <rule>_outcome.<kind>,
//   produce_<stream>.<partition>
// Rules come from the config (few); job types and streams come from event data, so their label
// values are capped like every other data-driven label.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LabelCap } from './prometheus-metrics.js';

/** What the event stream part of a per-event name must start with (EventBus: mediawiki.job.<type>). */
const JOB_STREAM = 'mediawiki_job_';
const STAT_SUFFIXES = ['dequeue', 'abandoned', 'delay', 'totaldelay', 'exec'] as const;
type StatSuffix = (typeof STAT_SUFFIXES)[number];
/** <rule>_outcome.<kind> values; the error topic is counted through <rule>_error. */
const OUTCOMES = new Set(['ok', 'ignored', 'retry', 'readonly', 'delayed', 'canary', 'paused']);

const DELAY_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21_600, 86_400];
const EXEC_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];

export interface EventStat {
  readonly rule: string;
  readonly type: string;
  /** 'retry' for events read from the rule's retry topic. */
  readonly attempt: 'first' | 'retry';
  readonly suffix: StatSuffix;
}

/** Splits `<rule>-mediawiki_job_<type>[_retry]_<suffix>`; undefined for any other name. */
export function parseEventStat(name: string): EventStat | undefined {
  const suffix = STAT_SUFFIXES.find((s) => name.endsWith(`_${s}`));
  if (suffix === undefined) return undefined;
  const stat = name.slice(0, -(suffix.length + 1));
  const at = stat.indexOf(`-${JOB_STREAM}`);
  if (at <= 0) return undefined;
  const rule = stat.slice(0, at);
  let type = stat.slice(at + 1 + JOB_STREAM.length);
  const retry = type.endsWith('_retry');
  if (retry) type = type.slice(0, -'_retry'.length);
  if (type === '') return undefined;
  return { rule, type, attempt: retry ? 'retry' : 'first', suffix };
}

/** `<rule>_<what>` for the rule-level names; undefined otherwise. */
function ruleOf(name: string, what: string): string | undefined {
  if (!name.endsWith(`_${what}`)) return undefined;
  const rule = name.slice(0, -(what.length + 1));
  return rule === '' ? undefined : rule;
}

function kafkaFamilies(registers: Registry[]) {
  return {
    events: new Counter({
      name: 'jobrunner_kafka_events_total',
      help: 'Kafka job events by rule and outcome: ok, ignored (ignoreStatus), retry, readonly (retried after X-Readonly), failed (error topic), abandoned (claim TTL), duplicate (dedup), delayed (to the delayed topic), canary (discarded), paused (event of a paused queue parked on the delayed topic).',
      labelNames: ['rule', 'outcome'],
      registers,
    }),
    dequeued: new Counter({
      name: 'jobrunner_kafka_dequeued_total',
      help: 'Job events taken for execution, by rule, job type and attempt (first, or from the retry topic).',
      labelNames: ['rule', 'type', 'attempt'],
      registers,
    }),
    produced: new Counter({
      name: 'jobrunner_kafka_produced_total',
      help: 'Follow-up messages produced (retry, delayed, error, partitioned copies), by topic without the datacenter prefix.',
      labelNames: ['stream'],
      registers,
    }),
    dedupWaits: new Counter({
      name: 'jobrunner_kafka_dedup_waits_total',
      help: 'Job events whose ID another live runner process held claimed and had not run (in flight there, typically after a rebalance): kept uncommitted and asked about again until that run ended, instead of being skipped as duplicates, by rule. Each then counts as a duplicate, runs here, or is handed over.',
      labelNames: ['rule'],
      registers,
    }),
    dedupWaitOverdue: new Counter({
      name: 'jobrunner_kafka_dedup_wait_overdue_total',
      help: "Of the dedup waits, events run here because the other runner's claim outlasted the rule's timeoutMs plus connect timeout and alive TTL (its release never reached Redis, or its original waited that long for a slot there: then it may run twice), by rule.",
      labelNames: ['rule'],
      registers,
    }),
    lag: new Gauge({
      name: 'jobrunner_kafka_lag',
      help: "Messages not yet committed on the rule's topics (high watermark minus committed offset), as last measured.",
      labelNames: ['rule'],
      registers,
    }),
    delay: new Histogram({
      name: 'jobrunner_kafka_delay_seconds',
      help: 'From the event time (meta.dt) to the start of its execution, by rule and attempt.',
      labelNames: ['rule', 'attempt'],
      buckets: DELAY_BUCKETS,
      registers,
    }),
    totalDelay: new Histogram({
      name: 'jobrunner_kafka_total_delay_seconds',
      help: 'From the root job event (root_event.dt) to the first execution of a job it caused, by rule.',
      labelNames: ['rule'],
      buckets: DELAY_BUCKETS,
      registers,
    }),
    exec: new Histogram({
      name: 'jobrunner_kafka_exec_duration_seconds',
      help: 'Duration of one RunSingleJob request, by rule and attempt.',
      labelNames: ['rule', 'attempt'],
      buckets: EXEC_BUCKETS,
      registers,
    }),
  };
}

export interface KafkaTranslator {
  /** Each returns false when the name is not one of the Kafka backend's. */
  increment(segments: readonly string[], delta: number): boolean;
  timing(segments: readonly string[], seconds: number): boolean;
  gauge(segments: readonly string[], value: number): boolean;
}

/** Families are registered on the first Kafka name seen, so a Redis runner's /metrics has none. */
export function kafkaTranslator(
  registers: Registry[],
  caps: { readonly rules: LabelCap; readonly types: LabelCap; readonly streams: LabelCap },
): KafkaTranslator {
  let families: ReturnType<typeof kafkaFamilies> | null = null;
  const m = () => (families ??= kafkaFamilies(registers));
  const rule = (name: string) => caps.rules.value(name);
  return {
    increment(segments, delta) {
      const [head, kind] = segments;
      if (head === undefined) return false;
      if (head.startsWith('produce_') && head.length > 'produce_'.length) {
        m().produced.inc({ stream: caps.streams.value(head.slice('produce_'.length)) }, delta);
        return true;
      }
      const outcomeRule = ruleOf(head, 'outcome');
      if (outcomeRule !== undefined && kind !== undefined && OUTCOMES.has(kind)) {
        m().events.inc({ rule: rule(outcomeRule), outcome: kind }, delta);
        return true;
      }
      const stat = parseEventStat(head);
      if (stat?.suffix === 'dequeue') {
        const labels = { rule: rule(stat.rule), type: caps.types.value(stat.type), attempt: stat.attempt };
        m().dequeued.inc(labels, delta);
        return true;
      }
      if (stat?.suffix === 'abandoned') {
        m().events.inc({ rule: rule(stat.rule), outcome: 'abandoned' }, delta);
        return true;
      }
      if (segments.length !== 1) return false;
      const overdueRule = ruleOf(head, 'dedupe_wait_overdue');
      if (overdueRule !== undefined) {
        m().dedupWaitOverdue.inc({ rule: rule(overdueRule) }, delta);
        return true;
      }
      const waitRule = ruleOf(head, 'dedupe_wait');
      if (waitRule !== undefined) {
        m().dedupWaits.inc({ rule: rule(waitRule) }, delta);
        return true;
      }
      for (const [what, outcome] of [
        ['error', 'failed'],
        ['dedupe', 'duplicate'],
      ] as const) {
        const name = ruleOf(head, what);
        if (name !== undefined) {
          m().events.inc({ rule: rule(name), outcome }, delta);
          return true;
        }
      }
      return false;
    },
    timing(segments, seconds) {
      const [head] = segments;
      const stat = head === undefined || segments.length !== 1 ? undefined : parseEventStat(head);
      if (stat === undefined) return false;
      const labels = { rule: rule(stat.rule), attempt: stat.attempt };
      if (stat.suffix === 'delay') m().delay.observe(labels, seconds);
      else if (stat.suffix === 'totaldelay') m().totalDelay.observe({ rule: labels.rule }, seconds);
      else if (stat.suffix === 'exec') m().exec.observe(labels, seconds);
      else return false;
      return true;
    },
    gauge(segments, value) {
      const [head] = segments;
      const name = head === undefined || segments.length !== 1 ? undefined : ruleOf(head, 'lag');
      if (name === undefined) return false;
      m().lag.set({ rule: rule(name) }, value);
      return true;
    },
  };
}
