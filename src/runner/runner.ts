// The jobrunner daemon core: discovery polls feed the scheduler, free slots get dispatches, finished
// dispatches feed back into back-offs and counters. Every child is supervised by its dispatcher
// (timeouts, kill escalation, reaping) independently of whether there is work (W2); a slot is
// reused only after its dispatch resolved (W1). Shutdown drains (W6); reload keeps children (W7).
import { hostname } from 'node:os';
import type { PushWatch, QueueBackend, QueueListing, ReadyQueue } from '../backend/types.js';
import { limitFor, type JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/statsd.js';
import { systemClock, type Clock } from './clock.js';
import type { DispatchRequest, DispatchResult, Dispatcher } from './dispatch/types.js';
import { DiscoveryLoop, errorText, pollInterval, WAKE_MIN_GAP_MS } from './discovery.js';
import { queueLabel } from './queue-id.js';
import { runnableTypes } from './runnable-types.js';
import { ALL_PARTITIONS } from './ready-view.js';
import { RunnerMetrics, type LoopState } from './runner-metrics.js';
import { Scheduler, type RunningDispatch, type FinishReport, type QueuePick } from './scheduler.js';
import { SlotPool, type Slot, type SlotGroup } from './slot-pool.js';
import { PausedQueues } from './paused.js';
import { WorkSummary } from './work-summary.js';
import {
  Ring,
  summarizeLatency,
  type FailedJobRecord,
  type FailureRecord,
  type GroupStats,
  type RunnerStats,
  type RunnerTotals,
} from './stats.js';

export interface JobRunnerDeps {
  readonly backend: Pick<
    QueueBackend,
    | 'listReadyQueues'
    | 'pollReady'
    | 'noteDispatchEnd'
    | 'readinessStats'
    | 'watchPushes'
    | 'headJobTimestamp'
    | 'pausedQueues'
    | 'leaseDispatch'
  >;
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: Clock;
  /** The `<host>` metric segment; defaults to os.hostname(). */
  readonly hostname?: string;
  /** Starting priority mode per group (default Math.random, like the original). */
  readonly random?: () => number;
}

interface ActiveDispatch {
  readonly pick: QueuePick;
  readonly request: DispatchRequest;
  readonly startedAt: number;
  readonly controller: AbortController;
  readonly dispatcher: Dispatcher;
  done: Promise<void>;
}

type RunnerState = 'idle' | 'running' | 'draining' | 'stopped';

const RECENT_FAILURES = 50;
/** Discovery errors this soon after start are connections still coming up, not outages. */
const STARTUP_GRACE_MS = 2000;
const LATENCY_SAMPLES = 200;

/** A quiet queue's dispatch lease lasts its express slice plus this (s): its child's start-up and first pop. */
const DISPATCH_LEASE_MARGIN_S = 1;

export class JobRunner {
  private config: JobrunnerConfig;
  private dispatcher: Dispatcher;
  private readonly backend: JobRunnerDeps['backend'];
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly metrics: RunnerMetrics;
  private readonly scheduler: Scheduler;
  private readonly pool: SlotPool<ActiveDispatch>;
  private readonly discovery: DiscoveryLoop;
  private readonly summary: WorkSummary;
  private readonly paused: PausedQueues;
  private pushWatch: PushWatch | null = null;
  private readonly inFlight = new Set<ActiveDispatch>();
  private state: RunnerState = 'idle';
  private startedAt: number | null = null;
  private lastWorkAt = -Infinity;
  private typesFor: { config: JobrunnerConfig; types: string[] | null } | null = null;
  private discoveryWorked = false;
  private fillScheduled = false;
  private stopping: Promise<void> | null = null;
  private readonly failingPartitions = new Map<string, string>();
  /** Since when every slot has been busy with no slot turning over (push watch), or null. */
  private fullSince: number | null = null;
  /** This runner in dispatch leases (host and pid: several runners may share a host). */
  private readonly leaseHolder = `${hostname()}:${process.pid}`;
  private readonly failures = new Ring<FailureRecord>(RECENT_FAILURES);
  private readonly failedJobs = new Ring<FailedJobRecord>(RECENT_FAILURES);
  private readonly latencies = {
    pickup: new Ring<number>(LATENCY_SAMPLES),
    notice: new Ring<number>(LATENCY_SAMPLES),
  };
  private readonly latencyCounts = { pickup: 0, notice: 0 };
  private totals: { -readonly [K in keyof RunnerTotals]: RunnerTotals[K] } = {
    dispatches: 0,
    dispatchesOk: 0,
    jobsOk: 0,
    jobsFailed: 0,
    errors: 0,
    timeouts: 0,
    aborted: 0,
  };

  constructor(config: JobrunnerConfig, deps: JobRunnerDeps) {
    this.config = config;
    this.dispatcher = deps.dispatcher;
    this.backend = deps.backend;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.metrics = new RunnerMetrics(deps.metrics, deps.hostname ?? hostname());
    const backend = deps.backend;
    this.paused = new PausedQueues(
      backend.pausedQueues ? () => backend.pausedQueues?.() ?? Promise.resolve([]) : undefined,
      this.logger,
    );
    this.scheduler = new Scheduler(config.groups, config.runner, this.clock.now(), {
      ...(deps.random ? { random: deps.random } : {}),
      isPaused: (wiki, type) => this.paused.has(wiki, type),
      onPriorityChange: (group, from, to, why) => {
        this.metrics.priorityChanged();
        this.logger.debug('priority mode changed', { group, from, to, why });
      },
    });
    this.pool = new SlotPool(config.groups, (group) => this.scheduler.burstSlotCount(group));
    this.summary = new WorkSummary(
      this.logger,
      () => {
        const gauges = this.gaugeValues();
        return {
          totals: { ...this.totals },
          busySlots: gauges.reduce((n, g) => n + g.busy, 0),
          slots: gauges.reduce((n, g) => n + g.total, 0),
        };
      },
      () => this.clock.now(),
    );
    this.discovery = new DiscoveryLoop(
      () => this.pollOnce(),
      () =>
        pollInterval({
          busyMs: this.config.runner.discoveryIntervalMs,
          idleMs: this.config.runner.idleDiscoveryIntervalMs,
          msSinceWork: this.clock.now() - this.lastWorkAt,
          // Pushes wake discovery only for free slots; with every ordinary slot busy the runner
          // still polls at the busy pace (time share, dispatches that overrun into burst slots).
          pushesWatched: (this.pushWatch?.watchingAll ?? false) && this.anyOrdinaryFree(),
        }),
      () => Math.min(this.config.runner.discoveryIntervalMs, WAKE_MIN_GAP_MS),
      this.logger,
    );
  }

  start(): void {
    if (this.state !== 'idle') throw new Error(`JobRunner.start(): already ${this.state}`);
    this.state = 'running';
    this.startedAt = this.clock.now();
    this.logger.info('Starting job runner', {
      config: this.config.sourcePath,
      dispatch: this.dispatcher.kind,
    });
    for (const group of this.pool.groups) {
      this.logger.info('Initialized group', { group: group.name, runners: group.slots.length });
    }
    this.metrics.started();
    this.setPushWatch(this.config.runner.wakeOnPush);
    // Paused queues are read before the first pick, so a restart never runs one.
    void this.paused.start().then(() => {
      if (this.state === 'running') this.discovery.start();
    });
    this.summary.start();
  }

  /** Starts or ends push notifications (runner.wakeOnPush; Redis backend only). */
  private setPushWatch(wanted: boolean): void {
    if (wanted && !this.pushWatch && this.backend.watchPushes) {
      this.pushWatch = this.backend.watchPushes(
        {
          onPush: (_partition, queue) => this.onPush(queue),
          onResync: () => this.discovery.wake(),
        },
        this.logger,
      );
      this.updatePushWatch();
    } else if (!wanted && this.pushWatch) {
      const watch = this.pushWatch;
      this.pushWatch = null;
      void watch.close();
    }
  }

  /**
   * Takes no new work. With `drain`, running children may finish for up to
   * runner.drainTimeoutSeconds; the rest are aborted (the dispatcher kills and reaps them).
   * Resolves once every child is gone. The caller closes the backend, dispatcher and metrics.
   */
  stop(drain: boolean): Promise<void> {
    this.stopping ??= this.shutdown(drain);
    return this.stopping;
  }

  private async shutdown(drain: boolean): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'draining';
    await this.discovery.stop();
    this.setPushWatch(false);
    const timeoutMs = drain ? this.config.runner.drainTimeoutSeconds * 1000 : 0;
    if (wasRunning)
      this.logger.info('Stopping: no new work', { inFlight: this.inFlight.size, drain, timeoutMs });
    if (this.inFlight.size > 0 && timeoutMs > 0) await this.waitForInFlight(timeoutMs);
    if (this.inFlight.size > 0) {
      this.logger.warn(drain ? 'Drain timeout reached; stopping children' : 'Stopping children', {
        children: [...this.inFlight].map((a) => queueLabel(a.pick.wiki, a.pick.type)),
      });
      for (const active of this.inFlight) active.controller.abort();
      await Promise.all([...this.inFlight].map((a) => a.done));
    }
    this.state = 'stopped';
    this.summary.stop();
    this.paused.stop();
    this.metrics.slotGauges(this.gaugeValues(), this.clock.now(), true);
    this.logger.info('Job runner stopped', { totals: { ...this.totals } });
  }

  private async waitForInFlight(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const allDone = (async () => {
      while (this.inFlight.size > 0) await Promise.all([...this.inFlight].map((a) => a.done));
    })();
    await Promise.race([deadline, allDone]);
    clearTimeout(timer);
  }

  /**
   * Applies a new, already validated config: group slot counts, types and runner tunables take
   * effect at once; children keep running (a removed slot finishes its child, then disappears).
   * Pass a new dispatcher when the dispatch settings changed; the old one is closed once its
   * children are done.
   */
  reload(newConfig: JobrunnerConfig, newDispatcher?: Dispatcher): void {
    if (this.state === 'stopped' || this.state === 'draining') {
      this.logger.warn('Reload ignored: the runner is stopping', { config: newConfig.sourcePath });
      void newDispatcher?.close();
      return;
    }
    this.config = newConfig;
    this.setPushWatch(newConfig.runner.wakeOnPush);
    this.scheduler.reconfigure(newConfig.groups, newConfig.runner, this.clock.now());
    this.pool.resize(newConfig.groups);
    if (newDispatcher && newDispatcher !== this.dispatcher) {
      const old = this.dispatcher;
      this.dispatcher = newDispatcher;
      old.close().catch((error: unknown) => {
        this.logger.warn('closing the previous dispatcher failed', { error: errorText(error) });
      });
    }
    this.logger.info('Configuration reloaded', {
      config: newConfig.sourcePath,
      groups: this.pool.groups.map((g) => ({
        group: g.name,
        runners: g.config?.runners ?? 0,
        retiring: g.slots.filter((s) => s.retiring).length,
      })),
    });
    this.scheduleFill();
  }

  /** During shutdown: stop waiting for the drain and abort every running child now. */
  abortInFlight(): void {
    for (const active of this.inFlight) active.controller.abort();
  }

  /** The dispatcher new dispatches use (the CLI closes it on exit). */
  get currentDispatcher(): Dispatcher {
    return this.dispatcher;
  }

  private async pollOnce(): Promise<void> {
    const pollStartedAt = this.clock.now();
    let listing: QueueListing<ReadyQueue>;
    try {
      listing = await this.listReady(pollStartedAt);
    } catch (error) {
      listing = { queues: [], errors: [{ partition: ALL_PARTITIONS, error: errorText(error) }] };
    }
    if (this.state !== 'running') return;
    const now = this.clock.now();
    this.scheduler.observe(listing, pollStartedAt, now);
    this.notePartitionErrors(listing, now);
    // Like the original, the time share only runs while there is work to share.
    if (this.scheduler.hasKnownWork()) this.scheduler.tick(now);
    const spawned = this.fill();
    // Only work this runner actually takes keeps it in the fast poll: queues of types no group runs,
    // or queues backed off, would otherwise hold it there forever at one Lua call per 50 ms.
    if (spawned > 0 || this.inFlight.size > 0) this.lastWorkAt = now;
    this.metrics.loopState(this.loopState(spawned), now);
    this.metrics.slotGauges(this.gaugeValues(), now, false, () => this.scheduler.activeBackoffs(now));
  }

  /** The groups' finite list of types (null: some group runs every type), kept per config. */
  private runnableTypes(): string[] | null {
    if (this.typesFor?.config !== this.config) {
      this.typesFor = { config: this.config, types: runnableTypes(this.config.groups) };
    }
    return this.typesFor.types;
  }

  /** Incremental where the backend follows readiness itself; else a full listing. */
  private listReady(now: number): Promise<QueueListing<ReadyQueue>> {
    if (!this.backend.pollReady) return this.backend.listReadyQueues();
    return this.backend.pollReady({
      runs: (type) => this.scheduler.runsType(type),
      types: this.runnableTypes(),
      held: (wiki, type) => this.scheduler.blocked(wiki, type, now),
      reconcileMs: this.config.runner.reconcileSeconds * 1000,
      now,
    });
  }

  private notePartitionErrors(listing: QueueListing<ReadyQueue>, now: number): void {
    const failing = new Set<string>();
    // Connections are still being set up right after start: only errors that outlast that count.
    if (listing.errors.length === 0) this.discoveryWorked = true;
    const settling = !this.discoveryWorked && now - (this.startedAt ?? now) < STARTUP_GRACE_MS;
    for (const { partition, error, connecting } of listing.errors) {
      failing.add(partition);
      // A first connection still being made is not an outage (the backend says so).
      if (settling || connecting === true) continue;
      this.metrics.discoveryError();
      if (this.failingPartitions.get(partition) !== error) {
        this.logger.error('Discovery failed for a partition; using its last listing for a while', {
          partition,
          error,
        });
        this.failingPartitions.set(partition, error);
      }
    }
    for (const partition of this.failingPartitions.keys()) {
      if (!failing.has(partition)) {
        this.failingPartitions.delete(partition);
        this.logger.info('Discovery works again for a partition', { partition });
      }
    }
  }

  private loopState(spawned: number): LoopState {
    if (spawned > 0) return 'spawned';
    if (!this.scheduler.hasKnownWork()) return 'idle';
    return this.anyOrdinaryFree() ? 'some-full' : 'all-full';
  }

  /** Runs the next fill pass soon, coalescing several finished dispatches into one pass. */
  private scheduleFill(): void {
    if (this.fillScheduled || this.state !== 'running') return;
    this.fillScheduled = true;
    setImmediate(() => {
      this.fillScheduled = false;
      this.fill();
    });
  }

  /** Gives every free slot work, group by group in config order; returns how many started. */
  private fill(): number {
    if (this.state !== 'running') return 0;
    let spawned = 0;
    for (const group of this.pool.groups) {
      if (!group.config) continue;
      // Express slots are the group's last ones, so ordinary slots take the backlogs first.
      let freeSlots = group.slots.filter((s) => this.freeOrdinary(group, s)).length;
      let blocked = false;
      for (const slot of group.slots) {
        if (!this.freeOrdinary(group, slot)) continue;
        const express = this.scheduler.isExpressSlot(group.name, slot.index);
        const pick = this.scheduler.pick(group.name, this.clock.now(), { express, freeSlots });
        // Nothing for this slot: nothing for the later ones either (express slots take less).
        if (!pick) {
          blocked = true;
          break;
        }
        freeSlots--;
        this.launch(group, slot, pick);
        spawned++;
      }
      if (!blocked) spawned += this.fillBurst(group);
    }
    this.updatePushWatch();
    return spawned;
  }

  /**
   * Burst slots (policy fair) stand in for dispatches stuck in a long job, as many as
   * Scheduler.burstRoom allows, for queues nobody runs; then quiet queues still waiting get the
   * room Scheduler.quietRoom leaves them.
   */
  private fillBurst(group: SlotGroup<ActiveDispatch>): number {
    const now = this.clock.now();
    const running: RunningDispatch[] = [];
    for (const s of group.slots) {
      if (s.active)
        running.push({
          key: s.active.pick.key,
          startedAt: s.active.startedAt,
          maxTime: s.active.pick.maxTime,
          quietBurst: s.active.pick.express && this.scheduler.isBurstSlot(group.name, s.index),
        });
    }
    let room = this.scheduler.burstRoom(group.name, running, now);
    const stuck = room > 0 ? this.scheduler.stuckQueues(running, now) : new Set<string>();
    let quietRoom = this.scheduler.quietRoom(group.name, running);
    let spawned = 0;
    for (const slot of group.slots) {
      if (room <= 0 && quietRoom <= 0) break;
      if (slot.active !== null || slot.retiring || !this.scheduler.isBurstSlot(group.name, slot.index))
        continue;
      const quietOnly = room <= 0;
      const pick = this.scheduler.pick(group.name, now, {
        express: false,
        burst: true,
        quietOnly,
        freeSlots: quietOnly ? quietRoom : room,
        stuck,
      });
      // (A burst pick prefers quiet queues: nothing for it is nothing quiet either.)
      if (!pick) break;
      this.launch(group, slot, pick);
      room--;
      quietRoom--;
      spawned++;
    }
    return spawned;
  }

  private anyOrdinaryFree(): boolean {
    return this.pool.groups.some((g) => g.config && g.slots.some((s) => this.freeOrdinary(g, s)));
  }

  /** A free slot of the group's runners (burst slots are never free in this sense). */
  private freeOrdinary(group: SlotGroup<ActiveDispatch>, slot: Slot<ActiveDispatch>): boolean {
    return slot.active === null && !slot.retiring && !this.scheduler.isBurstSlot(group.name, slot.index);
  }

  /**
   * Groups with a slot free for new work, burst slots included: a push may be a quiet queue's,
   * which a burst slot takes while every other slot is busy, and without the push it would be seen
   * only by the paced reconciliation (seconds later).
   */
  private groupsWithFreeSlot(): string[] {
    return this.pool.groups
      .filter((g) => g.config && g.slots.some((s) => s.active === null && !s.retiring))
      .map((g) => g.name);
  }

  /**
   * Pushes are only of use while a slot is free; a runner whose every slot has been busy, none
   * turning over, for a slice unsubscribes, so a busy farm does not copy each push to every
   * saturated runner. Not at
   * once: under load every slot is busy for moments all the time, and a push that arrives while
   * unsubscribed is found only by the paced reconciliation, seconds later (bench:overload's quiet
   * jobs waited 5 s that way).
   */
  private updatePushWatch(): void {
    if (!this.pushWatch) return;
    if (this.groupsWithFreeSlot().length > 0) {
      this.fullSince = null;
      this.pushWatch.resume();
      return;
    }
    const now = this.clock.now();
    this.fullSince ??= now;
    if (now - this.fullSince >= this.config.runner.scheduling.sliceSeconds * 1000) this.pushWatch.pause();
  }

  private onPush(queue: { readonly wiki: string; readonly type: string } | null): void {
    if (this.state !== 'running') return;
    const free = this.groupsWithFreeSlot();
    if (free.length === 0) return;
    if (queue && !this.scheduler.wantsPush(queue.wiki, queue.type, free, this.clock.now())) return;
    this.discovery.wake();
  }

  private launch(group: SlotGroup<ActiveDispatch>, slot: Slot<ActiveDispatch>, pick: QueuePick): void {
    const startedAt = this.clock.now();
    const notice = this.scheduler.started(pick, startedAt);
    if (notice !== null) {
      this.latencies.notice.push(notice);
      this.latencyCounts.notice++;
      this.metrics.noticeLatency(notice);
    }
    this.measurePickup(pick, startedAt);
    const request: DispatchRequest = {
      wiki: pick.wiki,
      domain: pick.domain,
      type: pick.type,
      maxTime: pick.maxTime,
      maxMem: limitFor(this.config.limits.memory, pick.type),
      realLimitSeconds: limitFor(this.config.limits.real, pick.type),
      maxJobs: this.config.runner.maxJobsPerDispatch,
    };
    const active: ActiveDispatch = {
      pick,
      request,
      startedAt,
      controller: new AbortController(),
      dispatcher: this.dispatcher,
      done: Promise.resolve(),
    };
    slot.active = active;
    this.inFlight.add(active);
    this.totals.dispatches++;
    this.metrics.spawned();
    this.logger.debug('dispatch start', {
      group: group.name,
      slot: slot.index,
      wiki: pick.wiki,
      type: pick.type,
      mode: pick.mode,
      maxTime: pick.maxTime,
      express: pick.express,
      burst: this.scheduler.isBurstSlot(group.name, slot.index),
      // How long the scheduler had known the queue waiting (bench:overload's --trace splits a
      // job's pickup into discovery, the wait for a slot and the start-up with it).
      ...(notice !== null ? { waitedMs: notice } : {}),
    });
    const run = (): Promise<DispatchResult> =>
      safeDispatch(active.dispatcher, request, active.controller.signal, startedAt, this.clock);
    active.done = this.leased(pick, startedAt, run).then((result) =>
      this.finish(group, slot, active, result),
    );
  }

  /**
   * A quiet queue's express dispatch first takes the queue's short lease (policy fair): every host
   * sees the same quiet queue, and without it each one's express slot would start a runJobs that
   * finds the queue empty. A lost lease ends the dispatch as MediaWiki would have, `none-ready`
   * with no job, without starting it; the scheduler then holds the queue back here as usual.
   */
  private leased(
    pick: QueuePick,
    startedAt: number,
    run: () => Promise<DispatchResult>,
  ): Promise<DispatchResult> {
    const lease = this.backend.leaseDispatch;
    if (!pick.express || !lease) return run();
    const ttlMs = (this.config.runner.scheduling.expressSliceSeconds + DISPATCH_LEASE_MARGIN_S) * 1000;
    return lease.call(this.backend, pick, pick.partitions, this.leaseHolder, ttlMs).then((won) => {
      if (won) return run();
      this.logger.debug('dispatch lease held by another runner', { wiki: pick.wiki, type: pick.type });
      return {
        outcome: 'ok',
        result: { jobs: [], reached: 'none-ready', backoffs: {}, elapsed: null },
        okJobs: 0,
        failedJobs: 0,
        byType: {},
        target: 'lease held by another runner',
        durationMs: this.clock.now() - startedAt,
      };
    });
  }

  /**
   * Pickup latency as MediaWiki defines it: dispatch start minus the time the job the child pops
   * first became ready (its release time if it was delayed, else its enqueue time). Looked up
   * beside the dispatch, not before it: the child needs milliseconds to start popping, the lookup
   * well under one.
   */
  private measurePickup(pick: QueuePick, startedAt: number): void {
    if (!this.backend.headJobTimestamp) return;
    this.backend.headJobTimestamp(pick, pick.partitions).then(
      (timestamp) => {
        if (timestamp === null) return;
        const ms = Math.max(0, startedAt - timestamp * 1000);
        this.latencies.pickup.push(ms);
        this.latencyCounts.pickup++;
        this.metrics.pickupLatency(pick.type, ms);
      },
      (error: unknown) => this.logger.debug('pickup latency lookup failed', { error: errorText(error) }),
    );
  }

  private finish(
    group: SlotGroup<ActiveDispatch>,
    slot: Slot<ActiveDispatch>,
    active: ActiveDispatch,
    result: DispatchResult,
  ): void {
    const now = this.clock.now();
    const { pick } = active;
    let report: FinishReport;
    try {
      report = this.scheduler.finished(
        pick,
        {
          outcome: result.outcome,
          reached: result.result?.reached ?? null,
          backoffs: result.result?.backoffs ?? {},
          jobsRun: result.result?.jobs.length ?? 0,
        },
        now,
      );
      this.account(group.name, pick, result, report, now);
    } catch (error) {
      this.logger.error('internal error while recording a finished dispatch', { error: errorText(error) });
    } finally {
      this.inFlight.delete(active);
      this.pool.release(group, slot);
      // A slot turned over: the runner is not saturated, whatever the refill takes next.
      this.fullSince = null;
      this.backend.noteDispatchEnd?.(pick, pick.partitions, result.result?.reached === 'none-ready');
    }
    this.scheduleFill();
  }

  private account(
    groupName: string,
    pick: QueuePick,
    result: DispatchResult,
    report: FinishReport,
    now: number,
  ): void {
    const t = this.totals;
    this.metrics.dispatched(pick.type, result);
    if (result.outcome === 'ok') t.dispatchesOk++;
    t.jobsOk += result.okJobs;
    t.jobsFailed += result.failedJobs;
    if (result.outcome === 'timeout') t.timeouts++;
    if (result.outcome === 'aborted') t.aborted++;
    const reaction = report.reaction;
    const exception = result.outcome === 'ok' && reaction.kind === 'failure';
    if (reaction.error) t.errors++;
    if (exception) this.metrics.reachedException();
    if (reaction.kind !== 'continue' && reaction.kind !== 'aborted') this.metrics.backoff(reaction.kind);

    const fields = {
      group: groupName,
      wiki: pick.wiki,
      type: pick.type,
      target: result.target,
      durationMs: result.durationMs,
    };
    if (result.outcome === 'error' || result.outcome === 'timeout' || exception) {
      const error = exception
        ? `runJobs stopped on an exception (reached: exception)`
        : (result.error ?? `dispatch ${result.outcome}`);
      this.failures.push({
        at: now,
        group: groupName,
        wiki: pick.wiki,
        type: pick.type,
        outcome: result.outcome,
        errorKind: exception ? 'exception' : (result.errorKind ?? null),
        error,
        excerpt: result.excerpt ?? null,
        target: result.target,
        durationMs: result.durationMs,
      });
      this.logger.error('Dispatch failed', {
        ...fields,
        outcome: result.outcome,
        errorKind: exception ? 'exception' : result.errorKind,
        error,
        ...(result.excerpt ? { excerpt: result.excerpt } : {}),
        ...(result.exitCode !== undefined && result.exitCode !== null ? { exitCode: result.exitCode } : {}),
        ...(result.signal ? { signal: result.signal } : {}),
        ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
        ...(result.killed ? { killed: result.killed } : {}),
        backoffMs: report.failureBackoffMs,
      });
    } else if (result.outcome === 'aborted') {
      this.logger.warn('Dispatch aborted by shutdown', fields);
    }
    if (result.failedJobs > 0) {
      for (const job of result.result?.jobs ?? []) {
        if (job.status !== 'ok') {
          this.failedJobs.push({
            at: now,
            wiki: pick.wiki,
            type: job.type || pick.type,
            error: job.error ?? '(no error text)',
          });
        }
      }
      // Failed jobs are MediaWiki's business (they stay claimed and are retried), but say which.
      const errors = [...new Set((result.result?.jobs ?? []).flatMap((j) => (j.error ? [j.error] : [])))];
      this.logger.warn('Jobs failed', {
        ...fields,
        failed: result.failedJobs,
        ok: result.okJobs,
        errors: errors.slice(0, 3),
      });
    }
    if (report.firstConfigMismatch) {
      this.logger.warn('Job type not runnable on this wiki (reached: none-possible); check the config', {
        ...fields,
        backoffSeconds: this.config.runner.nonePossibleBackoffSeconds,
      });
    }
    if (report.wikiFailureBackoffMs !== null) {
      this.metrics.backoff('wiki-failing');
      this.logger.warn('Several job types of this wiki failed in a row; backing off the whole wiki', {
        wiki: pick.wiki,
        backoffMs: report.wikiFailureBackoffMs,
        reason: 'wiki-failing',
      });
    }
    if (reaction.kind === 'wiki-unavailable') {
      this.logger.warn('Wiki cannot run jobs now; backing off the wiki', {
        ...fields,
        reached: result.result?.reached,
        backoffSeconds: this.config.runner.wikiBackoffSeconds,
      });
    }
    this.logger.debug('dispatch end', {
      ...fields,
      outcome: result.outcome,
      reached: result.result?.reached ?? null,
      ok: result.okJobs,
      failed: result.failedJobs,
    });
  }

  private gaugeValues(): { name: string; busy: number; total: number }[] {
    return this.pool.groups.map((g) => ({
      name: g.name,
      busy: g.slots.filter((s) => s.active !== null).length,
      total: g.config?.runners ?? 0,
    }));
  }

  stats(): RunnerStats {
    const now = this.clock.now();
    const schedules = new Map(this.scheduler.groupSchedules().map((s) => [s.name, s]));
    const groups: GroupStats[] = this.pool.groups.map((g) => {
      const schedule = schedules.get(g.name);
      return {
        name: g.name,
        runners: g.config?.runners ?? 0,
        mode: schedule?.mode ?? 'high',
        modeSince: schedule?.modeSince ?? now,
        busy: g.slots.filter((s) => s.active !== null).length,
        // Burst slots are shown only while they run something: they are not capacity.
        slots: g.slots
          .filter((s) => s.active !== null || !this.scheduler.isBurstSlot(g.name, s.index))
          .map((s) => ({
            index: s.index,
            busy: s.active !== null,
            wiki: s.active?.pick.wiki ?? null,
            type: s.active?.pick.type ?? null,
            since: s.active?.startedAt ?? null,
            retiring: s.retiring,
          })),
      };
    });
    return {
      startedAt: this.startedAt,
      state: this.state,
      groups,
      totals: { ...this.totals },
      recentFailures: this.failures.toArray(),
      recentFailedJobs: this.failedJobs.toArray(),
      pickupLatency: summarizeLatency(
        'enqueue-to-dispatch',
        this.latencies.pickup.toArray(),
        this.latencyCounts.pickup,
      ),
      noticeLatency: summarizeLatency(
        'notice-to-dispatch',
        this.latencies.notice.toArray(),
        this.latencyCounts.notice,
      ),
      knownQueues: this.scheduler.view.size,
      partitions: this.scheduler.partitions(),
      backoffs: this.scheduler.activeBackoffs(now),
      failureDamping: this.scheduler.failureDamping(now),
      discoveryIntervalMs: this.config.runner.discoveryIntervalMs,
      pushWake: this.pushWatch ? (this.pushWatch.watchingAll ? 'watching' : 'polling') : 'off',
      readiness: this.backend.readinessStats?.() ?? [],
    };
  }
}

/** dispatch() is documented never to reject; a bug there must still free the slot. */
async function safeDispatch(
  dispatcher: Dispatcher,
  request: DispatchRequest,
  signal: AbortSignal,
  startedAt: number,
  clock: Clock,
): Promise<DispatchResult> {
  try {
    return await dispatcher.dispatch(request, signal);
  } catch (error) {
    return {
      outcome: 'error',
      result: null,
      okJobs: 0,
      failedJobs: 0,
      byType: {},
      errorKind: 'spawn',
      error: `dispatcher threw: ${errorText(error)}`,
      target: '',
      durationMs: clock.now() - startedAt,
    };
  }
}
