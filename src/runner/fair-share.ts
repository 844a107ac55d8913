// Policy "fair" (issue 14): which queue a free slot runs, and for how long.
//
// 1. Wikis share slot-time by weight: the candidate wiki with the least slot-time per weight
//    (VirtualClock) goes first; within it, the queue with the least slot-time per type weight.
// 2. The slice follows what waits: while more queues wait (no child on them) than slots are free,
//    or quiet queues were seen lately (within expressHoldSeconds; more are likely to come), a
//    dispatch gets sliceSeconds, so every waiting queue is in within a few slices; otherwise it
//    gets longSliceSeconds, so a lone backlog pays few start-ups (never more than the priority
//    mode's maxtime). MediaWiki stops cleanly at `reached: time-limit` after the job that crossed
//    it.
// 3. Express slots run quiet queues (few ready jobs, no child on the wiki here) with a short
//    maxtime, so a quiet queue's job starts as soon as it is seen even while big backlogs hold
//    every other slot. An express slot with no quiet work runs other work only when no quiet
//    queue was seen in the group for expressHoldSeconds, in slices as long as the quiet queues have
//    stayed away beyond that (from expressSliceSeconds up to longSliceSeconds).
// 4. Burst slots stand in for dispatches stuck in a long job (MediaWiki checks maxtime only between
//    jobs): they run only queues with no child, quiet ones first (as an express slot would), so a
//    20 s job does not also make the queues behind it wait 20 s. When they may run is the
//    scheduler's call (Scheduler.burstRoom).
// 5. Quiet burst slots run quiet queues only (context.quietOnly), as an express slot would, so a
//    quiet queue does not wait for the express slot or a burst slot stuck in a long job
//    (Scheduler.quietRoom).
import type { SchedulingSettings } from '../config/types.js';
import type { Candidate } from './fair-picker.js';
import { VirtualClock } from './virtual-clock.js';

export interface ShareCandidate extends Candidate {
  /** Children on this queue on this runner. */
  readonly queueRunning: number;
  /** Children on this queue's wiki on this runner. */
  readonly wikiRunning: number;
}

export interface PickContext {
  /** The slot is an express slot. */
  readonly express: boolean;
  /** The slot is a burst slot (stands in for a dispatch stuck in a long job). */
  readonly burst?: boolean;
  /** A burst slot that may take a quiet queue only (Scheduler.quietRoom). */
  readonly quietOnly?: boolean;
  /** Burst slots: short queues whose every child here overran its maxtime (may get one more). */
  readonly stuck?: ReadonlySet<string>;
  /** Free slots of the group, this one included. */
  readonly freeSlots: number;
}

export interface ShareChoice {
  readonly candidate: ShareCandidate;
  /** %(maxtime) in seconds. */
  readonly maxTime: number;
  /** Chosen as a quiet queue by an express slot. */
  readonly quiet: boolean;
}

export type ShareSettings = Pick<
  SchedulingSettings,
  | 'sliceSeconds'
  | 'longSliceSeconds'
  | 'expressMaxReady'
  | 'expressSliceSeconds'
  | 'expressHoldSeconds'
  | 'wikiWeights'
  | 'typeWeights'
>;

/** What the started/finished calls need to know of a dispatch. */
export interface ChargedDispatch {
  readonly wiki: string;
  readonly key: string;
  readonly type: string;
}

export class FairShare {
  private readonly wikis = new VirtualClock();
  /** Per wiki: its queues' clock. */
  private readonly queues = new Map<string, VirtualClock>();
  /** Per group: when a pick last saw a quiet queue among its candidates. */
  private readonly lastQuiet = new Map<string, number>();

  constructor(private settings: ShareSettings) {}

  configure(settings: ShareSettings): void {
    this.settings = settings;
  }

  choose(
    group: string,
    candidates: readonly ShareCandidate[],
    modeMaxTime: number,
    context: PickContext,
    now: number,
  ): ShareChoice | undefined {
    const s = this.settings;
    const quietOnes = candidates.filter((c) => this.isQuiet(c));
    // Quiet traffic seen lately (waiting or started, in any slot): more is likely, so the
    // ordinary slots turn over quickly and the express slots stay free for it.
    const quietLately = now - (this.lastQuiet.get(group) ?? -Infinity) < s.expressHoldSeconds * 1000;
    if (quietOnes.length > 0) this.lastQuiet.set(group, now);
    let pool = candidates;
    let quiet = false;
    if (context.quietOnly && quietOnes.length === 0) return undefined;
    if (context.burst) {
      // Only queues nobody runs here, or whose children are all stuck in a long job: a burst adds
      // a child where one is missing or stuck, never one beside a child that is moving.
      const waiting = candidates.filter((c) => c.queueRunning === 0 || context.stuck?.has(c.key) === true);
      quiet = quietOnes.length > 0;
      pool = quiet ? quietOnes : waiting;
    } else if (context.express) {
      if (quietOnes.length > 0) {
        pool = quietOnes;
        quiet = true;
      } else if (quietLately) {
        return undefined;
      }
    }
    const chosen = this.leastServed(pool, now);
    if (!chosen) return undefined;
    let maxTime: number;
    if (quiet) maxTime = s.expressSliceSeconds;
    else if (context.burst) maxTime = s.expressSliceSeconds;
    else if (context.express) {
      // Lent: as long as quiet queues have been away beyond the hold, between the express slice
      // and the long one. Rare quiet traffic costs a lone backlog few start-ups; frequent quiet
      // traffic finds the slot free again soon.
      const lull = (now - (this.lastQuiet.get(group) ?? -Infinity)) / 1000 - s.expressHoldSeconds;
      maxTime = Math.max(s.expressSliceSeconds, Math.min(s.longSliceSeconds, Math.floor(lull)));
    } else {
      const othersWaiting = candidates.filter((c) => c.queueRunning === 0 && c.key !== chosen.key).length;
      const contended = othersWaiting > context.freeSlots - 1 || quietLately;
      maxTime = contended ? s.sliceSeconds : s.longSliceSeconds;
    }
    return { candidate: chosen, maxTime: Math.max(1, Math.min(maxTime, modeMaxTime)), quiet };
  }

  isQuiet(c: ShareCandidate): boolean {
    return c.ready <= this.settings.expressMaxReady && c.wikiRunning === 0;
  }

  /** Starts charging a dispatch planned to hold its slot for `plannedMs`. */
  started(token: object, d: ChargedDispatch, now: number, plannedMs: number): void {
    this.wikis.start(token, d.wiki, this.wikiWeight(d.wiki), now, plannedMs);
    this.queueClock(d.wiki).start(token, d.key, this.typeWeight(d.type), now, plannedMs);
  }

  finished(token: object, d: ChargedDispatch, now: number): void {
    this.wikis.finish(token, now);
    this.queues.get(d.wiki)?.finish(token, now);
  }

  /** Drops state that would change nothing (see VirtualClock.forget). */
  forget(isActiveWiki: (wiki: string) => boolean, isActiveQueue: (key: string) => boolean): void {
    this.wikis.forget(isActiveWiki);
    for (const [wiki, clock] of this.queues) {
      clock.forget(isActiveQueue);
      if (clock.size === 0 && !isActiveWiki(wiki)) this.queues.delete(wiki);
    }
  }

  /** A wiki's slot-time per weight beyond the least served (ms; tests and status). */
  wikiLead(wiki: string): number {
    return this.wikis.lead(wiki);
  }

  private leastServed(pool: readonly ShareCandidate[], now: number): ShareCandidate | undefined {
    const wikiTags = new Map<string, number>();
    let wiki: string | undefined;
    let best: ShareCandidate | undefined;
    for (const c of pool) {
      let tag = wikiTags.get(c.wiki);
      if (tag === undefined)
        wikiTags.set(c.wiki, (tag = this.wikis.tag(c.wiki, this.wikiWeight(c.wiki), now)));
      const bestTag = wiki === undefined ? Infinity : (wikiTags.get(wiki) as number);
      if (best === undefined || tag < bestTag || (tag === bestTag && before(c, best, c.wiki, best.wiki))) {
        wiki = c.wiki;
        best = c;
      }
    }
    if (wiki === undefined) return undefined;
    this.wikis.chose(wikiTags.get(wiki) as number);
    const clock = this.queueClock(wiki);
    let chosen: ShareCandidate | undefined;
    let chosenTag = Infinity;
    for (const c of pool) {
      if (c.wiki !== wiki) continue;
      const tag = clock.tag(c.key, this.typeWeight(c.type), now);
      if (
        chosen === undefined ||
        tag < chosenTag ||
        (tag === chosenTag && before(c, chosen, c.type, chosen.type))
      ) {
        chosen = c;
        chosenTag = tag;
      }
    }
    clock.chose(chosenTag);
    return chosen;
  }

  private queueClock(wiki: string): VirtualClock {
    let clock = this.queues.get(wiki);
    if (!clock) this.queues.set(wiki, (clock = new VirtualClock()));
    return clock;
  }

  private wikiWeight(wiki: string): number {
    return weightOf(this.settings.wikiWeights, wiki);
  }

  private typeWeight(type: string): number {
    return weightOf(this.settings.typeWeights, type);
  }
}

function weightOf(weights: Readonly<Record<string, number>>, name: string): number {
  // Own properties only: a pushed wiki or type named "constructor" must not find Object's.
  return Object.hasOwn(weights, name) ? (weights[name] as number) : 1;
}

/** Tie-break between equal tags: the one waiting longer, then by name (stable across hosts). */
function before(a: Candidate, b: Candidate, aName: string, bName: string): boolean {
  if (a.waitingMs !== b.waitingMs) return a.waitingMs > b.waitingMs;
  return aName < bName;
}
