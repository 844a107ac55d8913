// jobchron in-process: every intervalMs (start to start, W26) it runs one round over the queue
// partitions — each partition on its own connection and in parallel, so a slow or dead partition
// never holds the others up — keeping the partitions it holds (its fair share) maintained.
//
//   const chron = new Chron(config, { logger, metrics });
//   await chron.start();        // background loop
//   chron.reload(newConfig);    // applied before the next round
//   chron.getStats();           // counters for the status server
//   await chron.stop();         // finishes the batch in hand, releases leases
//
// Tests call `await chron.runPass()` instead of start() to run exactly one round, with `now`
// injected through ChronDeps so delayed jobs fall due and claims go stale without waiting.
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { noMetrics, type Metrics } from '../observability/statsd.js';
import { connectRedis } from '../redis/connection.js';
import { registerChronScripts } from './lua.js';
import {
  PartitionWorker,
  type CycleInstruction,
  type CycleResult,
  type PartitionPassReport,
} from './partition-worker.js';
import type { PassMode } from './partition-pass.js';
import { ReadyHashWriter } from './ready-hash.js';
import { planLeases } from './shard.js';
import { addJobCounts, emptyJobCounts, totalJobs, type ChronStats, type JobCounts } from './stats.js';
import { withTimeout } from './timeout.js';

export interface ChronDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Clock for job semantics (claim age, delays, prune age), ms since the epoch. Default Date.now. */
  readonly now?: () => number;
  /** Source of the start-up jitter. Default Math.random. */
  readonly random?: () => number;
  /** Host name used in metric names. Default os.hostname(). */
  readonly hostname?: string;
  /** Identifies this instance in leases and heartbeats. Default "<host>/<pid>/<random>". */
  readonly instanceId?: string;
  /** Called after every partition pass (status pages, tests). */
  readonly onPartitionPass?: (report: PartitionPassReport) => void;
}

/** The outcome of one round. */
export interface PassSummary {
  readonly startedAt: number;
  readonly durationMs: number;
  /** Partitions this instance maintained in the round. */
  readonly processed: readonly PartitionPassReport[];
  /** Partitions that failed (unreachable, Redis errors). */
  readonly failed: readonly { readonly partition: string; readonly error: string }[];
  /** Partitions whose lease was lost during the round. */
  readonly leaseLost: readonly string[];
  readonly counts: JobCounts;
  readonly ok: boolean;
}

/** stop() is done within this, leaving the CLI time to flush metrics inside systemd's 5 s. */
const STOP_BUDGET_MS = 4000;

export class Chron {
  readonly instanceId: string;
  private config: JobrunnerConfig;
  private pendingConfig: JobrunnerConfig | null = null;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly host: string;
  private readonly workers = new Map<string, PartitionWorker>();
  private readonly retiring = new Set<Promise<void>>();
  private aggregators: { name: string; redis: Redis }[] = [];
  private readyHash: ReadyHashWriter | null = null;
  private connected = false;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private keeper: NodeJS.Timeout | null = null;
  private readonly rounds = new Set<Promise<unknown>>();
  private startedAt: number | null = null;
  private passes = 0;
  private failedPasses = 0;
  private lastPass: { at: number; ms: number } | null = null;
  private readonly totals = emptyJobCounts();
  private target = 0;

  constructor(
    config: JobrunnerConfig,
    private readonly deps: ChronDeps,
  ) {
    this.config = config;
    this.logger = deps.logger;
    this.metrics = deps.metrics ?? noMetrics;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.host = deps.hostname ?? osHostname();
    this.instanceId = deps.instanceId ?? `${this.host}/${process.pid}/${randomBytes(4).toString('hex')}`;
  }

  /** Connects and starts the background loop (after a random start-up delay of up to 1 s). */
  async start(): Promise<void> {
    if (this.loop) return;
    this.connect();
    this.startedAt = Date.now();
    this.metrics.increment(['start-chron', this.host]);
    this.logger.info('jobchron started', {
      instance: this.instanceId,
      partitions: [...this.workers.keys()],
      intervalMs: this.config.chron.intervalMs,
    });
    const keepAliveMs = Math.max(250, Math.floor(this.config.chron.leaseTtlMs / 3));
    this.keeper = setInterval(() => this.keepAlive(), keepAliveMs);
    this.keeper.unref();
    this.loop = this.runLoop();
  }

  /**
   * Stops the loop, lets each partition finish its batch in hand, releases leases, disconnects;
   * bounded by STOP_BUDGET_MS even when a partition hangs.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.keeper) clearInterval(this.keeper);
    this.wake?.();
    const deadline = Date.now() + STOP_BUDGET_MS;
    await withTimeout(Promise.resolve(this.loop), STOP_BUDGET_MS - 1500);
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(deadline)));
    await withTimeout(Promise.all(this.retiring), Math.max(0, deadline - Date.now()));
    await Promise.all(this.aggregators.map((a) => closeQuietly(a.redis)));
    this.logger.info('jobchron stopped', { instance: this.instanceId });
  }

  /** Uses a new (already validated) config from the next round on. */
  reload(config: JobrunnerConfig): void {
    this.pendingConfig = config;
  }

  /** Runs one round now and resolves when it is done (in-process use and tests). */
  async runPass(): Promise<PassSummary> {
    this.connect();
    await Promise.all([...this.workers.values()].map((w) => w.settled()));
    return this.round('full');
  }

  getStats(): ChronStats {
    const wallNow = Date.now();
    return {
      instanceId: this.instanceId,
      startedAt: this.startedAt,
      running: this.loop !== null && !this.stopping,
      passes: this.passes,
      failedPasses: this.failedPasses,
      lastPassMs: this.lastPass?.ms ?? null,
      lastPassAt: this.lastPass?.at ?? null,
      ...this.totals,
      liveInstances: this.liveInstanceCount(wallNow),
      targetPartitions: this.target,
      failingAggregators: this.readyHash?.failingAggregators() ?? [],
      partitions: [...this.workers.values()].map((w) => w.stats(wallNow)),
    };
  }

  private connect(): void {
    if (this.connected) return;
    this.connected = true;
    this.applyConfig(this.config, null);
  }

  private async runLoop(): Promise<void> {
    // De-phase instances started together, like the original (0–1 s).
    await this.sleep(Math.floor(this.random() * Math.min(1000, this.config.chron.intervalMs)));
    while (!this.stopping) {
      const started = Date.now();
      const round = this.round('paced').catch((error: unknown) => {
        this.logger.error('jobchron round crashed', {
          error: error instanceof Error ? error.stack : String(error),
        });
      });
      this.rounds.add(round);
      void round.finally(() => this.rounds.delete(round));
      await this.sleep(started + this.config.chron.intervalMs - Date.now());
    }
    await Promise.all(this.rounds);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async round(mode: PassMode): Promise<PassSummary> {
    if (this.pendingConfig) {
      const next = this.pendingConfig;
      this.pendingConfig = null;
      this.applyConfig(next, this.config);
    }
    const startedAt = Date.now();
    const now = this.now();
    const workers = [...this.workers.values()];
    const untouchable = new Set(workers.filter((w) => w.busy || w.backingOff(startedAt)).map((w) => w.name));
    const plan = planLeases({
      instanceId: this.instanceId,
      partitions: workers.map((w) => w.name),
      held: new Set(workers.filter((w) => w.holdsLease).map((w) => w.name)),
      heldElsewhere: new Set(workers.filter((w) => w.heldElsewhere(startedAt)).map((w) => w.name)),
      untouchable,
      liveInstances: this.liveInstanceCount(startedAt),
    });
    this.target = plan.target;
    const cycles: Promise<[PartitionWorker, CycleResult]>[] = [];
    for (const worker of workers) {
      if (untouchable.has(worker.name)) continue;
      let instruction: CycleInstruction;
      if (worker.holdsLease) instruction = plan.release.includes(worker.name) ? 'release' : 'keep';
      else instruction = plan.acquire.includes(worker.name) ? 'acquire' : 'idle';
      cycles.push(worker.cycle(instruction, now, mode).then((result) => [worker, result]));
    }
    const results = await Promise.all(cycles);
    return this.summarize(startedAt, results);
  }

  private summarize(startedAt: number, results: [PartitionWorker, CycleResult][]): PassSummary {
    const processed: PartitionPassReport[] = [];
    const failed: { partition: string; error: string }[] = [];
    const leaseLost: string[] = [];
    const counts = emptyJobCounts();
    const byType = new Map<string, JobCounts>();
    for (const [worker, result] of results) {
      const report =
        result.kind === 'processed' ? result.report : result.kind === 'lease-lost' ? result.report : null;
      if (result.kind === 'failed') {
        failed.push({ partition: worker.name, error: result.error });
        this.metrics.increment(['periodictasks', 'partition-failed', worker.name]);
      }
      if (result.kind === 'lease-lost') leaseLost.push(worker.name);
      if (report) {
        processed.push(report);
        if (report.quarantined > 0)
          this.metrics.increment(['queue-quarantine', this.host], report.quarantined);
        addJobCounts(counts, report.counts);
        for (const [type, c] of report.byType) {
          const into = byType.get(type) ?? emptyJobCounts();
          addJobCounts(into, c);
          byType.set(type, into);
        }
        this.deps.onPartitionPass?.(report);
        this.logger.debug('partition pass', {
          partition: report.partition,
          fence: report.fence,
          startedAt: report.startedAt,
          endedAt: report.endedAt,
          queues: report.queues,
          readyQueues: report.readyQueues,
          complete: report.complete,
          ...report.counts,
        });
      }
    }
    const durationMs = Date.now() - startedAt;
    const ok =
      failed.length === 0 && processed.every((r) => r.failedQueues === 0 && r.readyHashFailures === 0);
    const summary: PassSummary = { startedAt, durationMs, processed, failed, leaseLost, counts, ok };
    if (results.length === 0) return summary;

    for (const [type, c] of byType) {
      this.metrics.increment(['job-recycle', type], c.recycled);
      this.metrics.increment(['job-abandon', type], c.abandoned);
      this.metrics.increment(['job-undelay', type], c.undelayed);
      this.metrics.increment(['job-prune', type], c.pruned);
    }
    if (processed.length === 0 && failed.length === 0) {
      // Like the original's pool lock race: another instance holds every partition we could take.
      this.metrics.increment(['periodictasks', 'raced', this.host]);
      this.logger.debug('Raced out of periodic tasks (no partition lease held this round)');
    } else {
      if (processed.length > 0) this.metrics.increment(['periodictasks', 'claimed', this.host]);
      this.metrics.increment(['periodictasks', ok ? 'done' : 'failed', this.host]);
    }
    this.metrics.timing(['periodictasks', 'duration', this.host], durationMs);
    this.passes += 1;
    if (!ok) this.failedPasses += 1;
    this.lastPass = { at: Date.now(), ms: durationMs };
    addJobCounts(this.totals, counts);
    const jobs = totalJobs(counts);
    if (jobs > 0) {
      this.logger.info(`Updated the state of ${jobs} job(s) (recycle/undelay/abandon).`, { ...counts });
    }
    return summary;
  }

  private keepAlive(): void {
    for (const worker of this.workers.values()) void worker.keepAlive();
  }

  private liveInstanceCount(wallNow: number): number {
    const ids = new Set<string>([this.instanceId]);
    for (const worker of this.workers.values()) {
      for (const id of worker.liveInstances(wallNow, this.config.chron.leaseTtlMs)) ids.add(id);
    }
    return ids.size;
  }

  /** Creates, keeps or retires partition workers and aggregator connections for a config. */
  private applyConfig(next: JobrunnerConfig, previous: JobrunnerConfig | null): void {
    this.config = next;
    const connectionChanged =
      previous !== null &&
      (previous.redis.password !== next.redis.password ||
        previous.redis.connectTimeoutMs !== next.redis.connectTimeoutMs ||
        previous.redis.commandTimeoutMs !== next.redis.commandTimeoutMs);
    const wanted = new Map(next.redis.queues.map((a) => [a.raw, a]));
    for (const [name, worker] of this.workers) {
      if (!wanted.has(name) || connectionChanged) {
        this.workers.delete(name);
        const retired = worker
          .shutdown(Date.now() + STOP_BUDGET_MS)
          .finally(() => this.retiring.delete(retired));
        this.retiring.add(retired);
        this.logger.info('Partition removed from the configuration', { partition: name });
      }
    }
    const context = {
      instanceId: this.instanceId,
      logger: this.logger,
      config: () => this.config,
      partitions: () => [...this.workers.keys()],
      readyHash: () => (this.config.chron.writeReadyHash ? this.readyHash : null),
      stopping: () => this.stopping,
    };
    const dueTimesChanged =
      previous !== null &&
      (JSON.stringify(previous.limits.claimTTL) !== JSON.stringify(next.limits.claimTTL) ||
        previous.chron.pruneAfterSeconds !== next.chron.pruneAfterSeconds ||
        previous.chron.fullWalkSeconds !== next.chron.fullWalkSeconds);
    for (const [name, address] of wanted) {
      const worker = this.workers.get(name);
      if (worker) worker.configChanged(dueTimesChanged);
      else this.workers.set(name, new PartitionWorker(address, context));
    }
    const aggregatorNames = next.redis.aggregators.map((a) => a.raw).join('\n');
    const previousNames = this.aggregators.map((a) => a.name).join('\n');
    if (previous === null || connectionChanged || aggregatorNames !== previousNames) {
      for (const old of this.aggregators) void closeQuietly(old.redis);
      this.aggregators = next.redis.aggregators.map((address) => {
        const redis = connectRedis(address, next.redis, { logger: this.logger, role: 'aggregator' });
        registerChronScripts(redis);
        return { name: address.raw, redis };
      });
      this.readyHash = new ReadyHashWriter(this.aggregators, this.logger, next.redis.connectTimeoutMs);
    }
  }
}

async function closeQuietly(redis: Redis): Promise<void> {
  const timer = setTimeout(() => redis.disconnect(), 500);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
