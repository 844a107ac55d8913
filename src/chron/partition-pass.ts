// One round of upkeep on a partition under a held lease. Two kinds:
//   full   every queue listed in both sets, in pipelined batches (runPass(): tests, in-process use);
//   paced  the daemon's rounds: the queues whose due time has come (due-time index), the queues
//          change notifications named, and one slice of the paced walk (walk.ts). Its cost follows
//          what changes, plus a trickle of fullWalkSeconds⁻¹ × queues for the walk.
// Both run the same Lua step per queue, so the job state transitions are the same.
import { QUEUES_WITH_JOBS_KEY, readyHashField } from '../mediawiki/queue-keys.js';
import { LeaseLostError } from './errors.js';
import { QUEUES_WITH_ABANDONED_KEY } from './keys.js';
import type { HeldLease } from './lease.js';
import {
  maintainVisits,
  visitOfMember,
  visitOfPrefix,
  type BatchContext,
  type BatchOutcome,
  type FoundBy,
  type QueueResult,
  type Visit,
} from './maintain.js';
import type { PartitionPassReport, PartitionWorker } from './partition-worker.js';
import type { ReadyHashUpdate } from './ready-hash.js';
import { scanSetBatches } from './scan.js';
import { emptyJobCounts, type JobCounts } from './stats.js';

export type PassMode = 'full' | 'paced';

/** Queues that hit the per-call limit get up to this many extra steps in the same pass. */
export const MAX_EXTRA_ROUNDS = 9;
/**
 * Pipelines sent before waiting for the oldest reply: while Redis runs one batch, the next is being
 * encoded, so Node and Redis work in parallel (on two cores) instead of taking turns.
 */
const BATCHES_IN_FLIGHT = 2;
/** Due or changed queues visited per round, in batches; the rest wait for the next round. */
const MAX_DUE_BATCHES_PER_ROUND = 20;
/**
 * Due times further ahead than this many walks are not indexed: the walk visits the queue again
 * before then and indexes it then. Keeps the index to the queues with something due soon.
 */
const HORIZON_WALKS = 3;

export class PartitionPass {
  private readonly startedAt = Date.now();
  private queues = 0;
  private readyQueues = 0;
  private malformed = 0;
  private failedQueues = 0;
  private readonly counts = emptyJobCounts();
  private readonly byType = new Map<string, JobCounts>();
  private readonly more: Visit[] = [];
  private readonly readyWrites: Promise<void>[] = [];
  private readyHashFailures = 0;
  private fenced: LeaseLostError | null = null;
  private readonly batch: BatchContext;
  private readonly target: ReadyHashUpdate;
  private readonly horizon: number;
  private cycleDone = false;
  private readonly malformedMembers: string[] = [];
  private quarantined = 0;

  constructor(
    private readonly worker: PartitionWorker,
    private readonly lease: HeldLease,
    private readonly now: number,
    private readonly mode: PassMode,
  ) {
    const config = worker.context.config();
    this.batch = {
      partition: worker.name,
      lease,
      leaseTtlMs: config.chron.leaseTtlMs,
      limits: config.limits,
      pruneAfterSeconds: config.chron.pruneAfterSeconds,
      perCategoryLimit: config.chron.perCategoryLimit,
      nowSeconds: Math.floor(now / 1000),
    };
    this.horizon = this.batch.nowSeconds + HORIZON_WALKS * config.chron.fullWalkSeconds;
    // A full pass confirms ready-hash fields on its own; a paced walk confirms them over a whole walk.
    const passId = mode === 'full' ? `${worker.nextPassId()}` : `w${worker.walk.cycle}`;
    this.target = {
      partition: worker.name,
      partitions: worker.context.partitions(),
      fence: lease.fence,
      passId: `${lease.fence}/${passId}`,
    };
  }

  async run(): Promise<PartitionPassReport> {
    const batches = new InFlight(BATCHES_IN_FLIGHT);
    let complete = this.mode === 'full' ? await this.runFull(batches) : await this.runPaced(batches);
    const { batchSize } = this.worker.context.config().chron;
    for (let round = 0; complete && this.more.length > 0 && round < MAX_EXTRA_ROUNDS; round++) {
      const again = this.more.splice(0);
      for (let i = 0; i < again.length && complete; i += batchSize) {
        await batches.add(this.runVisits(again.slice(i, i + batchSize), false));
        if (this.worker.context.stopping()) complete = false;
      }
      await batches.drain();
    }
    if (this.malformedMembers.length > 0) {
      this.quarantined = await this.worker.quarantine(this.malformedMembers);
    }
    // Still more after the extra rounds: due again in the next round.
    for (const visit of this.more) this.worker.due.note(visit.indexKey, this.batch.nowSeconds);
    await Promise.all(this.readyWrites);
    if (this.fenced) throw this.fenced;
    const sweepNow = this.mode === 'full' ? complete : complete && this.cycleDone;
    if (sweepNow) await this.sweepReadyHash();
    return this.report(complete);
  }

  partialReport(): PartitionPassReport {
    return this.report(false);
  }

  private async runFull(batches: InFlight): Promise<boolean> {
    const { batchSize } = this.worker.context.config().chron;
    for (const key of [QUEUES_WITH_JOBS_KEY, QUEUES_WITH_ABANDONED_KEY]) {
      for await (const members of scanSetBatches(this.worker.redis, key, batchSize)) {
        await batches.add(this.runMembers(members, 'full'));
        if (this.worker.context.stopping()) {
          await batches.drain();
          return false;
        }
      }
    }
    await batches.drain();
    return true;
  }

  private async runPaced(batches: InFlight): Promise<boolean> {
    const config = this.worker.context.config().chron;
    const max = config.batchSize * MAX_DUE_BATCHES_PER_ROUND;
    const visits: Visit[] = [];
    for (const key of this.worker.due.takeDue(this.batch.nowSeconds, max)) {
      const visit = key.startsWith('[') ? visitOfMember(key, 'full') : visitOfPrefix(key);
      if (visit) visits.push(visit);
    }
    for (const prefix of this.worker.takeChanged(max - visits.length)) {
      const visit = visitOfPrefix(prefix);
      if (visit) visits.push(visit);
    }
    for (let i = 0; i < visits.length; i += config.batchSize) {
      await batches.add(this.runVisits(visits.slice(i, i + config.batchSize)));
      if (this.worker.context.stopping()) {
        await batches.drain();
        return false;
      }
    }
    const slice = await this.worker.walk.next(config.intervalMs, config.fullWalkSeconds, config.batchSize);
    this.cycleDone = slice.cycleDone;
    const listed = slice.members.filter((m) => m.set === QUEUES_WITH_JOBS_KEY).map((m) => m.member);
    const abandoned = slice.members.filter((m) => m.set !== QUEUES_WITH_JOBS_KEY).map((m) => m.member);
    for (const [members, foundBy] of [
      [listed, 'listed'],
      [abandoned, 'full'],
    ] as const) {
      for (let i = 0; i < members.length; i += config.batchSize) {
        await batches.add(this.runMembers(members.slice(i, i + config.batchSize), foundBy));
      }
    }
    await batches.drain();
    return !this.worker.context.stopping();
  }

  private async sweepReadyHash(): Promise<void> {
    const readyHash = this.worker.context.readyHash();
    if (!readyHash || !this.worker.sweepNeeded(this.lease.fence, this.queues, this.now)) return;
    const config = this.worker.context.config().chron;
    const staleAfterSeconds = Math.max(
      60,
      Math.ceil((10 * config.intervalMs) / 1000),
      this.mode === 'paced' ? 2 * config.fullWalkSeconds + 60 : 0,
    );
    const nowSeconds = Math.floor(this.now / 1000);
    const failures = await readyHash.sweep(this.target, nowSeconds, nowSeconds - staleAfterSeconds);
    this.readyHashFailures += failures.length;
    this.worker.noteSweep(this.lease.fence, this.queues, failures.length, this.now);
  }

  private report(complete: boolean): PartitionPassReport {
    return {
      partition: this.worker.name,
      instanceId: this.worker.context.instanceId,
      fence: this.lease.fence,
      startedAt: this.startedAt,
      endedAt: Date.now(),
      now: this.now,
      queues: this.queues,
      readyQueues: this.readyQueues,
      malformed: this.malformed,
      failedQueues: this.failedQueues,
      quarantined: this.quarantined,
      counts: { ...this.counts },
      byType: this.byType,
      complete,
      readyHashFailures: this.readyHashFailures,
    };
  }

  private async runMembers(members: readonly string[], foundBy: FoundBy): Promise<void> {
    const visits: Visit[] = [];
    for (const member of members) {
      const visit = visitOfMember(member, foundBy);
      if (visit) visits.push(visit);
      else {
        this.malformed += 1;
        this.malformedMembers.push(member);
      }
    }
    await this.runVisits(visits);
  }

  private async runVisits(visits: readonly Visit[], firstVisit = true): Promise<void> {
    if (visits.length === 0) return;
    const outcome: BatchOutcome = await maintainVisits(this.worker.redis, visits, this.batch);
    for (const { member, message } of outcome.failed) {
      this.failedQueues += 1;
      this.worker.noteMemberOnce('failed', member, message);
    }
    const ready: string[] = [];
    const notReady: string[] = [];
    for (const result of outcome.results) {
      if (firstVisit) this.queues += 1;
      this.tally(result);
      this.index(result);
      // Rare (a category hit the per-call limit): a search is cheaper than a map per batch.
      const visit = result.more ? visits.find((v) => v.indexKey === result.indexKey) : undefined;
      if (visit) this.more.push(visit);
      // A queue known only from a key name has no confirmed set member: the walk writes its field.
      if (result.queue.queueId === '' || !result.indexKey.startsWith('[')) continue;
      const field = readyHashField(result.queue.type, result.queue.domain);
      if (result.ready > 0) ready.push(field);
      else notReady.push(field);
      if (firstVisit && result.ready > 0) this.readyQueues += 1;
    }
    const readyHash = this.worker.context.readyHash();
    if (readyHash && (ready.length > 0 || notReady.length > 0)) {
      // Not awaited: the next batch goes out meanwhile; replies come back in order per connection.
      this.readyWrites.push(
        readyHash.update(this.target, this.batch.nowSeconds, ready, notReady).then(
          (failures) => {
            this.readyHashFailures += failures.length;
          },
          (error: unknown) => {
            if (error instanceof LeaseLostError) this.fenced = error;
            else this.readyHashFailures += 1;
          },
        ),
      );
    }
  }

  /** Keeps the queue's next due time if it comes before the walk would see the queue again. */
  private index(result: QueueResult): void {
    const due = result.nextDue;
    this.worker.due.set(result.indexKey, due !== null && due <= this.horizon ? due : null);
  }

  private tally(result: QueueResult): void {
    let perType = this.byType.get(result.queue.type);
    if (!perType) {
      perType = emptyJobCounts();
      this.byType.set(result.queue.type, perType);
    }
    addResult(this.counts, result);
    addResult(perType, result);
  }
}

/** Added in place, no object per visit: the walk's garbage is most of its CPU. */
function addResult(into: JobCounts, result: QueueResult): void {
  into.recycled += result.released;
  into.abandoned += result.abandoned;
  into.undelayed += result.undelayed;
  into.pruned += result.pruned;
}

/** Keeps at most `limit` promises running; the first failure is rethrown by add() or drain(). */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;

  constructor(private readonly limit: number) {}

  async add(task: Promise<void>): Promise<void> {
    const tracked = task.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
    if (this.running.size >= this.limit) await Promise.race(this.running);
    this.rethrow();
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.rethrow();
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }
}
