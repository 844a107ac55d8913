// Back-off bookkeeping: which (wiki, type) queues and which wikis must not be dispatched until when,
// and why. Several reasons can hold one queue at once (e.g. MediaWiki's own per-type throttle and
// a failure back-off); the queue is free only when all have expired or been cleared.

export type QueueBackoffReason =
  /** runJobs reported `none-ready`: the listing was ahead of reality. */
  | 'none-ready'
  /** runJobs reported `none-possible`: the type is unknown to the wiki (config mismatch). */
  | 'none-possible'
  /** MediaWiki's `backoffs` map from a result (its $wgJobBackoffThrottling). */
  | 'mediawiki-backoff'
  /** The dispatch failed, timed out or reached `exception`; grows exponentially. */
  | 'failure';

export type WikiBackoffReason =
  | 'read-only'
  | 'replica-lag-limit'
  /** Several different queues of the wiki failed in a row (see failure-damper.ts). */
  | 'wiki-failing';

interface QueueHold {
  until: number;
  /** A poll started after this time that still lists the queue lifts the hold (none-ready only). */
  liftIfSeenAfter: number | null;
}

export interface BackoffEntry {
  readonly scope: 'queue' | 'wiki';
  readonly key: string;
  readonly reason: QueueBackoffReason | WikiBackoffReason;
  readonly until: number;
}

export class BackoffBook {
  private readonly queues = new Map<string, Map<QueueBackoffReason, QueueHold>>();
  private readonly wikis = new Map<string, { until: number; reason: WikiBackoffReason }>();
  private readonly failureStreaks = new Map<string, number>();
  /** Queues whose none-ready hold a poll may lift (see observedReadyAll). */
  private readonly liftable = new Set<string>();

  holdQueue(
    key: string,
    reason: QueueBackoffReason,
    until: number,
    liftIfSeenAfter: number | null = null,
  ): void {
    let holds = this.queues.get(key);
    if (!holds) {
      holds = new Map();
      this.queues.set(key, holds);
    }
    const existing = holds.get(reason);
    if (existing && existing.until > until && existing.liftIfSeenAfter === null) return;
    holds.set(reason, { until, liftIfSeenAfter });
    if (reason === 'none-ready' && liftIfSeenAfter !== null) this.liftable.add(key);
  }

  holdWiki(wiki: string, reason: WikiBackoffReason, until: number): void {
    const existing = this.wikis.get(wiki);
    if (existing && existing.until >= until) return;
    this.wikis.set(wiki, { until, reason });
  }

  /** Records a failed dispatch; returns the back-off length (ms) it earned. */
  recordFailure(key: string, now: number, firstMs: number, maxMs: number): number {
    const streak = (this.failureStreaks.get(key) ?? 0) + 1;
    this.failureStreaks.set(key, streak);
    const delay = Math.min(maxMs, firstMs * 2 ** Math.min(streak - 1, 30));
    this.holdQueue(key, 'failure', now + delay);
    return delay;
  }

  /** A successful dispatch ends the failure streak (B8: back-off resets on success). */
  recordSuccess(key: string): void {
    this.failureStreaks.delete(key);
    this.queues.get(key)?.delete('failure');
  }

  failureStreak(key: string): number {
    return this.failureStreaks.get(key) ?? 0;
  }

  /**
   * Discovery's latest poll: a none-ready hold is lifted when a poll that started after the
   * dispatch still lists the queue. Only queues with such a hold are looked at, not every ready
   * queue: `seenAt` gives when a queue was last seen ready (undefined: not listed, or only in a
   * stale listing); `lifted` hears of each hold lifted.
   */
  observedReadyAll(seenAt: (key: string) => number | undefined, lifted: (key: string) => void): void {
    for (const key of this.liftable) {
      const hold = this.queues.get(key)?.get('none-ready');
      if (!hold || hold.liftIfSeenAfter === null) {
        this.liftable.delete(key);
        continue;
      }
      const seen = seenAt(key);
      if (seen !== undefined && seen > hold.liftIfSeenAfter) {
        this.queues.get(key)?.delete('none-ready');
        this.liftable.delete(key);
        lifted(key);
      }
    }
  }

  /** The time until which the queue is held, or null when it may be dispatched now. */
  heldUntil(key: string, wiki: string, now: number): number | null {
    let until: number | null = null;
    const wikiHold = this.wikis.get(wiki);
    if (wikiHold && wikiHold.until > now) until = wikiHold.until;
    const holds = this.queues.get(key);
    if (holds) {
      for (const hold of holds.values()) {
        if (hold.until > now && (until === null || hold.until > until)) until = hold.until;
      }
    }
    return until;
  }

  isHeld(key: string, wiki: string, now: number): boolean {
    return this.heldUntil(key, wiki, now) !== null;
  }

  /**
   * Held by something new jobs do not lift: every hold except a none-ready one that discovery
   * lifts when it sees the queue again (a push to such a queue is worth a look).
   */
  isFirmlyHeld(key: string, wiki: string, now: number): boolean {
    const wikiHold = this.wikis.get(wiki);
    if (wikiHold && wikiHold.until > now) return true;
    for (const [reason, hold] of this.queues.get(key) ?? []) {
      if (hold.until <= now) continue;
      if (reason === 'none-ready' && hold.liftIfSeenAfter !== null) continue;
      return true;
    }
    return false;
  }

  /** Drops expired entries so the maps stay bounded by the number of live queues. */
  prune(now: number): void {
    for (const [key, holds] of this.queues) {
      for (const [reason, hold] of holds) if (hold.until <= now) holds.delete(reason);
      if (holds.size === 0) this.queues.delete(key);
    }
    for (const [wiki, hold] of this.wikis) if (hold.until <= now) this.wikis.delete(wiki);
  }

  /** Streaks of queues that are no longer known anywhere can be forgotten. */
  forgetStreaks(keep: (key: string) => boolean): void {
    for (const key of this.failureStreaks.keys()) {
      if (!keep(key) && !this.queues.has(key)) this.failureStreaks.delete(key);
    }
  }

  active(now: number): BackoffEntry[] {
    const out: BackoffEntry[] = [];
    for (const [key, holds] of this.queues) {
      for (const [reason, hold] of holds) {
        if (hold.until > now) out.push({ scope: 'queue', key, reason, until: hold.until });
      }
    }
    for (const [wiki, hold] of this.wikis) {
      if (hold.until > now) out.push({ scope: 'wiki', key: wiki, reason: hold.reason, until: hold.until });
    }
    return out;
  }
}
