// A discrete-time model of a farm for the scheduler's property tests: queues of jobs with drawn run
// times, one or more runner hosts (each a real Scheduler with its own slots, polling the same
// queues), and children that behave like runJobs.php: a start-up, then jobs one after another
// until the queue is empty or the elapsed time passed --maxtime (checked after each job).
// Everything the invariants need is recorded as it happens, and every cap violation is noted.
import type { GroupConfig } from '../../src/config/types.js';
import { typeAllowed } from '../../src/runner/group-filter.js';
import { queueKey } from '../../src/runner/queue-id.js';
import {
  READY_PER_EXTRA_CHILD,
  Scheduler,
  type QueuePick,
  type SchedulerSettings,
} from '../../src/runner/scheduler.js';

/**
 * A wiki counts as backlogged (owed its full share) while it has at least this many ready jobs:
 * a wiki with a job or two ready asks for less than a share, and max-min fairness gives the rest
 * to the others.
 */
export const BACKLOG_MIN_READY = READY_PER_EXTRA_CHILD;

export interface SimOptions {
  readonly hosts: number;
  readonly groups: readonly GroupConfig[];
  readonly settings: SchedulerSettings;
  /** Time a child needs before its first job runs (PHP start-up). */
  readonly startupMs: number;
  /** Discovery poll period of each host (hosts poll out of phase). */
  readonly pollMs: number;
  readonly tickMs: number;
  readonly random: () => number;
  /** Express dispatches take the queue's dispatch lease first (JobRunner with a Redis backend). */
  readonly leases?: boolean;
  /** Lease time to live (ms). */
  readonly leaseMs?: number;
}

interface SimJob {
  readonly pushedAt: number;
  readonly runMs: number;
  /** First job of a push to a quiet queue with an express slot free and nothing else quiet waiting. */
  readonly expressCase: boolean;
  readonly quiet: boolean;
  /** The push's first job (the others wait for it to run). */
  readonly first: boolean;
}

interface SimQueue {
  readonly wiki: string;
  readonly type: string;
  readonly key: string;
  readonly jobs: SimJob[];
  running: number;
  /** Ready with no child on it anywhere, since. */
  waitingSince: number | null;
  /** During this wait, some host had more dispatches overrunning in a group than burst slots. */
  overrunBeyondBurst: boolean;
}

interface Child {
  readonly host: number;
  readonly group: string;
  readonly slot: number;
  readonly express: boolean;
  readonly pick: QueuePick;
  readonly queue: SimQueue;
  readonly startedAt: number;
  readonly entry: DispatchLog;
  /** When the current step (start-up or job) ends. */
  nextAt: number;
  loopStart: number;
  jobsRun: number;
}

interface Host {
  readonly scheduler: Scheduler;
  /** group → slot index → busy child. */
  readonly slots: Map<string, (Child | null)[]>;
  readonly pollPhase: number;
  needsFill: boolean;
  /** Ready jobs per queue in this host's latest poll (what its scheduler decided on). */
  seenReady: Map<string, number>;
}

/** One dispatch of the model. */
export interface DispatchLog {
  readonly at: number;
  readonly host: number;
  readonly wiki: string;
  readonly type: string;
  readonly maxTime: number;
  readonly express: boolean;
  /** Started in an express slot (as quiet work or lent). */
  readonly expressSlot: boolean;
  /** Started in a burst slot. */
  readonly burst: boolean;
  /** Ran no job (another host's child had emptied the queue); set when it ends. */
  empty: boolean;
}

export interface JobStart {
  readonly wiki: string;
  readonly type: string;
  readonly waitMs: number;
  readonly quiet: boolean;
  readonly expressCase: boolean;
  /** The first job of its push. */
  readonly first: boolean;
  readonly at: number;
}

export class FarmSim {
  readonly queues = new Map<string, SimQueue>();
  readonly hosts: Host[] = [];
  now = 0;
  /** wiki → slot-ms per second of simulated time. */
  readonly slotMs = new Map<string, number[]>();
  /** wiki → ticks per second during which it had at least BACKLOG_MIN_READY ready jobs. */
  readonly backloggedTicks = new Map<string, number[]>();
  readonly queueWaits: {
    key: string;
    ms: number;
    at: number;
    competingWikis: number;
    /** Some group had more dispatches overrunning at once than burst slots during the wait. */
    overrunBeyondBurst: boolean;
  }[] = [];
  /** Most dispatches of one group on one host overrunning (overrunSeconds past maxtime) at once. */
  maxOverrunning = 0;
  readonly jobStarts: JobStart[] = [];
  readonly violations: string[] = [];
  readonly dispatches = new Map<string, number>();
  /** Every dispatch, for diagnosis of a failing seed. */
  readonly log: DispatchLog[] = [];
  /** Most wikis / queues with ready work at any time. */
  maxReadyWikis = 0;
  maxQueuesPerWiki = 0;
  /** Most children at once on one host (all groups). */
  maxChildren = 0;
  /** Times (ms, one per tick) at which some host had every slot of a group busy, quiet burst ones included. */
  readonly fullTicks: number[] = [];
  /** Express dispatches that lost the queue's lease to another host (no child started). */
  leasesLost = 0;
  private readonly leases = new Map<string, { holder: number; until: number }>();

  constructor(private readonly options: SimOptions) {
    for (let h = 0; h < options.hosts; h++) {
      const scheduler = new Scheduler(options.groups, options.settings, 0, { random: options.random });
      // Like SlotPool: the group's runners, then its burst slots.
      const slots = new Map(
        options.groups.map((g) => [
          g.name,
          Array<Child | null>(g.runners + scheduler.burstSlotCount(g.name)).fill(null),
        ]),
      );
      this.hosts.push({
        scheduler,
        slots,
        pollPhase: Math.floor((h * options.pollMs) / options.hosts / options.tickMs) * options.tickMs,
        needsFill: false,
        seenReady: new Map(),
      });
    }
  }

  /** Pushes jobs with the given run times (ms) to (wiki, type). */
  push(wiki: string, type: string, runMs: readonly number[]): void {
    const key = queueKey(wiki, type);
    let queue = this.queues.get(key);
    if (!queue)
      this.queues.set(
        key,
        (queue = { wiki, type, key, jobs: [], running: 0, waitingSince: null, overrunBeyondBurst: false }),
      );
    const quiet = this.wikiIdle(wiki) && runMs.length <= this.options.settings.scheduling.expressMaxReady;
    const expressCase = quiet && this.expressSlotFree(key, wiki) && !this.anyQuietWaiting();
    // Only the first job of the push is owed a start within a start-up; the rest follow it.
    runMs.forEach((ms, i) =>
      queue.jobs.push({
        pushedAt: this.now,
        runMs: ms,
        quiet,
        expressCase: expressCase && i === 0,
        first: i === 0,
      }),
    );
    if (queue.running === 0 && queue.waitingSince === null && queue.jobs.length > 0)
      queue.waitingSince = this.now;
  }

  /** Children on the wiki's queues, all hosts. */
  running(wiki: string): number {
    let n = 0;
    for (const q of this.queues.values()) if (q.wiki === wiki) n += q.running;
    return n;
  }

  ready(wiki: string): number {
    let n = 0;
    for (const q of this.queues.values()) if (q.wiki === wiki) n += q.jobs.length;
    return n;
  }

  /** Runs the model until `untilMs`, calling `workload` at every tick before anything else. */
  run(untilMs: number, workload: (sim: FarmSim, now: number) => void): void {
    const { tickMs, pollMs } = this.options;
    for (; this.now < untilMs; this.now += tickMs) {
      workload(this, this.now);
      this.advanceChildren();
      for (const host of this.hosts) {
        if ((this.now + host.pollPhase) % pollMs === 0) this.poll(host);
        else if (host.needsFill) this.fill(host);
      }
      this.account();
    }
  }

  private wikiIdle(wiki: string): boolean {
    for (const q of this.queues.values())
      if (q.wiki === wiki && (q.jobs.length > 0 || q.running > 0)) return false;
    return true;
  }

  private anyQuietWaiting(): boolean {
    const max = this.options.settings.scheduling.expressMaxReady;
    const busyWikis = new Set([...this.queues.values()].filter((q) => q.running > 0).map((q) => q.wiki));
    for (const q of this.queues.values()) {
      if (q.jobs.length > 0 && q.jobs.length <= max && !busyWikis.has(q.wiki)) return true;
    }
    return false;
  }

  /** Some host has an express slot free and does not hold the queue back (a host that lost races
   * for it to other hosts' children backs it off for a while). */
  private expressSlotFree(key: string, wiki: string): boolean {
    return this.hosts.some(
      (host) =>
        !host.scheduler.backoffs.isFirmlyHeld(key, wiki, this.now) &&
        [...host.slots].some(([group, slots]) =>
          slots.some((child, index) => child === null && host.scheduler.isExpressSlot(group, index)),
        ),
    );
  }

  private poll(host: Host): void {
    const queues = [...this.queues.values()]
      .filter((q) => q.jobs.length > 0)
      .map((q) => ({ wiki: q.wiki, domain: q.wiki, type: q.type, partition: 'p1', ready: q.jobs.length }));
    host.scheduler.observe({ queues, errors: [] }, this.now, this.now);
    host.seenReady = new Map(queues.map((q) => [queueKey(q.wiki, q.type), q.ready]));
    if (queues.length > 0) host.scheduler.tick(this.now);
    this.fill(host);
  }

  /** Like JobRunner.fill(): every free slot in index order; express slots are the last ones. */
  private fill(host: Host): void {
    host.needsFill = false;
    for (const group of this.options.groups) {
      const slots = host.slots.get(group.name) ?? [];
      let free = slots.filter((c, i) => c === null && i < group.runners).length;
      let blocked = false;
      for (let index = 0; index < group.runners; index++) {
        if (slots[index] !== null) continue;
        const express = host.scheduler.isExpressSlot(group.name, index);
        const pick = host.scheduler.pick(group.name, this.now, { express, freeSlots: free });
        if (!pick) {
          blocked = true;
          break;
        }
        free--;
        this.start(host, group, index, express, pick);
      }
      if (!blocked) this.fillBurst(host, group, slots);
    }
  }

  /** Like JobRunner.fillBurst(). */
  private fillBurst(host: Host, group: GroupConfig, slots: (Child | null)[]): void {
    const running = slots
      .filter((c): c is Child => c !== null)
      .map((c) => ({
        key: c.pick.key,
        startedAt: c.startedAt,
        maxTime: c.pick.maxTime,
        quietBurst: c.pick.express && c.slot >= group.runners,
      }));
    let room = host.scheduler.burstRoom(group.name, running, this.now);
    let quietRoom = host.scheduler.quietRoom(group.name, running);
    const stuck = host.scheduler.stuckQueues(running, this.now);
    for (let index = group.runners; index < slots.length && (room > 0 || quietRoom > 0); index++) {
      if (slots[index] !== null) continue;
      const quietOnly = room <= 0;
      const pick = host.scheduler.pick(group.name, this.now, {
        express: false,
        burst: true,
        quietOnly,
        freeSlots: quietOnly ? quietRoom : room,
        stuck,
      });
      if (!pick) break;
      room--;
      quietRoom--;
      this.start(host, group, index, false, pick, true);
    }
  }

  private start(
    host: Host,
    group: GroupConfig,
    slot: number,
    express: boolean,
    pick: QueuePick,
    burst = false,
  ): boolean {
    const queue = this.queues.get(pick.key);
    if (!queue) throw new Error(`picked unknown queue ${pick.key}`);
    if (pick.express && this.options.leases && !this.takeLease(host, pick.key)) {
      // As JobRunner.leased(): ends at once as `none-ready` with no job, no child started.
      host.scheduler.started(pick, this.now);
      host.scheduler.finished(
        pick,
        { outcome: 'ok', reached: 'none-ready', backoffs: {}, jobsRun: 0 },
        this.now,
      );
      this.leasesLost++;
      return false;
    }
    this.checkCaps(host, group, pick, queue, burst);
    host.scheduler.started(pick, this.now);
    const entry: DispatchLog = {
      at: this.now,
      host: this.hosts.indexOf(host),
      wiki: pick.wiki,
      type: pick.type,
      maxTime: pick.maxTime,
      express: pick.express,
      expressSlot: express,
      burst,
      empty: false,
    };
    const child: Child = {
      entry,
      host: this.hosts.indexOf(host),
      group: group.name,
      slot,
      express,
      pick,
      queue,
      startedAt: this.now,
      nextAt: this.now + this.options.startupMs,
      loopStart: this.now + this.options.startupMs,
      jobsRun: 0,
    };
    (host.slots.get(group.name) as (Child | null)[])[slot] = child;
    if (queue.running === 0 && queue.waitingSince !== null) {
      this.queueWaits.push({
        key: queue.key,
        ms: this.now - queue.waitingSince,
        at: this.now,
        competingWikis: this.readyWikiCount(),
        overrunBeyondBurst: queue.overrunBeyondBurst,
      });
    }
    queue.waitingSince = null;
    queue.overrunBeyondBurst = false;
    queue.running++;
    this.dispatches.set(queue.wiki, (this.dispatches.get(queue.wiki) ?? 0) + 1);
    this.log.push(entry);
    const children = [...host.slots.values()].flat().filter((c) => c !== null).length;
    if (children > this.maxChildren) this.maxChildren = children;
    return true;
  }

  private takeLease(host: Host, key: string): boolean {
    const me = this.hosts.indexOf(host);
    const lease = this.leases.get(key);
    if (lease && lease.holder !== me && lease.until > this.now) return false;
    this.leases.set(key, { holder: me, until: this.now + (this.options.leaseMs ?? 2000) });
    return true;
  }

  private checkCaps(host: Host, group: GroupConfig, pick: QueuePick, queue: SimQueue, burst: boolean): void {
    const s = this.options.settings;
    const here = [...host.slots.values()].flat().filter((c): c is Child => c !== null);
    const onQueue = here.filter((c) => c.pick.key === pick.key).length;
    const onWiki = here.filter((c) => c.pick.wiki === pick.wiki).length;
    const at = `t=${this.now} host ${host.pollPhase} ${pick.key}`;
    if (onQueue + 1 > s.maxPerQueue) this.violations.push(`${at}: maxPerQueue exceeded`);
    if (s.maxPerWiki > 0 && onWiki + 1 > s.maxPerWiki) this.violations.push(`${at}: maxPerWiki exceeded`);
    // Judged on the listing the host decided on: other hosts' children may have popped since.
    const seen = host.seenReady.get(pick.key) ?? 0;
    // A burst slot may add a child beside children that are all stuck in a long job (overrun).
    const overrunMs = s.scheduling.overrunSeconds * 1000;
    const allStuck = here
      .filter((c) => c.pick.key === pick.key)
      .every((c) => this.now - c.startedAt > c.pick.maxTime * 1000 + overrunMs);
    if (onQueue > 0 && seen <= READY_PER_EXTRA_CHILD * onQueue && !(burst && allStuck))
      this.violations.push(`${at}: extra child on a short queue (${seen} ready when listed)`);
    if (burst && onQueue > 0 && !allStuck)
      this.violations.push(`${at}: burst dispatch beside a child here that is not stuck`);
    const groupChildren = (host.slots.get(group.name) ?? []).filter((c): c is Child => c !== null);
    const most = group.runners + host.scheduler.burstSlotCount(group.name);
    if (groupChildren.length + 1 > most)
      this.violations.push(`${at}: more than runners + burstSlots + quietBurstSlots children`);
    // Only quiet queues' dispatches (express) may go beyond runners + burstSlots.
    const others = groupChildren.filter((c) => !c.pick.express).length + (pick.express ? 0 : 1);
    if (others > group.runners + s.scheduling.burstSlots)
      this.violations.push(`${at}: more than runners + burstSlots children that are not quiet dispatches`);
    if (!typeAllowed(group, pick.mode, pick.type))
      this.violations.push(`${at}: type not allowed in group ${group.name} mode ${pick.mode}`);
  }

  private advanceChildren(): void {
    for (const host of this.hosts) {
      for (const slots of host.slots.values()) {
        for (let i = 0; i < slots.length; i++) {
          const child = slots[i];
          if (!child || child.nextAt > this.now) continue;
          const reached = this.step(child);
          if (reached === null) continue;
          slots[i] = null;
          if (child.jobsRun === 0) child.entry.empty = true;
          child.queue.running--;
          if (child.queue.running === 0 && child.queue.jobs.length > 0) child.queue.waitingSince = this.now;
          host.scheduler.finished(
            child.pick,
            { outcome: 'ok', reached, backoffs: {}, jobsRun: child.jobsRun },
            this.now,
          );
          host.needsFill = true;
        }
      }
    }
  }

  /** Moves a child on: null while it keeps running, else the `reached` it ends with. */
  private step(child: Child): string | null {
    // --maxtime is checked after each job, as JobRunner::run does.
    if (child.jobsRun > 0 && this.now - child.loopStart > child.pick.maxTime * 1000) return 'time-limit';
    const job = child.queue.jobs.shift();
    if (!job) return 'none-ready';
    child.jobsRun++;
    this.jobStarts.push({
      wiki: child.queue.wiki,
      type: child.queue.type,
      waitMs: this.now - job.pushedAt,
      quiet: job.quiet,
      expressCase: job.expressCase,
      first: job.first,
      at: this.now,
    });
    child.nextAt = this.now + Math.max(this.options.tickMs, job.runMs);
    return null;
  }

  private readyWikiCount(): number {
    return new Set([...this.queues.values()].filter((q) => q.jobs.length > 0).map((q) => q.wiki)).size;
  }

  private account(): void {
    const second = Math.floor(this.now / 1000);
    const overrunMs = this.options.settings.scheduling.overrunSeconds * 1000;
    let beyondBurst = false;
    let full = false;
    for (const host of this.hosts) {
      for (const [group, slots] of host.slots) {
        if (slots.every((c) => c !== null)) full = true;
        let overrunning = 0;
        for (const c of slots)
          if (c && this.now - c.startedAt > c.pick.maxTime * 1000 + overrunMs) overrunning++;
        if (overrunning > this.maxOverrunning) this.maxOverrunning = overrunning;
        if (overrunning > host.scheduler.burstSlotCount(group)) beyondBurst = true;
      }
    }
    if (beyondBurst)
      for (const q of this.queues.values()) if (q.waitingSince !== null) q.overrunBeyondBurst = true;
    if (full) this.fullTicks.push(this.now);
    for (const host of this.hosts) {
      for (const slots of host.slots.values()) {
        for (const child of slots)
          if (child) bump(this.slotMs, child.queue.wiki, second, this.options.tickMs);
      }
    }
    const perWiki = new Map<string, number>();
    const readyPerWiki = new Map<string, number>();
    for (const q of this.queues.values()) {
      if (q.jobs.length === 0) continue;
      perWiki.set(q.wiki, (perWiki.get(q.wiki) ?? 0) + 1);
      readyPerWiki.set(q.wiki, (readyPerWiki.get(q.wiki) ?? 0) + q.jobs.length);
    }
    for (const [wiki, n] of perWiki) {
      if ((readyPerWiki.get(wiki) ?? 0) >= BACKLOG_MIN_READY) bump(this.backloggedTicks, wiki, second, 1);
      if (n > this.maxQueuesPerWiki) this.maxQueuesPerWiki = n;
    }
    if (perWiki.size > this.maxReadyWikis) this.maxReadyWikis = perWiki.size;
  }
}

/** Whether some host had every slot of a group busy at some tick in [from, to] (ms). */
export function fullDuring(sim: FarmSim, from: number, to: number): boolean {
  const ticks = sim.fullTicks;
  let lo = 0;
  let hi = ticks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ticks[mid] as number) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < ticks.length && (ticks[lo] as number) <= to;
}

function bump(map: Map<string, number[]>, wiki: string, second: number, by: number): void {
  let row = map.get(wiki);
  if (!row) map.set(wiki, (row = []));
  row[second] = (row[second] ?? 0) + by;
}

/** Slot-time of each wiki that had ready work throughout [from, to) s, and their fair shares. */
export function windowShares(
  sim: FarmSim,
  fromSecond: number,
  toSecond: number,
  ticksPerSecond: number,
  weightOf: (wiki: string) => number,
): { wiki: string; used: number; share: number; fair: number }[] {
  const backlogged: string[] = [];
  for (const [wiki, ticks] of sim.backloggedTicks) {
    let all = true;
    for (let s = fromSecond; s < toSecond && all; s++) all = (ticks[s] ?? 0) >= ticksPerSecond;
    if (all) backlogged.push(wiki);
  }
  const used = new Map<string, number>();
  for (const wiki of backlogged) {
    const row = sim.slotMs.get(wiki) ?? [];
    let sum = 0;
    for (let s = fromSecond; s < toSecond; s++) sum += row[s] ?? 0;
    used.set(wiki, sum);
  }
  const totalUsed = [...used.values()].reduce((a, b) => a + b, 0);
  const totalWeight = backlogged.reduce((a, w) => a + weightOf(w), 0);
  return backlogged.map((wiki) => ({
    wiki,
    used: used.get(wiki) ?? 0,
    share: totalUsed === 0 ? 0 : (used.get(wiki) ?? 0) / totalUsed,
    fair: weightOf(wiki) / totalWeight,
  }));
}
