// One queue partition (one Redis server from redis.queues) as seen by this jobchron: its connection,
// its lease, its failure/back-off state, and the upkeep pass over every queue it lists.
import type { Redis } from 'ioredis';
import type { JobrunnerConfig, RedisServerAddress } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { connectRedis, waitReady } from '../redis/connection.js';
import { ChangeWatch } from './change-watch.js';
import { DueIndex } from './due-index.js';
import { errorMessage, LeaseLostError, PartitionUnreachableError } from './errors.js';
import { QUARANTINE_KEY, QUEUES_WITH_ABANDONED_KEY } from './keys.js';
import { QUEUES_WITH_JOBS_KEY } from '../mediawiki/queue-keys.js';
import { acquireLease, heartbeat, releaseLease, renewLease, type HeldLease } from './lease.js';
import { registerChronScripts } from './lua.js';
import { PartitionPass, type PassMode } from './partition-pass.js';
import type { ReadyHashWriter } from './ready-hash.js';
import { withTimeout } from './timeout.js';
import type { JobCounts, PartitionStats } from './stats.js';
import { PacedWalk } from './walk.js';

/** Most queues kept in the due-time index (the walk covers any left out). */
const MAX_DUE_ENTRIES = 500_000;
/** Most changed queues remembered between two rounds (the walk covers any left out). */
const MAX_CHANGED = 100_000;
/** Longest back-off between attempts on a failing partition (ms). */
export const MAX_BACKOFF_MS = 30_000;
/** Distinct malformed members / failing queues logged per partition before logging stops. */
const MAX_LOGGED_MEMBERS = 10_000;
/**
 * Heartbeat and lease renewal run this many times per lease TTL, not every pass: the lease and the
 * liveness window are TTL-long, and every write a pass makes re-checks the lease inside Lua, so a
 * pass needs no renewal of its own. At the 30 s default: every 5 s instead of every second.
 */
const KEEPALIVES_PER_TTL = 6;
/** While a partition has no queues at all, its ready-hash sweep (nothing to drop) runs this often. */
const EMPTY_SWEEP_EVERY_MS = 10_000;

/** What the chron asks a partition to do this round. */
export type CycleInstruction =
  /** We hold the lease: renew it and run a pass. */
  | 'keep'
  /** Try to take the lease; run a pass if we got it. */
  | 'acquire'
  /** Over our fair share: give the lease up. */
  | 'release'
  /** Not ours: only announce ourselves (the heartbeat tells us who else is alive). */
  | 'idle';

export interface PartitionPassReport {
  readonly partition: string;
  readonly instanceId: string;
  readonly fence: string;
  /** Wall-clock ms (Date.now) at the start and end of the pass. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** The injected clock's reading used for the pass (ms). */
  readonly now: number;
  readonly queues: number;
  readonly readyQueues: number;
  readonly malformed: number;
  readonly failedQueues: number;
  /** Malformed set members moved to the quarantine set in this pass. */
  readonly quarantined: number;
  readonly counts: JobCounts;
  readonly byType: ReadonlyMap<string, JobCounts>;
  /** False when the pass stopped early (shutdown or lost lease); the ready-hash sweep is skipped then. */
  readonly complete: boolean;
  readonly readyHashFailures: number;
}

export type CycleResult =
  | { readonly kind: 'processed'; readonly report: PartitionPassReport }
  | { readonly kind: 'not-held' }
  | { readonly kind: 'released' }
  | { readonly kind: 'lease-lost'; readonly report: PartitionPassReport | null }
  | { readonly kind: 'failed'; readonly error: string };

export interface WorkerContext {
  readonly instanceId: string;
  readonly logger: Logger;
  config(): JobrunnerConfig;
  /** Names of every configured partition. */
  partitions(): readonly string[];
  readyHash(): ReadyHashWriter | null;
  stopping(): boolean;
}

export class PartitionWorker {
  readonly name: string;
  readonly redis: Redis;
  private readonly log: Logger;
  private lease: HeldLease | null = null;
  private heldElsewhereUntil = 0;
  private heldBy: string | null = null;
  private live: { ids: string[]; at: number } | null = null;
  private running: Promise<CycleResult> | null = null;
  private everReady = false;
  private failure: {
    streak: number;
    since: number;
    retryAt: number;
    error: string;
    /** Whether the start of this failure was logged at error level (then its end is logged too). */
    logged: boolean;
  } | null = null;
  private readonly loggedMembers = new Set<string>();
  private passes = 0;
  private passSeq = 0;
  private lastHeartbeatAt = -Infinity;
  private lastRenewAt = -Infinity;
  /** The last ready-hash sweep: an empty partition skips the next ones for a while. */
  private lastSweep: { fence: string; at: number; queues: number; failures: number } | null = null;
  private lastPass: PartitionPassReport | null = null;
  /** When each queue next needs upkeep (UNIX s of the job clock), for paced rounds. */
  readonly due = new DueIndex(MAX_DUE_ENTRIES);
  readonly walk: PacedWalk;
  /** Key prefixes of queues that change notifications named since the last round. */
  private readonly changed = new Set<string>();
  private changedDropped = 0;
  private changeWatch: ChangeWatch | null = null;
  private quarantinedTotal = 0;

  constructor(
    readonly address: RedisServerAddress,
    private readonly ctx: WorkerContext,
  ) {
    this.name = address.raw;
    this.log = ctx.logger.child({ partition: address.raw });
    this.redis = connectRedis(address, ctx.config().redis, { logger: ctx.logger, role: 'queue partition' });
    registerChronScripts(this.redis);
    this.walk = new PacedWalk(this.redis);
    this.redis.on('ready', () => {
      this.everReady = true;
      // A restarted server may have lost our lease and heartbeat: check both on the next round.
      this.lastHeartbeatAt = -Infinity;
      this.lastRenewAt = -Infinity;
      // Retry right away once the server is back rather than waiting out the back-off.
      if (this.failure) this.failure.retryAt = 0;
    });
  }

  get busy(): boolean {
    return this.running !== null;
  }

  get holdsLease(): boolean {
    return this.lease !== null;
  }

  /**
   * True while another instance is known to hold the lease (no point in trying to take it), unless
   * that instance has since withdrawn its heartbeat (a clean shutdown releases its leases too).
   */
  heldElsewhere(wallNow: number): boolean {
    if (this.heldElsewhereUntil <= wallNow) return false;
    return this.heldBy === null || this.live === null || this.live.ids.includes(this.heldBy);
  }

  backingOff(wallNow: number): boolean {
    return this.failure !== null && this.failure.retryAt > wallNow;
  }

  /** Live instance IDs seen here within maxAgeMs. */
  liveInstances(wallNow: number, maxAgeMs: number): readonly string[] {
    return this.live && wallNow - this.live.at <= maxAgeMs ? this.live.ids : [];
  }

  /**
   * Gaining or losing the lease: a new holder starts its own walk and its own index (the previous
   * holder's knowledge is gone with it) and watches changes only while it holds the lease.
   */
  private setLease(lease: HeldLease | null): void {
    const had = this.lease !== null;
    this.lease = lease;
    if (lease !== null && !had) {
      this.due.clear();
      this.changed.clear();
      this.walk.reset();
      if (this.ctx.config().chron.watchChanges) {
        this.changeWatch ??= new ChangeWatch(this.redis, (prefix) => this.noteChange(prefix), this.log);
        this.changeWatch.start();
      }
    } else if (lease === null && had) {
      this.changeWatch?.stop();
      this.due.clear();
      this.changed.clear();
    }
  }

  /** A config reload: limits may have changed the due times, and watching may be turned on or off. */
  configChanged(dueTimesChanged: boolean): void {
    if (dueTimesChanged) {
      this.due.clear();
      this.walk.reset();
    }
    if (!this.lease) return;
    if (this.ctx.config().chron.watchChanges) {
      this.changeWatch ??= new ChangeWatch(this.redis, (prefix) => this.noteChange(prefix), this.log);
      this.changeWatch.start();
    } else {
      this.changeWatch?.stop();
    }
  }

  private noteChange(prefix: string): void {
    if (!this.lease) return;
    if (this.changed.size >= MAX_CHANGED && !this.changed.has(prefix)) {
      this.changedDropped += 1;
      return;
    }
    this.changed.add(prefix);
  }

  /** Up to `max` changed queues, removed from the set. */
  takeChanged(max: number): string[] {
    const out: string[] = [];
    for (const prefix of this.changed) {
      if (out.length >= max) break;
      out.push(prefix);
      this.changed.delete(prefix);
    }
    return out;
  }

  /** Runs one round on this partition; never rejects. Only one round runs at a time. */
  cycle(instruction: CycleInstruction, now: number, mode: PassMode = 'full'): Promise<CycleResult> {
    if (this.running) return this.running;
    const run = this.runCycle(instruction, now, mode).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  /** Resolves when the round in hand (if any) has finished. */
  async settled(): Promise<void> {
    if (this.running) await this.running;
  }

  /** Between passes: keep the lease and our heartbeat alive (intervalMs may exceed the lease TTL). */
  async keepAlive(): Promise<void> {
    if (this.running || this.redis.status !== 'ready') return;
    const { leaseTtlMs } = this.ctx.config().chron;
    const lease = this.lease;
    try {
      await this.beat(leaseTtlMs);
      if (lease && !(await this.renew(lease, leaseTtlMs)) && this.lease === lease) {
        this.setLease(null);
        this.log.warn('Partition lease lost between passes', { fence: lease.fence });
      }
    } catch (error) {
      this.log.debug('Lease keep-alive failed', { error: errorMessage(error) });
    }
  }

  /**
   * Finishes the round in hand, gives the lease up, withdraws the heartbeat and disconnects, all by
   * `deadline` (wall-clock ms): a partition that hangs must not keep the daemon from exiting.
   */
  async shutdown(deadline: number): Promise<void> {
    const left = (reserveMs: number) => Math.max(100, deadline - reserveMs - Date.now());
    await withTimeout(this.settled(), left(1000));
    const lease = this.lease;
    this.setLease(null);
    await this.changeWatch?.close();
    if (this.redis.status === 'ready') {
      await withTimeout(
        Promise.all([
          lease ? releaseLease(this.redis, lease) : Promise.resolve(false),
          heartbeat(this.redis, this.ctx.instanceId, this.ctx.config().chron.leaseTtlMs, false),
        ]).then(([released]) => {
          if (lease) this.log.info('Partition lease released', { fence: lease.fence, released });
        }),
        left(400),
      ).catch((error: unknown) =>
        this.log.warn('Could not release the partition lease', { error: errorMessage(error) }),
      );
    }
    await withTimeout(this.redis.quit(), 300).catch(() => undefined);
    this.redis.disconnect();
  }

  stats(wallNow: number): PartitionStats {
    return {
      name: this.name,
      leaseHeld: this.lease !== null,
      fence: this.lease?.fence ?? null,
      heldBy: this.lease ? null : this.heldElsewhere(wallNow) ? this.heldBy : null,
      lastError: this.failure?.error ?? null,
      failingSince: this.failure?.since ?? null,
      lastPassAt: this.lastPass?.endedAt ?? null,
      lastPassMs: this.lastPass ? this.lastPass.endedAt - this.lastPass.startedAt : null,
      lastPassQueues: this.lastPass?.queues ?? 0,
      passes: this.passes,
      malformedMembers: this.lastPass?.malformed ?? 0,
      failedQueues: this.lastPass?.failedQueues ?? 0,
      quarantined: this.quarantinedTotal,
      dueQueues: this.due.size,
      watchingChanges: this.changeWatch?.watching ?? false,
      changeGaps: (this.changeWatch?.gaps ?? 0) + this.changedDropped,
      walk: { cycle: this.walk.cycle, visited: this.walk.visitedInCycle, lastWalkMs: this.walk.lastCycleMs },
    };
  }

  private async runCycle(instruction: CycleInstruction, now: number, mode: PassMode): Promise<CycleResult> {
    const settings = this.ctx.config().chron;
    try {
      await this.ensureReachable();
      await this.beat(settings.leaseTtlMs);
      let result: CycleResult;
      if (this.lease && instruction === 'release') {
        const lease = this.lease;
        this.setLease(null);
        await releaseLease(this.redis, lease);
        this.log.info('Partition lease handed back (over the fair share)', { fence: lease.fence });
        result = { kind: 'released' };
      } else if (this.lease) {
        if (await this.renew(this.lease, settings.leaseTtlMs)) {
          result = await this.passWithLease(now, mode);
        } else {
          this.log.warn('Partition lease lost (expired, or taken over by another jobchron)', {
            fence: this.lease.fence,
          });
          this.setLease(null);
          result = { kind: 'lease-lost', report: null };
        }
      } else if (instruction === 'acquire' || instruction === 'keep') {
        const attempt = await acquireLease(this.redis, this.ctx.instanceId, settings.leaseTtlMs);
        if (attempt.acquired) {
          this.setLease(attempt.lease);
          this.lastRenewAt = Date.now();
          this.heldBy = null;
          this.log.info('Partition lease acquired', { fence: attempt.lease.fence });
          result = await this.passWithLease(now, mode);
        } else {
          this.heldBy = attempt.holder;
          this.heldElsewhereUntil = Date.now() + Math.max(0, attempt.remainingMs);
          result = { kind: 'not-held' };
        }
      } else {
        result = { kind: 'not-held' };
      }
      this.recovered();
      return result;
    } catch (error) {
      return this.failed(error);
    }
  }

  private async passWithLease(now: number, mode: PassMode): Promise<CycleResult> {
    const lease = this.lease;
    if (!lease) return { kind: 'lease-lost', report: null };
    const pass = new PartitionPass(this, lease, now, mode);
    try {
      const report = await pass.run();
      this.passes += 1;
      this.lastPass = report;
      return { kind: 'processed', report };
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      if (this.lease === lease) this.setLease(null);
      this.log.warn('Partition lease lost during a pass; stopped this partition', { fence: lease.fence });
      return { kind: 'lease-lost', report: pass.partialReport() };
    }
  }

  private async ensureReachable(): Promise<void> {
    if (this.redis.status === 'ready') return;
    // At start-up give the first connection its connect timeout; after that, fail fast and let the
    // connection's own back-off and our per-partition back-off pace the retries.
    if (!this.everReady && ['wait', 'connecting', 'connect'].includes(this.redis.status)) {
      await waitReady(this.redis, this.ctx.config().redis.connectTimeoutMs);
    }
    const status: string = this.redis.status;
    if (status !== 'ready') throw new PartitionUnreachableError(this.name, status);
  }

  private noteLive(ids: string[]): void {
    this.live = { ids, at: Date.now() };
  }

  private keepAliveDue(last: number, leaseTtlMs: number): boolean {
    return Date.now() - last >= leaseTtlMs / KEEPALIVES_PER_TTL;
  }

  /** Our heartbeat (and the list of live instances), when due. */
  private async beat(leaseTtlMs: number): Promise<void> {
    if (!this.keepAliveDue(this.lastHeartbeatAt, leaseTtlMs)) return;
    this.noteLive(await heartbeat(this.redis, this.ctx.instanceId, leaseTtlMs));
    this.lastHeartbeatAt = Date.now();
  }

  /** Renews the lease when due; false when it turned out lost. */
  private async renew(lease: HeldLease, leaseTtlMs: number): Promise<boolean> {
    if (!this.keepAliveDue(this.lastRenewAt, leaseTtlMs)) return true;
    const kept = await renewLease(this.redis, lease, leaseTtlMs);
    if (kept) this.lastRenewAt = Date.now();
    return kept;
  }

  /**
   * Whether a complete pass that listed `queues` queues needs the ready-hash sweep. It can be
   * skipped only while the partition stays empty under the same lease and the previous sweep
   * succeeded: then our contribution is already empty and only shared fields a minute stale wait.
   */
  sweepNeeded(fence: string, queues: number, now: number): boolean {
    const last = this.lastSweep;
    if (!last || last.fence !== fence || last.failures > 0 || last.queues > 0 || queues > 0) return true;
    return now - last.at >= EMPTY_SWEEP_EVERY_MS;
  }

  /** `now` is the pass's clock reading (the one the sweep's stale cutoff uses). */
  noteSweep(fence: string, queues: number, failures: number, now: number): void {
    this.lastSweep = { fence, at: now, queues, failures };
  }

  private failed(error: unknown): CycleResult {
    const message = errorMessage(error);
    const wallNow = Date.now();
    const streak = (this.failure?.streak ?? 0) + 1;
    const backoff = Math.min(this.ctx.config().chron.intervalMs * 2 ** (streak - 1), MAX_BACKOFF_MS);
    let logged = this.failure?.logged ?? false;
    if (!this.failure) {
      // One line per outage, not per pass. A lost connection is already reported (once) by the
      // connection itself, naming the server; anything else (Redis up but failing) is reported here.
      const connectionLost = error instanceof PartitionUnreachableError || this.redis.status !== 'ready';
      if (connectionLost) {
        this.log.debug('Partition unreachable; retrying with back-off', { error: message });
      } else {
        this.log.error('Partition unavailable; retrying with back-off', { error: message });
        logged = true;
      }
    }
    this.failure = {
      streak,
      since: this.failure?.since ?? wallNow,
      retryAt: wallNow + backoff,
      error: message,
      logged,
    };
    this.live = null;
    return { kind: 'failed', error: message };
  }

  private recovered(): void {
    if (!this.failure) return;
    const fields = { failedForMs: Date.now() - this.failure.since };
    if (this.failure.logged) this.log.info('Partition available again', fields);
    else this.log.debug('Partition available again', fields);
    this.failure = null;
  }

  /**
   * Moves set members that are not a JSON [type, domain] pair to the quarantine set (never
   * deletes them), logging each once. Returns how many were moved.
   */
  async quarantine(members: readonly string[]): Promise<number> {
    const pipeline = this.redis.pipeline();
    for (const member of members) {
      pipeline.smove(QUEUES_WITH_JOBS_KEY, QUARANTINE_KEY, member);
      pipeline.smove(QUEUES_WITH_ABANDONED_KEY, QUARANTINE_KEY, member);
    }
    const replies = (await pipeline.exec()) ?? [];
    let moved = 0;
    members.forEach((member, i) => {
      const fromJobs = replies[2 * i]?.[1] === 1;
      const fromAbandoned = replies[2 * i + 1]?.[1] === 1;
      if (!fromJobs && !fromAbandoned) return;
      moved += 1;
      this.noteMemberOnce('malformed', member);
    });
    this.quarantinedTotal += moved;
    return moved;
  }

  /** Logs a bad set member or failing queue once per partition (bounded memory). */
  noteMemberOnce(kind: 'malformed' | 'failed', member: string, message?: string): void {
    if (this.loggedMembers.has(member)) return;
    if (this.loggedMembers.size >= MAX_LOGGED_MEMBERS) return;
    this.loggedMembers.add(member);
    if (kind === 'malformed') {
      this.log.warn(
        'Malformed member of s-queuesWithJobs moved to the quarantine set (not a JSON [type, domain] pair)',
        {
          member,
          quarantine: QUARANTINE_KEY,
        },
      );
    } else {
      this.log.error('Upkeep step failed for a queue; left as it is', { member, error: message });
    }
    if (this.loggedMembers.size === MAX_LOGGED_MEMBERS) {
      this.log.warn('Too many bad queues on this partition; no longer logging each one');
    }
  }

  /** Sequence number for pass IDs (unique per worker; the fence makes it unique per partition). */
  nextPassId(): number {
    return ++this.passSeq;
  }

  get context(): WorkerContext {
    return this.ctx;
  }
}
