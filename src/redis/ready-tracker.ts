// The runner's knowledge of one partition's ready queues, kept up to date by what changes instead of
// a walk of every queue per poll:
//   - pushes (keyspace notifications name the l-unclaimed key): the queue is looked at next poll;
//   - the runner's own dispatch outcomes: `none-ready` drops the queue, anything else has it
//     looked at again;
//   - known ready queues are re-read (LLEN) at most once per REFRESH_MS, and not at all while the
//     runner could not dispatch them anyway (back-off);
//   - a paced reconciliation: SSCAN of s-queuesWithJobs resumed from poll to poll, covering the set
//     once per `reconcileMs` (or `fastReconcileMs` after pushes may have been missed), LLEN only
//     for queues of types this runner runs and does not know yet. When the runner's groups name a
//     short finite list of types, Redis filters the set (SSCAN MATCH, member-match.ts), so members
//     of other types are never even sent.
// Queues of types no group runs are never read at all, whatever their number.
import type { Redis } from 'ioredis';
import type { ReadyQueue } from '../backend/types.js';
import {
  QUEUES_WITH_JOBS_KEY,
  parseQueueId,
  parseQueueKeyName,
  queueKeyPrefix,
  wikiIdFromDomain,
} from '../mediawiki/queue-keys.js';
import { walkPatterns } from './member-match.js';

/**
 * A known ready queue is re-read at most this often (ms): it catches queues other runners drained.
 * Its own dispatches and pushes have it read at once anyway.
 */
export const REFRESH_MS = 5000;
/** Reconciliation reads the set in pages of at least this many members (fewer, larger SSCANs)… */
const MIN_PAGE = 500;
/**
 * …and at most this many per SSCAN, so no single command holds Redis up: an SSCAN costs Redis about
 * 1 µs per member (1.1 ms at 1,000 measured), and MediaWiki's own commands may queue behind one.
 * 250 keeps that under 0.3 ms, well inside the 5 ms p99 budget for them (README "Scale").
 */
const MAX_PAGE = 250;
/**
 * With MATCH Redis sends (almost) nothing back: over 100,000 members a filtered page of 500 takes
 * it 0.12 ms a call on average (INFO commandstats), like an unfiltered page of 250 (0.10 ms), so
 * MediaWiki's commands wait no longer behind one, and the runner makes half the calls.
 */
const MAX_PAGE_MATCHED = 500;
/** Most queues read per poll; the rest wait for the next poll. */
const MAX_READS_PER_POLL = 5000;
/** The type of a member written without escapes, e.g. ["refreshLinks","enwiki"]. */
const PLAIN_TYPE = /^\["([^"\\]+)","/;
/** Most queues remembered per partition (pushes of more are left to reconciliation). */
const MAX_KNOWN = 200_000;

export interface PollAsk {
  /** Whether some group of this runner may run the type (in any mode). */
  runs(type: string): boolean;
  /** The finite list of types `runs` accepts, or null (or absent) when a group runs every type. */
  readonly types?: readonly string[] | null;
  /** Whether the queue is held (back-off): no use reading it now. */
  held(wiki: string, type: string): boolean;
  /** Time to walk the whole set once (ms). */
  readonly reconcileMs: number;
  /** Whether pushes on this partition are being reported right now. */
  readonly watching: boolean;
  /** Wall clock, ms. */
  readonly now: number;
}

interface Known {
  type: string;
  domain: string;
  wiki: string;
  ready: number;
  /** When it was last read, or found held (ms). */
  readAt: number;
  /** What poll() lists for it, rebuilt only when it changes (no garbage per poll). */
  listed: ReadyQueue;
}

export interface TrackerStats {
  readonly known: number;
  readonly reconcileCycles: number;
  readonly lastReconcileMs: number | null;
  readonly malformed: number;
}

export class PartitionReadyTracker {
  private readonly known = new Map<string, Known>();
  /** Prefixes to read at the next poll (pushed, dispatched, or newly found). */
  private readonly dirty = new Map<string, { type: string; domain: string; wiki: string }>();
  private cursor = '0';
  /** The walk's MATCH patterns (one pass of the set each; null: unfiltered) and the current one. */
  private patterns: readonly (string | null)[] = [null];
  private patternsKey = '';
  private patternIndex = 0;
  private credit = 0;
  private lastPollAt: number | null = null;
  private cycleStartedAt: number | null = null;
  private cycles = 0;
  private lastCycleMs: number | null = null;
  private malformed = 0;
  /** Pushes may have been missed before or during this walk: walk at the fast pace. */
  private missed = true;
  /** …and during this walk, so the next one must be fast as well (it may have passed the queue). */
  private missedDuringWalk = true;

  constructor(
    readonly partition: string,
    private readonly client: Redis,
    /** Time to walk the set once after pushes may have been missed (ms). */
    private readonly fastReconcileMs: () => number,
  ) {}

  /** A push to the ready list `key` (…:l-unclaimed). */
  notePush(key: string, runs: (type: string) => boolean): void {
    const parsed = parseQueueKeyName(key);
    if (parsed === null || parsed.prop !== 'l-unclaimed' || !runs(parsed.type)) return;
    const known = this.known.get(parsed.prefix);
    if (known) {
      this.dirty.set(parsed.prefix, known);
      return;
    }
    if (this.known.size + this.dirty.size >= MAX_KNOWN) return;
    // Known only by its key: the wiki ID stands in for the domain until reconciliation reads the
    // set member (they are the same string for every wiki without a table prefix).
    this.dirty.set(parsed.prefix, { type: parsed.type, domain: parsed.wiki, wiki: parsed.wiki });
  }

  /** A dispatch of the queue ended; `drained` when MediaWiki said none-ready. */
  noteFinished(queue: { type: string; domain: string; wiki: string }, drained: boolean): void {
    const prefix = queueKeyPrefix(queue.type, queue.domain);
    if (drained) {
      this.known.delete(prefix);
      this.dirty.delete(prefix);
    } else {
      this.dirty.set(prefix, this.known.get(prefix) ?? queue);
    }
  }

  /**
   * Pushes may have been missed (just subscribed, reconnected, flags restored): this walk and the
   * next run at the fast pace, so a missed push is seen within two fast walks.
   */
  noteGap(): void {
    this.missed = true;
    this.missedDuringWalk = true;
  }

  stats(): TrackerStats {
    return {
      known: this.known.size,
      reconcileCycles: this.cycles,
      lastReconcileMs: this.lastCycleMs,
      malformed: this.malformed,
    };
  }

  /** One poll: reads what changed and a reconciliation slice; returns the ready queues known. */
  async poll(ask: PollAsk): Promise<ReadyQueue[]> {
    await this.reconcileSlice(ask);
    const reads: [string, { type: string; domain: string; wiki: string }][] = [];
    for (const [prefix, queue] of this.dirty) {
      if (reads.length >= MAX_READS_PER_POLL) break;
      reads.push([prefix, queue]);
    }
    for (const [prefix] of reads) this.dirty.delete(prefix);
    const readNow = new Set(reads.map(([prefix]) => prefix));
    for (const [prefix, k] of this.known) {
      if (reads.length >= MAX_READS_PER_POLL) break;
      if (ask.now - k.readAt < REFRESH_MS || readNow.has(prefix)) continue;
      if (!ask.runs(k.type) || ask.held(k.wiki, k.type)) {
        k.readAt = ask.now; // looked at: ask again after REFRESH_MS, not at every poll
        continue;
      }
      reads.push([prefix, k]);
    }
    if (reads.length > 0) {
      const pipeline = this.client.pipeline();
      for (const [prefix] of reads) pipeline.llen(`${prefix}:l-unclaimed`);
      const replies = (await pipeline.exec()) ?? [];
      reads.forEach(([prefix, queue], i) => {
        const [error, value] = replies[i] ?? [new Error('missing reply'), null];
        if (error) throw error;
        const ready = Number(value);
        if (ready > 0) {
          const before = this.known.get(prefix);
          const { type, domain, wiki } = queue;
          const listed =
            before && before.ready === ready && before.domain === domain
              ? before.listed
              : { type, domain, wiki, partition: this.partition, ready };
          this.known.set(prefix, { type, domain, wiki, ready, readAt: ask.now, listed });
        } else {
          this.known.delete(prefix);
        }
      });
    }
    // Asked once per type, not once per known queue (thousands of queues, a few types).
    const runs = new Map<string, boolean>();
    const out: ReadyQueue[] = [];
    for (const k of this.known.values()) {
      let run = runs.get(k.type);
      if (run === undefined) runs.set(k.type, (run = ask.runs(k.type)));
      if (run) out.push(k.listed);
    }
    return out;
  }

  /** Walks the next part of s-queuesWithJobs, paced so the whole set is seen once per period. */
  private async reconcileSlice(ask: PollAsk): Promise<void> {
    const elapsed = this.lastPollAt === null ? Infinity : Math.max(0, ask.now - this.lastPollAt);
    this.lastPollAt = ask.now;
    if (!ask.watching) this.noteGap();
    this.usePatterns(walkPatterns(ask.types ?? null));
    if (this.patterns.length === 0) return;
    const fast = this.missed;
    const period = Math.max(1, fast ? Math.min(ask.reconcileMs, this.fastReconcileMs()) : ask.reconcileMs);
    // With MATCH every pattern is a pass over the whole set: Redis examines `total` per pattern.
    const total = (await this.client.scard(QUEUES_WITH_JOBS_KEY)) * this.patterns.length;
    if (total === 0) {
      this.credit = 0;
      return;
    }
    // The first poll reads a first page at once; the rest follows at the (fast) pace.
    const earned = elapsed === Infinity ? Math.min(MIN_PAGE, total) : (total * elapsed) / period;
    this.credit = Math.min(total, this.credit + earned);
    if (this.credit < Math.min(MIN_PAGE, total)) return;
    let budget = Math.ceil(this.credit);
    this.credit = 0;
    this.cycleStartedAt ??= ask.now;
    while (budget > 0) {
      const pattern = this.patterns[this.patternIndex] ?? null;
      const count = Math.min(budget, pattern === null ? MAX_PAGE : MAX_PAGE_MATCHED);
      const [cursor, members] =
        pattern === null
          ? await this.client.sscan(QUEUES_WITH_JOBS_KEY, this.cursor, 'COUNT', count)
          : await this.client.sscan(QUEUES_WITH_JOBS_KEY, this.cursor, 'MATCH', pattern, 'COUNT', count);
      // Filtered pages come back short or empty, but Redis examined about `count` members.
      budget -= pattern === null ? Math.max(1, members.length) : count;
      this.cursor = cursor;
      for (const member of members) this.consider(member, ask);
      if (cursor !== '0') continue;
      this.patternIndex += 1;
      if (this.patternIndex < this.patterns.length) continue;
      this.patternIndex = 0;
      this.cycles += 1;
      this.lastCycleMs = ask.now - this.cycleStartedAt;
      this.cycleStartedAt = null;
      this.missed = this.missedDuringWalk;
      this.missedDuringWalk = !ask.watching;
      break;
    }
  }

  /** A new set of patterns (first poll, groups reloaded) starts a new walk at the fast pace. */
  private usePatterns(patterns: readonly (string | null)[]): void {
    const key = JSON.stringify(patterns);
    if (key === this.patternsKey) return;
    if (this.patternsKey !== '') {
      this.cursor = '0';
      this.patternIndex = 0;
      this.cycleStartedAt = null;
      this.noteGap(); // queues of newly run types were skipped so far
    }
    this.patterns = patterns;
    this.patternsKey = key;
  }

  private consider(member: string, ask: PollAsk): void {
    // Most members are plain ASCII pairs: read the type without decoding the JSON, so queues of
    // types no group runs cost a regexp and no allocation beyond it.
    const plainType = PLAIN_TYPE.exec(member)?.[1];
    if (plainType !== undefined && !ask.runs(plainType)) return;
    const queue = parseQueueId(member);
    if (queue === null) {
      this.malformed += 1;
      return;
    }
    if (!ask.runs(queue.type)) return;
    const prefix = queueKeyPrefix(queue.type, queue.domain);
    const wiki = wikiIdFromDomain(queue.domain);
    const known = this.known.get(prefix);
    if (known) {
      if (known.domain !== queue.domain) {
        // The set member is the authority on the domain.
        known.domain = queue.domain;
        known.listed = { ...known.listed, domain: queue.domain };
      }
      return;
    }
    if (this.known.size + this.dirty.size >= MAX_KNOWN) return;
    this.dirty.set(prefix, { type: queue.type, domain: queue.domain, wiki });
  }
}
