// Damps failures across queues, where per-queue back-off alone cannot: a wiki that is gone (or
// broken) has a queue per job type, and 10,000 such queues would each fail once before their own
// back-off starts.
//   - Wiki level: when `wikiFailureQueues` different queues of a wiki failed in a row (no success of
//     that wiki in between), the whole wiki is held, growing like the queue failure back-off.
//   - Farm level: while dispatches have been failing lately, dispatches to suspect queues (a failure
//     streak, a wiki with failing queues, or a wiki with no recent success) draw on a token bucket
//     of `maxFailingDispatchesPerSecond`; wikis that worked lately are served as usual.

export interface DamperSettings {
  readonly wikiFailureQueues: number;
  readonly maxFailingDispatchesPerSecond: number;
  readonly failureBackoffSeconds: number;
  readonly maxFailureBackoffSeconds: number;
}

/** After the last failure, the farm counts as failing for this long (ms). */
export const FAILING_MODE_MS = 30_000;
/** A wiki counts as proven this long after its last successful dispatch (ms). */
export const PROVEN_FOR_MS = 600_000;
/** Most wikis tracked (failing or proven); the oldest entries go first. */
const MAX_WIKIS = 50_000;

export interface DamperState {
  readonly maxFailingDispatchesPerSecond: number;
  /** A dispatch failed within the last FAILING_MODE_MS. */
  readonly failing: boolean;
  /** Suspect dispatches left in the bucket right now. */
  readonly tokens: number;
  /** Picks that skipped a suspect queue because the bucket was empty (since start). */
  readonly deferred: number;
  /** Wikis with failing queues and no success since. */
  readonly wikisFailing: number;
}

export class FailureDamper {
  private readonly failingQueues = new Map<string, Set<string>>();
  private readonly wikiStreaks = new Map<string, number>();
  private readonly provenAt = new Map<string, number>();
  private lastFailureAt = -Infinity;
  private tokens: number;
  private refilledAt = -Infinity;
  private deferred = 0;

  constructor(private settings: DamperSettings) {
    this.tokens = this.burst();
  }

  configure(settings: DamperSettings): void {
    this.settings = settings;
    this.tokens = Math.min(this.tokens, this.burst());
  }

  /** A failed dispatch of queue `key`; returns the wiki hold (ms) when the wiki crossed the line. */
  failed(key: string, wiki: string, now: number): number | null {
    this.lastFailureAt = now;
    this.provenAt.delete(wiki);
    const threshold = this.settings.wikiFailureQueues;
    let queues = this.failingQueues.get(wiki);
    if (!queues) {
      queues = new Set();
      bounded(this.failingQueues, wiki, queues);
    }
    queues.add(key);
    if (threshold <= 0 || queues.size < threshold) return null;
    queues.clear();
    const streak = (this.wikiStreaks.get(wiki) ?? 0) + 1;
    bounded(this.wikiStreaks, wiki, streak);
    const first = this.settings.failureBackoffSeconds * 1000;
    return Math.min(this.settings.maxFailureBackoffSeconds * 1000, first * 2 ** Math.min(streak - 1, 30));
  }

  succeeded(wiki: string, now: number): void {
    this.failingQueues.delete(wiki);
    this.wikiStreaks.delete(wiki);
    this.provenAt.delete(wiki);
    bounded(this.provenAt, wiki, now);
  }

  /** Whether a dispatch of the queue would draw on the failing-dispatch bucket. */
  suspect(wiki: string, queueStreak: number, now: number): boolean {
    if (queueStreak > 0 || this.failingQueues.has(wiki) || this.wikiStreaks.has(wiki)) return true;
    if (now - this.lastFailureAt >= FAILING_MODE_MS) return false;
    const proven = this.provenAt.get(wiki);
    return proven === undefined || now - proven >= PROVEN_FOR_MS;
  }

  /** Dispatches have failed lately: queues of wikis not proven lately are suspect. */
  failing(now: number): boolean {
    return now - this.lastFailureAt < FAILING_MODE_MS;
  }

  /** Whether suspect dispatches are rationed at all (a cap is set). */
  get rationing(): boolean {
    return this.settings.maxFailingDispatchesPerSecond > 0;
  }

  /** A suspect dispatch may start now (the bucket has a token). */
  mayDispatch(now: number): boolean {
    if (this.settings.maxFailingDispatchesPerSecond <= 0) return true;
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Counts a suspect queue passed over for want of a token. */
  deferredOne(): void {
    this.deferred += 1;
  }

  /** A suspect dispatch started. */
  dispatched(now: number): void {
    if (this.settings.maxFailingDispatchesPerSecond <= 0) return;
    this.refill(now);
    this.tokens = Math.max(0, this.tokens - 1);
  }

  state(now: number): DamperState {
    if (this.settings.maxFailingDispatchesPerSecond > 0) this.refill(now);
    return {
      maxFailingDispatchesPerSecond: this.settings.maxFailingDispatchesPerSecond,
      failing: now - this.lastFailureAt < FAILING_MODE_MS,
      tokens: Math.floor(this.tokens),
      deferred: this.deferred,
      wikisFailing: this.failingQueues.size,
    };
  }

  private burst(): number {
    return Math.max(1, this.settings.maxFailingDispatchesPerSecond);
  }

  private refill(now: number): void {
    if (this.refilledAt === -Infinity) this.refilledAt = now;
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.burst(), this.tokens + elapsed * this.settings.maxFailingDispatchesPerSecond);
    this.refilledAt = now;
  }
}

/** Map insertion with a size bound: the oldest entry makes room. */
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  if (!map.has(key) && map.size >= MAX_WIKIS) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
