// Decides which queue each free slot runs. Pure state plus explicit `now` arguments, so it can be
// tested with a fake clock and fake listings; JobRunner owns the slots and the child processes.
//
// Per pick: the group's priority mode decides which types are allowed, back-offs and concurrency
// caps remove queues that must wait, and the scheduling policy chooses among the rest and sets the
// dispatch's maxtime: FairShare (policy "fair", slot-time by weight, adaptive slices, express
// slots) or FairPicker (policy "legacy"). Each finished dispatch feeds back through reactTo() into
// back-offs.
import type { QueueListing, ReadyQueue } from '../backend/types.js';
import type { GroupConfig, RunnerSettings } from '../config/types.js';
import { BackoffBook, type BackoffEntry } from './backoff.js';
import { CandidateIndex } from './candidate-index.js';
import { FailureDamper, type DamperState } from './failure-damper.js';
import { FairPicker } from './fair-picker.js';
import { FairShare, type PickContext, type ShareCandidate } from './fair-share.js';
import { typeAllowed } from './group-filter.js';
import { reactTo, type OutcomeInput, type Reaction } from './outcome.js';
import { PriorityState, type PriorityChangeReason, type PriorityMode } from './priority.js';
import { queueKey } from './queue-id.js';
import { ReadyView, type PartitionState, type ViewQueue } from './ready-view.js';

/**
 * A second child joins a queue only while it has more than this many ready jobs per running child:
 * one job in one queue never fans out into several processes (B3).
 */
export const READY_PER_EXTRA_CHILD = 20;
/** How long a failing partition's last good listing is still used (ms). */
export const STALE_PARTITION_TTL_MS = 5000;
/** Consecutive `none-ready` runs that popped nothing before the listing is no longer trusted. */
const EMPTY_RUNS_BEFORE_FIRM_BACKOFF = 2;
const MAX_REMEMBERED_MISMATCHES = 10_000;
/**
 * State kept for queues and wikis no longer known (ends, streaks, fairness clocks, expired holds)
 * is dropped this often (ms), not at every poll: it bounds memory, and a walk of it per poll cost
 * as much as the rest of the poll with thousands of queues.
 */
const HOUSEKEEPING_MS = 5000;
/** Parked suspects are all looked at again this often (ms), whatever released them or not. */
const SUSPECT_SWEEP_MS = 30_000;
/** Most suspects one pick looks at (each passed over goes to the back of the line). */
const SUSPECTS_PER_PICK = 64;

export type SchedulerSettings = Pick<
  RunnerSettings,
  | 'highPriorityMaxSeconds'
  | 'lowPriorityMaxSeconds'
  | 'highPriorityMaxTime'
  | 'lowPriorityMaxTime'
  | 'maxPerQueue'
  | 'maxPerWiki'
  | 'noneReadyBackoffSeconds'
  | 'nonePossibleBackoffSeconds'
  | 'wikiBackoffSeconds'
  | 'failureBackoffSeconds'
  | 'maxFailureBackoffSeconds'
  | 'wikiFailureQueues'
  | 'maxFailingDispatchesPerSecond'
  | 'scheduling'
>;

export interface SchedulerOptions {
  /** Picks each new group's starting mode like the original (random, keeps hosts out of phase). */
  readonly random?: () => number;
  readonly readyPerExtraChild?: number;
  readonly staleTtlMs?: number;
  /** Operator-paused queues (src/runner/paused.ts): never candidates while paused. */
  readonly isPaused?: (wiki: string, type: string) => boolean;
  readonly onPriorityChange?: (
    group: string,
    from: PriorityMode,
    to: PriorityMode,
    why: PriorityChangeReason,
  ) => void;
}

export interface QueuePick {
  readonly group: string;
  readonly key: string;
  readonly wiki: string;
  readonly domain: string;
  readonly type: string;
  /** Partitions the queue was listed on (where its next job is). */
  readonly partitions: readonly string[];
  readonly mode: PriorityMode;
  /** runJobs --maxtime: the mode's (legacy), or the slice the fair policy chose. */
  readonly maxTime: number;
  /** Run by an express slot as a quiet queue (policy fair). */
  readonly express: boolean;
}

/** What burstRoom needs of a running dispatch. */
export interface RunningDispatch {
  readonly key: string;
  readonly startedAt: number;
  /** Its --maxtime (s). */
  readonly maxTime: number;
  /** A quiet queue's dispatch in a burst slot: it takes no burst room from other work. */
  readonly quietBurst?: boolean;
}

export interface FinishReport {
  readonly reaction: Reaction;
  /** Failure back-off applied to the queue (ms), when the dispatch failed. */
  readonly failureBackoffMs: number | null;
  /** True the first time this queue reports `none-possible` (log it once as a config mismatch). */
  readonly firstConfigMismatch: boolean;
  /** Back-off applied to the whole wiki (ms) because several of its queues failed in a row. */
  readonly wikiFailureBackoffMs: number | null;
}

export interface GroupSchedule {
  readonly name: string;
  readonly mode: PriorityMode;
  readonly modeSince: number;
}

interface GroupState {
  config: GroupConfig;
  priority: PriorityState;
  picker: FairPicker;
}

export class Scheduler {
  readonly view: ReadyView;
  readonly backoffs = new BackoffBook();
  private readonly damper: FailureDamper;
  private readonly groups = new Map<string, GroupState>();
  private readonly running = new Map<string, number>();
  private readonly runningByWiki = new Map<string, number>();
  /** End time of each queue's latest dispatch. */
  private readonly lastEnded = new Map<string, number>();
  /** Queues seen ready with no child on them, and since when (pickup latency, aging). */
  private readonly waitingSince = new Map<string, number>();
  /** View queues not waiting (waitingSince unset): each poll checks whether they now are. */
  private readonly notWaiting = new Set<string>();
  /** Which queues a pick looks at (candidate-index.ts). */
  private readonly index = new CandidateIndex();
  /** Suspects were parked while the farm was failing: release them when it stops. */
  private parkedWhileFailing = false;
  private suspectsSweptAt = -Infinity;
  private housekeptAt = -Infinity;
  private readonly emptyRuns = new Map<string, number>();
  private readonly mismatches = new Set<string>();
  private readonly random: () => number;
  private readonly readyPerExtraChild: number;
  private readonly share: FairShare;

  constructor(
    groups: readonly GroupConfig[],
    private settings: SchedulerSettings,
    now: number,
    private readonly options: SchedulerOptions = {},
  ) {
    this.random = options.random ?? Math.random;
    this.readyPerExtraChild = options.readyPerExtraChild ?? READY_PER_EXTRA_CHILD;
    this.view = new ReadyView(options.staleTtlMs ?? STALE_PARTITION_TTL_MS);
    this.damper = new FailureDamper(settings);
    this.share = new FairShare(settings.scheduling);
    this.reconfigure(groups, settings, now);
  }

  /** New groups and settings; groups kept by name keep their priority state and fairness credit. */
  reconfigure(groups: readonly GroupConfig[], settings: SchedulerSettings, now: number): void {
    this.settings = settings;
    this.damper.configure(settings);
    this.index.releaseAll();
    this.share.configure(settings.scheduling);
    const previous = new Map(this.groups);
    this.groups.clear();
    for (const config of groups) {
      if (config.runners <= 0) continue;
      const kept = previous.get(config.name);
      this.groups.set(config.name, {
        config,
        priority: kept?.priority ?? new PriorityState(this.random() < 0.5, now),
        picker: kept?.picker ?? new FairPicker(),
      });
    }
  }

  /**
   * Applies a discovery poll that started at `pollStartedAt`. Costs what changed: queues that
   * entered or left the view, holds a poll may lift, queues not yet waiting.
   */
  observe(listing: QueueListing<ReadyQueue>, pollStartedAt: number, now: number): void {
    const changes = this.view.update(listing, pollStartedAt);
    for (const key of changes.removed) {
      if (this.view.get(key)) continue;
      this.index.remove(key);
      this.waitingSince.delete(key);
      this.notWaiting.delete(key);
    }
    for (const key of changes.added) {
      if (!this.view.get(key)) continue;
      this.index.add(key);
      if (!this.waitingSince.has(key)) this.notWaiting.add(key);
    }
    this.backoffs.observedReadyAll(
      (key) => {
        const q = this.view.get(key);
        return q && !q.stale ? q.seenAt : undefined;
      },
      (key) => this.index.release(key),
    );
    for (const key of this.notWaiting) {
      const q = this.view.get(key);
      if (!q) {
        this.notWaiting.delete(key);
        continue;
      }
      if (q.stale || this.runningOn(key) > 0) continue;
      const seenAt = q.seenAt;
      if (seenAt > (this.lastEnded.get(key) ?? -Infinity)) {
        this.waitingSince.set(key, seenAt);
        this.notWaiting.delete(key);
      }
    }
    if (this.settings.scheduling.policy === 'legacy') {
      // The legacy picker's turns depend on forgetting at once (its known flaw, kept as it was).
      for (const g of this.groups.values())
        g.picker.forget(
          (key) => this.known(key),
          (w) => this.activeWiki(w),
        );
    }
    if (now - this.housekeptAt >= HOUSEKEEPING_MS || now < this.housekeptAt) {
      this.housekeep(now);
      this.housekeptAt = now;
    }
  }

  private known(key: string): boolean {
    return this.view.get(key) !== undefined || this.runningOn(key) > 0;
  }

  private activeWiki(wiki: string): boolean {
    return this.view.hasWiki(wiki) || this.runningByWiki.has(wiki);
  }

  /** Drops expired holds and the state of queues and wikis no longer known. */
  private housekeep(now: number): void {
    this.backoffs.prune(now);
    const known = (key: string) => this.known(key);
    for (const [key, ended] of this.lastEnded)
      if (!known(key) && now - ended > 60_000) this.lastEnded.delete(key);
    for (const key of this.emptyRuns.keys())
      if (!known(key) && !this.lastEnded.has(key)) this.emptyRuns.delete(key);
    this.backoffs.forgetStreaks(known);
    this.share.forget((w) => this.activeWiki(w), known);
  }

  /**
   * Whether slot `index` of a group is an express slot (policy fair): the last expressSlots slots
   * of a group with at least 2 runners, never all of them.
   */
  isExpressSlot(groupName: string, index: number): boolean {
    const s = this.settings.scheduling;
    const runners = this.groups.get(groupName)?.config.runners ?? 0;
    if (s.policy !== 'fair' || runners < 2) return false;
    const express = Math.min(s.expressSlots, runners - 1);
    return index >= runners - express && index < runners;
  }

  /** Whether slot `index` is one of the group's burst slots (beyond its runners). */
  isBurstSlot(groupName: string, index: number): boolean {
    return index >= (this.groups.get(groupName)?.config.runners ?? 0);
  }

  /**
   * Slots a group has beyond its runners (policy fair): burstSlots then quietBurstSlots, indices
   * runners … runners+n−1. Which work may use them is burstRoom's and quietRoom's call.
   */
  burstSlotCount(groupName: string): number {
    const s = this.settings.scheduling;
    if (s.policy !== 'fair' || !this.groups.has(groupName)) return 0;
    return s.burstSlots + s.quietBurstSlots;
  }

  /**
   * How many burst dispatches the group may start now, given its running dispatches (ordinary and
   * burst): one per dispatch that ran more than overrunSeconds past its maxtime, at most
   * burstSlots, and only while the group has fewer than runners dispatches that are not overrunning.
   * So, as long as at most burstSlots dispatches overrun at once, the group always has its runners'
   * worth of dispatches that each end (or count as overrunning) within maxtime + overrunSeconds.
   * Quiet queues' dispatches in burst slots are not counted (they take none of this room, see
   * quietRoom), so never more than runners + burstSlots children run other work.
   */
  burstRoom(groupName: string, dispatches: readonly RunningDispatch[], now: number): number {
    const s = this.settings.scheduling;
    const runners = this.groups.get(groupName)?.config.runners ?? 0;
    if (s.policy !== 'fair' || s.burstSlots === 0 || runners === 0) return 0;
    const overrunMs = s.overrunSeconds * 1000;
    let counted = 0;
    let overrunning = 0;
    for (const d of dispatches) {
      const overrun = now - d.startedAt > d.maxTime * 1000 + overrunMs;
      if (d.quietBurst === true && overrun) continue;
      counted++;
      if (overrun) overrunning++;
    }
    const room = runners + Math.min(s.burstSlots, overrunning) - counted;
    return Math.max(0, Math.min(room, this.quietRoom(groupName, dispatches)));
  }

  /**
   * How many more children the group may start for quiet queues alone, whatever its other
   * dispatches are stuck in: up to runners + burstSlots + quietBurstSlots children in all. Since
   * other work never takes more than runners + burstSlots of them, a quiet queue waits for a child
   * only while quietBurstSlots quiet dispatches (plus the express slots') are running.
   */
  quietRoom(groupName: string, dispatches: readonly RunningDispatch[]): number {
    const s = this.settings.scheduling;
    const runners = this.groups.get(groupName)?.config.runners ?? 0;
    if (s.policy !== 'fair' || runners === 0) return 0;
    return Math.max(0, runners + s.burstSlots + s.quietBurstSlots - dispatches.length);
  }

  /**
   * Queues whose every child here has overrun its maxtime (stuck in a long job): a burst slot may
   * give such a queue one more child when it has jobs waiting behind that job, beyond the one
   * child per small queue rule (B3: that rule keeps one job from fanning out, not a second job
   * from starting while the first one runs for many seconds).
   */
  stuckQueues(dispatches: readonly RunningDispatch[], now: number): Set<string> {
    const overrunMs = this.settings.scheduling.overrunSeconds * 1000;
    const stuck = new Set<string>();
    const moving = new Set<string>();
    for (const d of dispatches) {
      if (now - d.startedAt > d.maxTime * 1000 + overrunMs) stuck.add(d.key);
      else moving.add(d.key);
    }
    for (const key of moving) stuck.delete(key);
    return stuck;
  }

  /**
   * Of the stuck queues, those that the one-child-per-small-queue rule holds back: a backlog gets
   * more children by the ordinary rule anyway, and a slow start-up must not earn it burst slots.
   */
  private shortOnly(stuck: ReadonlySet<string> | undefined): Set<string> | undefined {
    if (!stuck) return undefined;
    const out = new Set<string>();
    for (const key of stuck) {
      const q = this.view.get(key);
      if (q && q.ready <= this.readyPerExtraChild * this.runningOn(key)) out.add(key);
    }
    return out;
  }

  /** Whether a quiet queue waits; stops at the first one, and passes over no one "for want of a token". */
  private quietWaiting(groupName: string, now: number): boolean {
    const group = this.groups.get(groupName);
    if (!group) return false;
    let quiet = false;
    this.eachCandidate(group.config, group.priority.mode, now, undefined, false, (c) => {
      quiet = this.share.isQuiet(c);
      return quiet;
    });
    return quiet;
  }

  /** Applies every group's time share (also while all slots are busy, so stats stay current). */
  tick(now: number): void {
    for (const name of this.groups.keys()) this.tickGroup(name, now);
  }

  private tickGroup(name: string, now: number): GroupState | undefined {
    const group = this.groups.get(name);
    if (!group) return undefined;
    const before = group.priority.mode;
    if (group.priority.tick(now, this.settings)) {
      this.options.onPriorityChange?.(name, before, group.priority.mode, 'time-share');
    }
    return group;
  }

  /**
   * The queue a free slot of `groupName` should run now, or null when nothing fits. `context` says
   * which kind of slot it is and how many of the group's slots are free (policy fair).
   */
  pick(
    groupName: string,
    now: number,
    context: PickContext = { express: false, freeSlots: 1 },
  ): QueuePick | null {
    const group = this.tickGroup(groupName, now);
    if (!group) return null;
    // A quiet burst slot is tried at every fill while the others are busy: a look that stops at
    // the first quiet queue, before the full list of candidates that a pick builds.
    if (context.quietOnly === true && !this.quietWaiting(groupName, now)) return null;
    const stuck = context.burst ? this.shortOnly(context.stuck) : undefined;
    let candidates = this.candidates(group.config, group.priority.mode, now, stuck);
    if (candidates.length === 0 && group.priority.mode === 'high') {
      // Low mode runs every type, so it can only have more. Switch once, and come back on the
      // timer: no flapping while queues empty and refill (B4).
      const low = this.candidates(group.config, 'low', now, stuck);
      if (low.length > 0) {
        group.priority.switchTo('low', now);
        this.options.onPriorityChange?.(groupName, 'high', 'low', 'nothing-in-high');
        candidates = low;
      }
    }
    const mode = group.priority.mode;
    const modeMaxTime =
      mode === 'high' ? this.settings.highPriorityMaxTime : this.settings.lowPriorityMaxTime;
    let key: string;
    let maxTime = modeMaxTime;
    let express = false;
    if (this.settings.scheduling.policy === 'legacy') {
      const chosen = group.picker.pick(candidates);
      if (!chosen) return null;
      key = chosen.key;
    } else {
      const choice = this.share.choose(groupName, candidates, modeMaxTime, context, now);
      if (!choice) return null;
      key = choice.candidate.key;
      maxTime = choice.maxTime;
      express = choice.quiet;
    }
    const queue = this.view.get(key);
    if (!queue) return null;
    return {
      group: groupName,
      key,
      wiki: queue.wiki,
      domain: queue.domain,
      type: queue.type,
      partitions: queue.partitions,
      mode,
      maxTime,
      express,
    };
  }

  private candidates(
    group: GroupConfig,
    mode: PriorityMode,
    now: number,
    stuck?: ReadonlySet<string>,
  ): ShareCandidate[] {
    const out: ShareCandidate[] = [];
    this.eachCandidate(group, mode, now, stuck, true, (c) => {
      out.push(c);
      return false;
    });
    return out;
  }

  /**
   * Visits each queue the group may dispatch now until `visit` returns true. `countDeferred`: count
   * a pick that passed over suspect queues for want of a damper token (a real pick does; a mere look
   * does not).
   *
   * Looks at the open queues of the index only: a queue found held or suspect is parked there (see
   * candidate-index.ts), so a pick's cost follows the queues that can run. Suspects take part one
   * at a time, and only while the damper has a token: the one waiting longest that this group may
   * run (a round robin over suspects, instead of the least-served wiki among thousands of them).
   */
  private eachCandidate(
    group: GroupConfig,
    mode: PriorityMode,
    now: number,
    stuck: ReadonlySet<string> | undefined,
    countDeferred: boolean,
    visit: (c: ShareCandidate) => boolean,
  ): void {
    this.syncIndex(now);
    const rationed = this.damper.rationing;
    for (const key of this.index.openKeys()) {
      const q = this.view.get(key);
      if (!q) {
        this.index.remove(key);
        continue;
      }
      if (!typeAllowed(group, mode, q.type)) continue;
      if (this.options.isPaused?.(q.wiki, q.type)) continue;
      if (this.park(q, now, rationed)) continue;
      if (!this.capsAllow(q, stuck?.has(q.key) === true)) continue;
      if (visit(this.candidate(q, now))) return;
    }
    if (this.index.suspectCount === 0) return;
    if (!this.damper.mayDispatch(now)) {
      if (countDeferred) this.damper.deferredOne();
      return;
    }
    let looked = 0;
    for (const key of this.index.suspectKeys()) {
      if (looked++ >= SUSPECTS_PER_PICK) return;
      const q = this.view.get(key);
      if (!q) {
        this.index.remove(key);
        continue;
      }
      const heldUntil = this.backoffs.heldUntil(q.key, q.wiki, now);
      if (heldUntil !== null) {
        this.index.hold(key, heldUntil);
        continue;
      }
      if (!this.suspect(q.key, q.wiki, now)) {
        // No longer suspect: open again, and a candidate like any other from the next pick on.
        this.index.release(key);
        continue;
      }
      if (
        !typeAllowed(group, mode, q.type) ||
        this.options.isPaused?.(q.wiki, q.type) ||
        !this.capsAllow(q, stuck?.has(q.key) === true)
      ) {
        this.index.requeue(key);
        continue;
      }
      visit(this.candidate(q, now));
      return;
    }
  }

  /** Parks the queue in the index when it must wait (held, or a rationed suspect). */
  private park(q: ViewQueue, now: number, rationed: boolean): boolean {
    const heldUntil = this.backoffs.heldUntil(q.key, q.wiki, now);
    if (heldUntil !== null) {
      this.index.hold(q.key, heldUntil);
      return true;
    }
    if (rationed && this.suspect(q.key, q.wiki, now)) {
      if (this.index.suspectCount === 0) this.suspectsSweptAt = now;
      this.index.suspect(q.key, q.wiki);
      if (this.damper.failing(now)) this.parkedWhileFailing = true;
      return true;
    }
    return false;
  }

  /** Releases what the index holds back when the reason may have ended. */
  private syncIndex(now: number): void {
    this.index.releaseDue(now);
    if (this.index.suspectCount === 0) return;
    const sweep = now - this.suspectsSweptAt >= SUSPECT_SWEEP_MS || now < this.suspectsSweptAt;
    if (sweep || (this.parkedWhileFailing && !this.damper.failing(now))) {
      this.index.releaseSuspects();
      this.parkedWhileFailing = false;
      this.suspectsSweptAt = now;
    }
  }

  private candidate(q: ViewQueue, now: number): ShareCandidate {
    const since = this.waitingSince.get(q.key);
    return {
      key: q.key,
      wiki: q.wiki,
      type: q.type,
      ready: q.ready,
      waitingMs: since === undefined ? 0 : now - since,
      queueRunning: this.runningOn(q.key),
      wikiRunning: this.runningByWiki.get(q.wiki) ?? 0,
    };
  }

  private capsAllow(q: ViewQueue, stuck: boolean): boolean {
    const running = this.runningOn(q.key);
    if (running >= Math.max(1, this.settings.maxPerQueue)) return false;
    if (running > 0 && !stuck && q.ready <= this.readyPerExtraChild * running) return false;
    const perWiki = this.settings.maxPerWiki;
    return perWiki <= 0 || (this.runningByWiki.get(q.wiki) ?? 0) < perWiki;
  }

  /** Records a dispatch start; returns the queue's notice-to-dispatch latency (ms), if it was waiting. */
  started(pick: QueuePick, now: number): number | null {
    if (this.suspect(pick.key, pick.wiki, now)) this.damper.dispatched(now);
    this.running.set(pick.key, this.runningOn(pick.key) + 1);
    this.runningByWiki.set(pick.wiki, (this.runningByWiki.get(pick.wiki) ?? 0) + 1);
    this.share.started(pick, pick, now, pick.maxTime * 1000);
    const since = this.waitingSince.get(pick.key);
    this.waitingSince.delete(pick.key);
    if (this.view.get(pick.key)) this.notWaiting.add(pick.key);
    return since === undefined ? null : Math.max(0, now - since);
  }

  /** Records a dispatch end and applies what its result means for scheduling. */
  finished(pick: QueuePick, input: OutcomeInput, now: number): FinishReport {
    decrement(this.running, pick.key);
    decrement(this.runningByWiki, pick.wiki);
    this.share.finished(pick, pick, now);
    this.lastEnded.set(pick.key, now);
    const s = this.settings;
    const reaction = reactTo(input, now);
    for (const hold of reaction.typeHolds) {
      const key = queueKey(pick.wiki, hold.type);
      this.backoffs.holdQueue(key, 'mediawiki-backoff', hold.until);
      this.index.release(key);
    }
    // Whatever this dispatch earned, the queue is looked at again by the next pick.
    this.index.release(pick.key);
    let failureBackoffMs: number | null = null;
    let wikiFailureBackoffMs: number | null = null;
    let firstConfigMismatch = false;
    switch (reaction.kind) {
      case 'continue':
        this.emptyRuns.delete(pick.key);
        break;
      case 'none-ready': {
        const empty = input.jobsRun === 0 ? (this.emptyRuns.get(pick.key) ?? 0) + 1 : 0;
        if (empty > 0) this.emptyRuns.set(pick.key, empty);
        else this.emptyRuns.delete(pick.key);
        // Lifted early when a poll that starts after this run still lists the queue (new jobs),
        // unless runs keep finding nothing: then the listing itself is not trusted.
        const liftAfter = empty < EMPTY_RUNS_BEFORE_FIRM_BACKOFF ? now : null;
        this.backoffs.holdQueue(pick.key, 'none-ready', now + s.noneReadyBackoffSeconds * 1000, liftAfter);
        break;
      }
      case 'none-possible':
        this.backoffs.holdQueue(pick.key, 'none-possible', now + s.nonePossibleBackoffSeconds * 1000);
        if (!this.mismatches.has(pick.key)) {
          if (this.mismatches.size >= MAX_REMEMBERED_MISMATCHES) this.mismatches.clear();
          this.mismatches.add(pick.key);
          firstConfigMismatch = true;
        }
        break;
      case 'wiki-unavailable':
        this.backoffs.holdWiki(
          pick.wiki,
          reaction.wikiReason ?? 'read-only',
          now + s.wikiBackoffSeconds * 1000,
        );
        break;
      case 'failure':
        failureBackoffMs = this.backoffs.recordFailure(
          pick.key,
          now,
          s.failureBackoffSeconds * 1000,
          s.maxFailureBackoffSeconds * 1000,
        );
        wikiFailureBackoffMs = this.damper.failed(pick.key, pick.wiki, now);
        if (wikiFailureBackoffMs !== null) {
          this.backoffs.holdWiki(pick.wiki, 'wiki-failing', now + wikiFailureBackoffMs);
        }
        break;
      case 'aborted':
        break;
    }
    if (reaction.success) {
      this.backoffs.recordSuccess(pick.key);
      this.damper.succeeded(pick.wiki, now);
      this.index.releaseWiki(pick.wiki);
    }
    return { reaction, failureBackoffMs, firstConfigMismatch, wikiFailureBackoffMs };
  }

  runningOn(key: string): number {
    return this.running.get(key) ?? 0;
  }

  /**
   * Whether a new job in (wiki, type) could be dispatched now by one of `groups` (those with a free
   * slot): a group runs the type in some mode, nothing firm holds the queue or its wiki, no child
   * runs it yet and the per-wiki cap leaves room. Pushes for which this is false wake nobody.
   */
  wantsPush(wiki: string, type: string, groups: readonly string[], now: number): boolean {
    const key = queueKey(wiki, type);
    if (this.backoffs.isFirmlyHeld(key, wiki, now)) return false;
    // A queue with a child running is seen by the busy poll anyway; waking for each of its pushes
    // would only multiply polls that cannot start anything (a second child needs a backlog).
    if (this.runningOn(key) > 0) return false;
    const perWiki = this.settings.maxPerWiki;
    if (perWiki > 0 && (this.runningByWiki.get(wiki) ?? 0) >= perWiki) return false;
    return groups.some((name) => {
      const group = this.groups.get(name);
      return (
        group !== undefined &&
        (typeAllowed(group.config, 'high', type) || typeAllowed(group.config, 'low', type))
      );
    });
  }

  /** Whether a dispatch of the queue would count against the failing-dispatch cap. */
  private suspect(key: string, wiki: string, now: number): boolean {
    return this.damper.suspect(wiki, this.backoffs.failureStreak(key), now);
  }

  /**
   * Whether discovery need not re-read the queue's length: paused, firmly held, or suspect (its dispatches
   * are rationed by the failing-dispatch cap, and a stale length only costs a rationed dispatch).
   */
  blocked(wiki: string, type: string, now: number): boolean {
    const key = queueKey(wiki, type);
    if (this.options.isPaused?.(wiki, type)) return true;
    return this.backoffs.isFirmlyHeld(key, wiki, now) || this.suspect(key, wiki, now);
  }

  /** The failure damper's state (status). */
  failureDamping(now: number): DamperState {
    return this.damper.state(now);
  }

  /** Whether some group may run the type in some mode (queues of other types are not followed). */
  runsType(type: string): boolean {
    for (const group of this.groups.values()) {
      if (typeAllowed(group.config, 'high', type) || typeAllowed(group.config, 'low', type)) return true;
    }
    return false;
  }

  /** True when discovery currently knows of any ready queue. */
  hasKnownWork(): boolean {
    return this.view.size > 0;
  }

  groupSchedules(): GroupSchedule[] {
    return [...this.groups.values()].map((g) => ({
      name: g.config.name,
      mode: g.priority.mode,
      modeSince: g.priority.since,
    }));
  }

  activeBackoffs(now: number): BackoffEntry[] {
    return this.backoffs.active(now);
  }

  partitions(): PartitionState[] {
    return this.view.partitionStates();
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const value = (map.get(key) ?? 0) - 1;
  if (value > 0) map.set(key, value);
  else map.delete(key);
}
