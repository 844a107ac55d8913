// One rule: its consumers (main, retry + delayed, and for partitioned rules the partitioner and one
// consumer per partition) and what happens to each event: delay, abandon, dedup, POST, outcome.
// The concurrency slots of a partitioned rule belong to the partitions (database sections), not to
// the consumers: the group coordinator decides which consumer reads which partitions, and for a
// while (start-up, a consumer reconnecting) one consumer may read several of them.
import type { KafkaConfig, KafkaRuleConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/statsd.js';
import type { Clock } from './clock.js';
import type { ClaimResult, DedupClaim, Deduplicator } from './dedup.js';
import { JobEventError } from './errors.js';
import { CONNECT_TIMEOUT_MS, type EventExecutor, type ExecuteResult } from './executor.js';
import {
  HEADER_NOT_BEFORE,
  HEADER_RETRIES_LEFT,
  delayedMessage,
  errorMessage,
  parseIntHeader,
  requeuedMessage,
  retryMessage,
} from './follow-up.js';
import { HeldEvents, type ReleaseReason } from './held-events.js';
import { parseJobEvent, type JobEventView } from './job-event.js';
import { ConsumerLane, type LaneHandler, type LaneMessage } from './lane.js';
import { LiveClaimWaits } from './live-claim-waits.js';
import { LostRuns } from './lost-runs.js';
import { classify } from './outcome.js';
import { partitionFor } from './partition.js';
import { PAUSED_RECHECK_MS, type PausedCheck } from './paused.js';
import type { Outbox } from './outbox.js';
import { Slots } from './slots.js';
import { Histogram, StageTimes, newCounters, type RuleStats } from './stats.js';
import {
  delayedTopic,
  errorTopic,
  partitionedTopic,
  partitionerGroup,
  retryTopic,
  ruleGroup,
  timedGroup,
  type TopicNaming,
} from './topics.js';

export interface RuleDeps {
  readonly kafka: KafkaConfig;
  readonly clock: Clock;
  readonly executor: EventExecutor;
  readonly dedup: Deduplicator;
  readonly outbox: Outbox;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Static membership ID base of this runner. */
  readonly instanceId: string;
  /** Queues paused with `jobqueue pause` (their events wait on the delayed topic). */
  readonly paused: PausedCheck;
}

interface ExecContext {
  readonly slots: Slots;
  readonly retriesLeft: number;
  readonly isRetry: boolean;
}

const STAT_NAME_CACHE = 1000;

type OutcomeKind = 'ok' | 'ignored' | 'readonly' | 'retry' | 'delayed' | 'canary' | 'paused';

/** The statsd names of one stream's events, built once (the hot path builds no strings). */
interface StreamStats {
  readonly dequeue: readonly string[];
  readonly delay: readonly string[];
  readonly totalDelay: readonly string[];
  readonly exec: readonly string[];
  readonly abandoned: readonly string[];
}

/** A handler's result when nothing is left to wait for. */
const DONE: Promise<void> = Promise.resolve();

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class RuleRunner {
  readonly naming: TopicNaming;
  private readonly lanes: ConsumerLane[] = [];
  /** Lanes consuming the job topics (the partitioner for partitioned rules). */
  private readonly sourceLanes: ConsumerLane[] = [];
  private readonly slots: Slots[] = [];
  /** Partitioned rules: the slots of each partition of the partitioned topic. */
  private readonly sectionSlots: Slots[] = [];
  private readonly held: HeldEvents;
  private readonly liveWaits: LiveClaimWaits;
  private readonly lostRuns = new LostRuns();
  private readonly counters = newCounters();
  private readonly stages = new StageTimes();
  private readonly delay = new Histogram();
  private readonly totalDelay = new Histogram();
  private readonly log: Logger;
  /** The endpoint; undefined when it names the event's database ({database}). */
  private readonly endpoint: URL | undefined;
  private lag: Record<string, number> = {};
  private lagMeasuredAt: string | undefined;
  private jobTopics: string[] = [];
  private stopping = false;
  private readonly timedLane: ConsumerLane;
  /** streamStats() per stream (a regex replace and several strings per event otherwise). */
  private readonly statNames = new Map<string, StreamStats>();
  private readonly outcomeStats: Readonly<Record<OutcomeKind, readonly string[]>>;
  private readonly dedupeStat: readonly string[];
  private readonly dedupeWaitStat: readonly string[];
  private readonly dedupeOverdueStat: readonly string[];

  constructor(
    readonly rule: KafkaRuleConfig,
    private readonly deps: RuleDeps,
  ) {
    const k = deps.kafka;
    this.naming = { datacenter: k.datacenter, serviceName: k.serviceName };
    this.log = deps.logger.child({ rule: rule.name });
    this.endpoint = rule.endpoint.includes('{database}') ? undefined : new URL(rule.endpoint);
    this.held = new HeldEvents(deps.clock, k.delayHoldSeconds * 1000);
    this.liveWaits = new LiveClaimWaits(() => deps.dedup.aliveTtl / 3);
    const outcome = (kind: OutcomeKind): readonly string[] => [`${rule.name}_outcome`, kind];
    this.outcomeStats = {
      ok: outcome('ok'),
      ignored: outcome('ignored'),
      readonly: outcome('readonly'),
      retry: outcome('retry'),
      delayed: outcome('delayed'),
      canary: outcome('canary'),
      paused: outcome('paused'),
    };
    this.dedupeStat = [`${rule.name}_dedupe`];
    this.dedupeWaitStat = [`${rule.name}_dedupe_wait`];
    this.dedupeOverdueStat = [`${rule.name}_dedupe_wait_overdue`];
    const lane = (
      suffix: string,
      groupId: string,
      maxOutstanding: number,
      handler: LaneHandler,
    ): ConsumerLane =>
      new ConsumerLane({
        name: `${rule.name}/${suffix}`,
        groupId,
        clientId: `${k.clientId}-${rule.name}-${suffix}`,
        instanceId: `${deps.instanceId}-${rule.name}-${suffix}`,
        brokers: k.brokers,
        startFrom: k.startFrom,
        sessionTimeoutMs: k.sessionTimeoutMs,
        commitIntervalMs: k.commitIntervalMs,
        maxMessageBytes: k.maxMessageBytes,
        maxOutstanding,
        handler,
        onPartitionsLost: () => this.giveUpLost(),
        logger: deps.logger,
      });
    // With dedup on, events also wait for their claim (one or two Redis round trips) before they
    // take a slot: a deeper window keeps claimed events ready for every slot that frees.
    const prefetch = Math.max(rule.concurrency, 64) * (k.dedup.enabled ? 2 : 1);
    const timedSlots = new Slots(rule.concurrency);
    this.slots.push(timedSlots);
    if (rule.partitioned === undefined) {
      const slots = new Slots(rule.concurrency);
      this.slots.push(slots);
      const main = lane('main', ruleGroup(this.naming, rule.name), rule.concurrency + prefetch, (m) =>
        this.onJobMessage(m, slots),
      );
      this.lanes.push(main);
      this.sourceLanes.push(main);
    } else {
      const partitioner = lane('partitioner', partitionerGroup(this.naming, rule.name), 1000, (m) =>
        this.onPartitionMessage(m),
      );
      this.lanes.push(partitioner);
      this.sourceLanes.push(partitioner);
      const topic = this.partitionedTopicName();
      for (let p = 0; p < rule.partitioned.partitions; p++) {
        const member = lane(`p${p}`, ruleGroup(this.naming, rule.name), rule.concurrency + prefetch, (m) =>
          this.onJobMessage(m, this.sectionSlots[m.partition] ?? this.newSection(m.partition)),
        );
        member.setTopics([topic]);
        this.lanes.push(member);
      }
    }
    const timed = lane('retry', timedGroup(this.naming, rule.name), k.maxHeldEvents + rule.concurrency, (m) =>
      this.onTimedMessage(m, timedSlots),
    );
    timed.setTopics([this.retryTopicName(), this.delayedTopicName()]);
    this.lanes.push(timed);
    this.timedLane = timed;
  }

  /** A partition's slots; more partitions than configured happen when the topic was grown. */
  private newSection(partition: number): Slots {
    const slots = new Slots(this.rule.concurrency);
    this.slots.push(slots);
    this.sectionSlots[partition] = slots;
    return slots;
  }

  /**
   * A rebalance took partitions from a lane: their events waiting for a slot or for another
   * runner's claim are given up.
   */
  private giveUpLost(): void {
    for (const slots of this.slots) slots.giveUpLost();
    this.liveWaits.giveUpLost();
    this.lostRuns.partitionsLost();
  }

  retryTopicName(): string {
    return retryTopic(this.naming, this.rule.name);
  }

  delayedTopicName(): string {
    return delayedTopic(this.naming, this.rule.name);
  }

  partitionedTopicName(): string {
    const type = this.rule.types[0] ?? '';
    return partitionedTopic(this.naming, type);
  }

  /** Topics this rule produces to that must exist (with their partition counts). */
  ownTopics(): { topic: string; partitions: number }[] {
    const k = this.deps.kafka;
    const own = [
      { topic: this.retryTopicName(), partitions: k.topicPartitions },
      { topic: this.delayedTopicName(), partitions: k.topicPartitions },
    ];
    if (this.rule.partitioned !== undefined) {
      own.push({ topic: this.partitionedTopicName(), partitions: this.rule.partitioned.partitions });
    }
    return own;
  }

  setJobTopics(topics: readonly string[]): void {
    this.jobTopics = [...topics];
    for (const lane of this.sourceLanes) lane.setTopics(topics);
  }

  start(): void {
    for (const lane of this.lanes) lane.start();
  }

  /** Lanes with a live consumer, for lag measurement. */
  connectedLanes(): ConsumerLane[] {
    return this.lanes.filter((lane) => lane.connectedConsumer !== undefined);
  }

  setLag(lag: Record<string, number>, at: Date): void {
    this.lag = lag;
    this.lagMeasuredAt = at.toISOString();
    let total = 0;
    for (const value of Object.values(lag)) total += value;
    this.deps.metrics.gauge([`${this.rule.name}_lag`], total);
  }

  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    // Held retry/delayed events go back to the end of their topics (quick produces), so the timed
    // consumer always waits for those even when not draining; their offsets can then be committed.
    this.held.stop();
    await Promise.all(
      this.lanes.map((lane) => lane.stop(lane === this.timedLane ? Math.max(drainMs, 5000) : drainMs)),
    );
    // After the drain, in which an event waiting for another runner's claim may still end.
    this.liveWaits.stop();
  }

  get okCount(): number {
    return this.counters.ok;
  }

  stats(): RuleStats {
    const lanes = this.lanes.map((lane) => lane.stats());
    let lagTotal = 0;
    for (const value of Object.values(this.lag)) lagTotal += value;
    return {
      name: this.rule.name,
      groupId: ruleGroup(this.naming, this.rule.name),
      concurrency: this.rule.concurrency,
      partitioned: this.rule.partitioned !== undefined,
      lowTraffic: this.rule.lowTraffic,
      topics: this.jobTopics,
      executing: this.slots.reduce((sum, s) => sum + s.inUse, 0),
      waiting: this.slots.reduce((sum, s) => sum + s.waiting, 0),
      waitingOnLiveClaim: this.liveWaits.size,
      held: this.held.size,
      inFlight: lanes.reduce((sum, lane) => sum + lane.outstanding, 0),
      lag: { ...this.lag },
      lagTotal,
      lagMeasuredAt: this.lagMeasuredAt,
      counters: { ...this.counters },
      stages: this.stages.snapshot(),
      delay: this.delay.snapshot(),
      totalDelay: this.totalDelay.snapshot(),
      consumers: lanes,
    };
  }

  // ---- event handling ----

  private streamStats(event: JobEventView, isRetry: boolean): StreamStats {
    const stream = event.stream ?? `mediawiki.job.${event.type}`;
    const key = isRetry ? `${stream}\n` : stream;
    let stats = this.statNames.get(key);
    if (stats === undefined) {
      const name = `${this.rule.name}-${stream.replace(/\./g, '_')}${isRetry ? '_retry' : ''}`;
      stats = {
        dequeue: [`${name}_dequeue`],
        delay: [`${name}_delay`],
        totalDelay: [`${name}_totaldelay`],
        exec: [`${name}_exec`],
        abandoned: [`${name}_abandoned`],
      };
      // Bounded: stream names come from the events, and anyone who can push a job picks them.
      if (this.statNames.size >= STAT_NAME_CACHE) this.statNames.clear();
      this.statNames.set(key, stats);
    }
    return stats;
  }

  /** statsd <rule>_outcome.<kind> (events sent to the error topic are counted as <rule>_error). */
  private countOutcome(kind: OutcomeKind): void {
    this.deps.metrics.increment(this.outcomeStats[kind]);
  }

  private countPaused(): void {
    this.counters.paused++;
    this.countOutcome('paused');
  }

  /** Sends a follow-up message; if the outbox is closing, the event stays uncommitted (re-read later). */
  private async produce(what: string, send: Promise<void>): Promise<void> {
    try {
      await send;
    } catch (error) {
      this.log.warn(`Could not produce the ${what} message; the event will be read again`, {
        error: errorText(error),
      });
      throw error;
    }
  }

  private async toErrorTopic(
    message: LaneMessage,
    event: JobEventView | undefined,
    reason: string,
    status: number,
    attempts: number,
    response?: { headers: Readonly<Record<string, string>>; body: string },
  ): Promise<void> {
    const k = this.deps.kafka;
    this.counters.failed++;
    this.deps.metrics.increment([`${this.rule.name}_error`]);
    this.log.error('Event sent to the error topic', {
      reason,
      status,
      attempts,
      type: event?.type,
      database: event?.database,
      id: event?.id,
      source: `${message.topic}/${message.partition}/${message.offset}`,
    });
    await this.produce(
      'error',
      this.deps.outbox.send(
        errorMessage({
          topic: errorTopic(this.naming),
          emitterId: `${k.serviceName}#${this.rule.name}`,
          stream: `${k.serviceName}.error`,
          message,
          event,
          reason,
          status,
          attempts,
          ...(response ? { responseHeaders: response.headers, responseBody: response.body } : {}),
          now: this.deps.clock.now(),
          maxBytes: k.maxFollowUpBytes,
        }),
      ),
    );
  }

  /**
   * Counts a message and parses it in place (no promise per event). A refused event comes back as
   * its trip to the error topic, which the caller awaits and stops at.
   */
  private receive(message: LaneMessage): JobEventView | Promise<void> {
    this.counters.received++;
    try {
      return parseJobEvent(message.value);
    } catch (error) {
      return this.rejectInvalid(message, error);
    }
  }

  /** An event parseJobEvent() refused goes to the error topic (never lost, never run). */
  private async rejectInvalid(message: LaneMessage, error: unknown): Promise<void> {
    if (!(error instanceof JobEventError)) throw error;
    this.counters.invalid++;
    await this.toErrorTopic(message, undefined, `invalid event: ${error.message}`, 0, 0);
  }

  /**
   * Not async itself: an event that runs (most) goes straight to execute(), one async frame and one
   * promise fewer per event; the rarer paths are in setAside().
   */
  private onJobMessage(message: LaneMessage, slots: Slots): Promise<void> {
    let event: JobEventView | Promise<void>;
    try {
      event = this.receive(message);
      if (event instanceof Promise)
        return event.catch((error: unknown) => this.failedHandling(message, error));
      this.deps.metrics.increment(this.streamStats(event, false).dequeue);
      if (this.deps.kafka.discardCanaryEvents && event.domain === 'canary') {
        this.counters.canary++;
        this.countOutcome('canary');
        return DONE;
      }
      if (
        this.deps.paused.has(event.database, event.type) ||
        (!this.rule.disableDelayedExecution &&
          event.delayUntilMs !== undefined &&
          event.delayUntilMs > this.deps.clock.now())
      ) {
        return this.setAside(message, event);
      }
    } catch (error) {
      return this.failedHandling(message, error);
    }
    return this.execute(message, event, { slots, retriesLeft: this.rule.retryLimit, isRetry: false }).catch(
      (error: unknown) => this.failedHandling(message, error),
    );
  }

  /** A paused queue's or a delayed event goes to the delayed topic (its offset can be committed). */
  private async setAside(message: LaneMessage, event: JobEventView): Promise<void> {
    try {
      const now = this.deps.clock.now();
      if (this.deps.paused.has(event.database, event.type)) {
        // Looked at again later.
        await this.produce(
          'paused',
          this.deps.outbox.send(delayedMessage(this.delayedTopicName(), message, now + PAUSED_RECHECK_MS)),
        );
        this.countPaused();
        return;
      }
      // No slot is held meanwhile.
      await this.produce(
        'delayed',
        this.deps.outbox.send(delayedMessage(this.delayedTopicName(), message, event.delayUntilMs ?? now)),
      );
      this.counters.delayed++;
      this.countOutcome('delayed');
    } catch (error) {
      await this.failedHandling(message, error);
    }
  }

  private async onTimedMessage(message: LaneMessage, slots: Slots): Promise<void> {
    try {
      const event = this.receive(message);
      if (event instanceof Promise) return await event;
      const isRetry = message.topic === this.retryTopicName();
      const now = this.deps.clock.now();
      let notBefore = parseIntHeader(message, HEADER_NOT_BEFORE) ?? event.delayUntilMs ?? now;
      if (!isRetry && this.rule.disableDelayedExecution) notBefore = now;
      const reason = await new Promise<ReleaseReason>((resolve) => this.held.hold(notBefore, resolve));
      // Its partition moved to another consumer while held: that one holds and runs it.
      if (message.lease.lost) {
        this.counters.handedOver++;
        return;
      }
      if (reason !== 'due') {
        await this.produce('requeued', this.deps.outbox.send(requeuedMessage(message)));
        this.counters.requeued++;
        return;
      }
      if (this.deps.paused.has(event.database, event.type)) {
        // Still (or now) paused: back to the end of its topic, headers kept, due again later.
        await this.produce(
          'paused',
          this.deps.outbox.send(requeuedMessage(message, this.deps.clock.now() + PAUSED_RECHECK_MS)),
        );
        this.countPaused();
        return;
      }
      const retriesLeft = parseIntHeader(message, HEADER_RETRIES_LEFT) ?? this.rule.retryLimit;
      this.deps.metrics.increment(this.streamStats(event, isRetry).dequeue);
      await this.execute(message, event, { slots, retriesLeft, isRetry });
    } catch (error) {
      await this.failedHandling(message, error);
    }
  }

  private async onPartitionMessage(message: LaneMessage): Promise<void> {
    try {
      const event = this.receive(message);
      if (event instanceof Promise) return await event;
      const partitioning = this.rule.partitioned;
      if (partitioning === undefined) return;
      const partition = partitionFor(partitioning, event);
      await this.produce(
        'partitioned',
        this.deps.outbox.send({
          topic: this.partitionedTopicName(),
          partition,
          value: message.value ?? Buffer.alloc(0),
          headers: Object.fromEntries(message.headers),
        }),
      );
      this.counters.partitioned++;
    } catch (error) {
      await this.failedHandling(message, error);
    }
  }

  /**
   * A handler step threw (the outbox closed while stopping, or a bug): the offset must not be
   * committed, so this never resolves; the lane is stopping or the runner restarts and re-reads it.
   */
  private failedHandling(message: LaneMessage, error: unknown): Promise<void> {
    const level = this.stopping ? 'warn' : 'error';
    this.log[level]('Event left unfinished; its offset is not committed and it will be read again', {
      source: `${message.topic}/${message.partition}/${message.offset}`,
      error: errorText(error),
    });
    return new Promise<void>(() => undefined);
  }

  /** The endpoint with {database} filled in (URL-encoded: the value comes from the event). */
  private endpointFor(event: JobEventView): URL {
    return new URL(this.rule.endpoint.replaceAll('{database}', encodeURIComponent(event.database)));
  }

  /** Older than the rule's claimTtlSeconds or rootClaimTtlSeconds allow: abandoned, not run. */
  private tooOld(event: JobEventView, now: number): boolean {
    const rule = this.rule;
    return (
      (rule.claimTtlSeconds > 0 &&
        event.dtMs !== undefined &&
        now - event.dtMs > rule.claimTtlSeconds * 1000) ||
      (rule.rootClaimTtlSeconds > 0 &&
        event.rootDtMs !== undefined &&
        now - event.rootDtMs > rule.rootClaimTtlSeconds * 1000)
    );
  }

  private abandon(stats: StreamStats): void {
    this.counters.abandoned++;
    this.deps.metrics.increment(stats.abandoned);
  }

  /**
   * The event's partition moved to another consumer before the event started: it is given up here
   * (claim released, offset neither finished nor committed), and the partition's new owner, which
   * reads it again from the committed offset, runs it at once instead of waiting for a claim that
   * would wait here for a slot. Should the release reach Redis after the new owner read the event
   * (from another host it may), the new owner finds this runner's live unrun claim and waits for
   * it (waitForLiveClaim) until the release lands, then claims and runs it: nothing to watch here.
   */
  private async handOver(claim: DedupClaim | undefined): Promise<void> {
    this.counters.handedOver++;
    // Unclaimed (no dedup keys, dedup off or failing): the new owner runs it anyway.
    if (claim === undefined) return;
    await this.deps.dedup.finish(claim, 'release');
  }

  /**
   * Another live runner process holds the event's ID claimed and has not run it (typically the
   * partition moved here while that runner runs it). Skipping it as a duplicate would lose it if
   * that runner died mid-run, or its run failed and it died before producing the retry: nobody
   * would read it again. So it waits (offset uncommitted, no slot) and is claimed again each
   * interval until it is a duplicate (it ran) or claimed (its claim was released, or its owner
   * died). Bounded: that run ends within the rule's timeoutMs (plus connecting); past that plus
   * one alive TTL it is claimed as a retry (only runs count), so it runs unless it ran, in case the
   * owner gave it up and its release never reached Redis. Undefined: its partition moved away.
   */
  private async waitForLiveClaim(
    message: LaneMessage,
    event: JobEventView,
  ): Promise<ClaimResult | undefined> {
    const { clock, dedup } = this.deps;
    this.counters.waitedOnLiveClaim++;
    this.deps.metrics.increment(this.dedupeWaitStat);
    const deadline = clock.now() + this.rule.timeoutMs + CONNECT_TIMEOUT_MS + dedup.aliveTtl;
    for (;;) {
      if ((await this.liveWaits.next(message.lease)) === 'lost') {
        this.counters.handedOver++;
        return undefined;
      }
      const overdue = clock.now() >= deadline;
      const claimed = await dedup.claim(this.rule.name, event, clock.now(), { isRetry: overdue });
      if (claimed.heldElsewhere === true) continue;
      if (overdue && claimed.duplicate === undefined) {
        this.counters.liveClaimOverdue++;
        this.deps.metrics.increment(this.dedupeOverdueStat);
        this.log.warn("Running an event another runner claimed and did not run within the rule's timeout", {
          type: event.type,
          database: event.database,
          id: event.id,
          source: `${message.topic}/${message.partition}/${message.offset}`,
          timeoutMs: this.rule.timeoutMs,
        });
      }
      return claimed;
    }
  }

  /**
   * The event runs in this process already, from a lane that lost its partition meanwhile (its
   * claim is this process's, a duplicate to the script): done once that run completed (lost-runs.ts).
   */
  private async awaitOwnRun(original: Promise<void>): Promise<void> {
    this.counters.waitedOnLiveClaim++;
    this.deps.metrics.increment(this.dedupeWaitStat);
    await original;
    this.counters.duplicates++;
    this.deps.metrics.increment(this.dedupeStat);
  }

  private async execute(message: LaneMessage, event: JobEventView, ctx: ExecContext): Promise<void> {
    const rule = this.rule;
    const { clock, metrics } = this.deps;
    const original = this.lostRuns.original(message);
    if (original !== undefined) return this.awaitOwnRun(original);
    const stat = this.streamStats(event, ctx.isRetry);
    if (this.tooOld(event, clock.now())) {
      this.abandon(stat);
      return;
    }
    // Claimed before the run: an identical event read meanwhile is a duplicate of this one. And
    // claimed before waiting for a slot: the events waiting for slots are claimed together in few
    // Redis calls, and a freed slot starts the next event without a round trip. The claimed run
    // start is then a little early, which can only make fewer later events count as superseded.
    const claimStart = performance.now();
    let claimed = await this.deps.dedup.claim(rule.name, event, clock.now(), ctx);
    if (claimed.heldElsewhere === true) {
      const after = await this.waitForLiveClaim(message, event);
      if (after === undefined) return;
      claimed = after;
    }
    if (claimed.duplicate !== undefined) {
      this.counters.duplicates++;
      metrics.increment(this.dedupeStat);
      this.log.debug('Duplicate event skipped', { by: claimed.duplicate, id: event.id, type: event.type });
      return;
    }
    const claim = claimed.claim;
    if (message.lease.lost) return this.handOver(claim);
    const slotStart = performance.now();
    const release = ctx.slots.tryAcquire() ?? (await ctx.slots.acquire(message.lease));
    if (release === undefined) return this.handOver(claim);
    this.lostRuns.started(message);
    let result: ExecuteResult;
    try {
      const now = clock.now();
      if (this.tooOld(event, now)) {
        // Became too old while waiting for a slot: not run, so its claim is given back.
        release();
        await this.deps.dedup.finish(claim, 'release');
        this.abandon(stat);
        this.lostRuns.ended(message);
        return;
      }
      if (event.dtMs !== undefined) {
        metrics.timing(stat.delay, now - event.dtMs);
        this.delay.observe((now - event.dtMs) / 1000);
      }
      if (!ctx.isRetry && event.rootDtMs !== undefined) {
        metrics.timing(stat.totalDelay, now - event.rootDtMs);
        this.totalDelay.observe((now - event.rootDtMs) / 1000);
      }
      const t0 = performance.now();
      result = await this.deps.executor.execute({
        url: this.endpoint ?? this.endpointFor(event),
        body: message.value ?? Buffer.alloc(0),
        timeoutMs: rule.timeoutMs,
        requestId: event.requestId,
      });
      const t1 = performance.now();
      metrics.timing(stat.exec, t1 - t0);
      this.stages.add(slotStart - claimStart, t0 - slotStart, t1 - t0);
    } finally {
      release();
    }
    const outcome = classify(result, { ignoreStatus: rule.ignoreStatus, retriesLeft: ctx.retriesLeft });
    const attempt = rule.retryLimit - ctx.retriesLeft + 1;
    // Given back before a retry is produced, so the retry is not taken for a duplicate of itself.
    if (outcome.kind === 'ok' || outcome.kind === 'ignored') this.deps.dedup.done(claim);
    else await this.deps.dedup.finish(claim, 'release');
    switch (outcome.kind) {
      case 'ok':
      case 'ignored':
        if (outcome.kind === 'ok') this.counters.ok++;
        else this.counters.ignored++;
        this.countOutcome(outcome.kind);
        break;
      case 'readonly': {
        this.counters.readonly++;
        this.countOutcome('readonly');
        const wait = this.deps.kafka.readonlyRetryDelayMs * (1 + Math.random());
        this.log.info('Wiki is read-only; retrying without using up an attempt', {
          type: event.type,
          database: event.database,
          waitMs: Math.round(wait),
        });
        await this.produce(
          'retry',
          this.deps.outbox.send(
            retryMessage(this.retryTopicName(), message, {
              notBefore: clock.now() + wait,
              retriesLeft: ctx.retriesLeft,
              attempt: attempt - 1,
              reason: outcome.reason,
            }),
          ),
        );
        break;
      }
      case 'retry': {
        this.counters.retried++;
        this.countOutcome('retry');
        const done = rule.retryLimit - ctx.retriesLeft;
        const wait = rule.retryDelayMs * rule.retryFactor ** Math.max(0, done);
        this.log.warn('Event failed; retrying later', {
          type: event.type,
          database: event.database,
          id: event.id,
          status: outcome.status,
          reason: outcome.reason,
          attempt,
          retriesLeft: ctx.retriesLeft - 1,
          waitMs: wait,
        });
        await this.produce(
          'retry',
          this.deps.outbox.send(
            retryMessage(this.retryTopicName(), message, {
              notBefore: clock.now() + wait,
              retriesLeft: ctx.retriesLeft - 1,
              attempt,
              reason: outcome.reason,
            }),
          ),
        );
        break;
      }
      case 'error':
        await this.toErrorTopic(
          message,
          event,
          outcome.reason,
          outcome.status,
          attempt,
          result.kind === 'response' ? { headers: result.headers, body: result.body } : undefined,
        );
        break;
    }
    // Its outcome is settled (a throw above leaves it unsettled: a copy waiting for it waits on).
    this.lostRuns.ended(message);
  }
}
