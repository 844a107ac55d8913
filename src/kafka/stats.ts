// What stats() returns: per rule its topics, consumers, work in flight, outcomes, lag and delay
// histograms. The status server and `jobqueue status` show it.
import type { LaneStats } from './lane.js';

/** Upper bounds (seconds) of the delay histogram buckets; the last bucket is +Inf. */
export const DELAY_BUCKETS_SECONDS = [0.1, 1, 10, 60, 600, 3600, 86_400] as const;

export class Histogram {
  readonly counts: number[] = new Array<number>(DELAY_BUCKETS_SECONDS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    const value = Math.max(0, seconds);
    let index = 0;
    while (index < DELAY_BUCKETS_SECONDS.length && value > (DELAY_BUCKETS_SECONDS[index] as number)) index++;
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    return {
      bucketsSeconds: [...DELAY_BUCKETS_SECONDS],
      counts: [...this.counts],
      sum: this.sum,
      count: this.count,
    };
  }
}

/**
 * Where the events that ran spent their time, summed: waiting for their dedup claim (one Redis
 * round trip, or longer while another runner's claim is waited for), waiting for a concurrency
 * slot, and the RunSingleJob request. Three additions per event; divided by `events` they say
 * which stage holds events up: a slot wait near the request time means the rule's concurrency is
 * what limits it (Little's law: concurrency / request time = events per second).
 */
export class StageTimes {
  private events = 0;
  private claimMs = 0;
  private slotWaitMs = 0;
  private executeMs = 0;

  add(claimMs: number, slotWaitMs: number, executeMs: number): void {
    this.events++;
    this.claimMs += claimMs;
    this.slotWaitMs += slotWaitMs;
    this.executeMs += executeMs;
  }

  snapshot(): StageTimesSnapshot {
    return {
      events: this.events,
      claimMs: this.claimMs,
      slotWaitMs: this.slotWaitMs,
      executeMs: this.executeMs,
    };
  }
}

/** Totals since start; per event: divide by `events`. */
export interface StageTimesSnapshot {
  /** Events that ran (took a slot and made their request). */
  readonly events: number;
  readonly claimMs: number;
  readonly slotWaitMs: number;
  readonly executeMs: number;
}

export interface HistogramSnapshot {
  /** Upper bounds; counts has one more entry (+Inf). Counts are per bucket, not cumulative. */
  readonly bucketsSeconds: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export interface RuleCounters {
  /** Messages taken from Kafka (main, retry and delayed topics). */
  received: number;
  ok: number;
  ignored: number;
  /** Retry events produced after a failure. */
  retried: number;
  /** Retries after X-Readonly (no attempt used up). */
  readonly: number;
  /** Events sent to the error topic (4xx, retries used up, bad input). */
  failed: number;
  invalid: number;
  canary: number;
  /** Events produced to the delayed topic. */
  delayed: number;
  /** Held events produced again to the end of their topic. */
  requeued: number;
  abandoned: number;
  duplicates: number;
  /** Events copied to the partitioned topic. */
  partitioned: number;
  /**
   * Events given up before they ran because their partition moved to another consumer of the
   * group in a rebalance (that consumer runs them).
   */
  handedOver: number;
  /**
   * Events found claimed by another live runner process and not run yet (typically their partition
   * moved here while that runner ran them): kept uncommitted and asked about again until they ran
   * there (then counted as duplicates), their claim ended (then run here) or their partition moved.
   */
  waitedOnLiveClaim: number;
  /** Of those, events run here because the other runner's claim outlasted the rule's timeout. */
  liveClaimOverdue: number;
  /** Events of a paused queue parked on the delayed topic (again each time they come due). */
  paused: number;
}

export function newCounters(): RuleCounters {
  return {
    received: 0,
    ok: 0,
    ignored: 0,
    retried: 0,
    readonly: 0,
    failed: 0,
    invalid: 0,
    canary: 0,
    delayed: 0,
    requeued: 0,
    abandoned: 0,
    duplicates: 0,
    partitioned: 0,
    paused: 0,
    handedOver: 0,
    waitedOnLiveClaim: 0,
    liveClaimOverdue: 0,
  };
}

export interface RuleStats {
  readonly name: string;
  readonly groupId: string;
  readonly concurrency: number;
  readonly partitioned: boolean;
  readonly lowTraffic: boolean;
  /** Job topics the rule consumes now. */
  readonly topics: readonly string[];
  /** HTTP requests to RunSingleJob running now. */
  readonly executing: number;
  /** Events waiting for a concurrency slot. */
  readonly waiting: number;
  /** Events waiting for another runner process's claim on their ID to end (no slot held). */
  readonly waitingOnLiveClaim: number;
  /** Retry and delayed events held in memory until they are due. */
  readonly held: number;
  /** Messages read and not yet committable, over all of the rule's consumers. */
  readonly inFlight: number;
  /** Unconsumed messages (high watermark minus committed offset) per topic, at lagMeasuredAt. */
  readonly lag: Readonly<Record<string, number>>;
  readonly lagTotal: number;
  readonly lagMeasuredAt: string | undefined;
  readonly counters: Readonly<RuleCounters>;
  /** Time the events that ran spent claiming, waiting for a slot and executing (StageTimes). */
  readonly stages: StageTimesSnapshot;
  /** Seconds from meta.dt to execution. */
  readonly delay: HistogramSnapshot;
  /** Seconds from root_event.dt to execution (first attempts only). */
  readonly totalDelay: HistogramSnapshot;
  readonly consumers: readonly LaneStats[];
}

export interface KafkaRunnerStats {
  readonly backend: 'kafka';
  readonly startedAt: string;
  readonly brokers: readonly string[];
  readonly datacenter: string;
  readonly serviceName: string;
  readonly rules: readonly RuleStats[];
  /** Follow-up messages (retries, delayed, errors, partitioned copies) not yet acknowledged. */
  readonly producePending: number;
  /** Follow-up messages the broker refused for good, written to kafka.deadLetterFile. */
  readonly deadLetters: number;
}
