// The runner's picture of which (wiki, type) queues have ready jobs, from every discovery poll.
// Partitions are tracked separately so one failing partition does not blank the others: its last
// good listing is kept for a short while (marked stale), then dropped.
//
// Updated in place, by what changed: a poll lists every ready queue a partition knows (10,000 on a
// farm with many failing wikis), but from one poll to the next few entries differ, and the Redis
// tracker hands the same listing object back for an unchanged queue. So a poll costs a lookup per
// listed queue and a rebuild only of the merged entries that changed; times that change on every
// poll (seenAt, stale) are read from the partition when asked, never copied into each queue.
import type { PartitionError, QueueListing, ReadyQueue } from '../backend/types.js';
import { queueKey } from './queue-id.js';

export interface ViewQueue {
  readonly key: string;
  readonly wiki: string;
  readonly domain: string;
  readonly type: string;
  /** Ready jobs summed over the partitions that report this queue. */
  readonly ready: number;
  /** The partitions that report it. */
  readonly partitions: readonly string[];
  /** Start time (ms) of the newest successful poll that reported this queue. */
  readonly seenAt: number;
  /** True when every partition reporting it is a kept-over listing from before an error. */
  readonly stale: boolean;
}

export interface PartitionState {
  readonly partition: string;
  /** Start time of the last poll that read this partition successfully (ms). */
  readonly goodAt: number;
  /** The latest error, if the last poll of this partition failed. */
  readonly error: string | null;
  readonly errorSince: number | null;
}

interface Listed {
  queue: ReadyQueue;
  /** The poll that last listed it. */
  poll: number;
}

interface PartitionEntry {
  readonly name: string;
  goodAt: number;
  /** Its latest good listing by queue key. */
  readonly queues: Map<string, Listed>;
  error: string | null;
  errorSince: number | null;
  /** Its queues are in the merged view (false once stale for longer than the TTL). */
  included: boolean;
  /** The last poll that read it successfully, and whether it was excluded before that read. */
  poll: number;
  rejoined: boolean;
  /** Its last listing in order: a poll listing the same objects in the same order changed nothing. */
  order: ReadyQueue[];
  /** During a poll: how many of `order` it listed again, in order, so far (the fast path)… */
  matched: number;
  /** …or, once it differs, the new order (and the keyed comparison takes over)… */
  next: ReadyQueue[] | null;
  /** …and whether it differed only by queues added after all of the last listing (no sweep). */
  appended: boolean;
}

/** Partition name used when the whole listing call failed and no partition is known by name. */
export const ALL_PARTITIONS = '*';

/** Keys that entered or left the view in one update (the scheduler's indexes follow them). */
export interface ViewChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A merged queue; seenAt and stale follow its partitions without being rewritten each poll. */
class MergedQueue implements ViewQueue {
  constructor(
    readonly key: string,
    readonly wiki: string,
    readonly domain: string,
    readonly type: string,
    readonly ready: number,
    readonly partitions: readonly string[],
    private readonly entries: readonly PartitionEntry[],
  ) {}

  get seenAt(): number {
    let seen = -Infinity;
    for (const e of this.entries) if (e.error === null && e.goodAt > seen) seen = e.goodAt;
    return seen;
  }

  get stale(): boolean {
    for (const e of this.entries) if (e.error === null) return false;
    return true;
  }
}

/** Cached queueKey of a listing object (the tracker reuses unchanged ones from poll to poll). */
const keys = new WeakMap<ReadyQueue, string>();

function keyOf(q: ReadyQueue): string {
  let key = keys.get(q);
  if (key === undefined) keys.set(q, (key = queueKey(q.wiki, q.type)));
  return key;
}

export class ReadyView {
  private readonly partitions = new Map<string, PartitionEntry>();
  private readonly merged = new Map<string, MergedQueue>();
  /** View queues per wiki (whether a wiki still has work here, without a walk of every queue). */
  private readonly perWiki = new Map<string, number>();
  private polls = 0;
  private added: string[] = [];
  private removed: string[] = [];

  constructor(private staleTtlMs: number) {}

  setStaleTtl(ms: number): void {
    this.staleTtlMs = ms;
  }

  /**
   * Applies one poll's listing. Partitions absent from `errors` are taken as read successfully
   * (absent from `queues` too means "no ready queues there"). Returns the keys that entered or
   * left the view.
   */
  update(listing: QueueListing<ReadyQueue>, pollStartedAt: number): ViewChanges {
    this.added = [];
    this.removed = [];
    const poll = ++this.polls;
    const failed = new Map<string, PartitionError>();
    for (const error of listing.errors) failed.set(error.partition, error);
    const wholeCallFailed = failed.has(ALL_PARTITIONS);

    let entry: PartitionEntry | undefined;
    for (const queue of listing.queues) {
      if (!(queue.ready > 0)) continue;
      if (entry?.name !== queue.partition) entry = this.partitions.get(queue.partition);
      if (!entry) {
        entry = this.newEntry(queue.partition, pollStartedAt, null, null);
        this.partitions.set(queue.partition, entry);
      }
      if (entry.poll !== poll) this.readFine(entry, poll, pollStartedAt);
      if (entry.next === null) {
        if (entry.order[entry.matched] === queue) {
          entry.matched += 1;
          continue;
        }
        this.diverged(entry);
      }
      entry.next?.push(queue);
      const key = keyOf(queue);
      const listed = entry.queues.get(key);
      if (!listed) entry.queues.set(key, { queue, poll });
      else listed.poll = poll;
      if (listed?.queue !== queue || entry.rejoined) {
        if (listed) listed.queue = queue;
        this.remerge(key);
      }
    }
    for (const [name, entry] of this.partitions) {
      // (A partition that both listed queues and failed takes the listing, then the error.)
      if ((failed.has(name) || wholeCallFailed) && entry.poll !== poll) continue;
      // Read fine; not listed at all means it holds nothing ready.
      if (entry.poll !== poll) this.readFine(entry, poll, pollStartedAt);
      if (entry.next === null) {
        if (entry.matched === entry.order.length) continue; // the same listing as last time
        this.diverged(entry);
      }
      const appended = entry.appended;
      // The queues listed again before it differed count as listed (for the sweep below).
      if (!appended) for (let i = 0; i < entry.matched; i++) this.listedNow(entry, entry.order[i], poll);
      entry.order = entry.next ?? [];
      entry.next = null;
      if (appended) continue; // every queue of the last listing is listed again
      for (const [key, listed] of entry.queues) {
        if (listed.poll === poll) continue;
        entry.queues.delete(key);
        this.remerge(key);
      }
    }
    for (const [name, error] of failed) {
      const entry = this.partitions.get(name);
      if (entry) {
        entry.error = error.error;
        entry.errorSince ??= pollStartedAt;
      } else if (name !== ALL_PARTITIONS || this.partitions.size === 0) {
        this.partitions.set(name, this.newEntry(name, -Infinity, error.error, pollStartedAt));
      }
      if (name === ALL_PARTITIONS) {
        for (const other of this.partitions.values()) {
          other.error = error.error;
          other.errorSince ??= pollStartedAt;
        }
      }
    }
    for (const [name, entry] of this.partitions) {
      // A kept-over listing is dropped once stale for longer than the TTL.
      if (entry.included && entry.error !== null && pollStartedAt - entry.goodAt > this.staleTtlMs) {
        entry.included = false;
        for (const key of entry.queues.keys()) this.remerge(key);
      }
      // A partition with neither queues nor an error has nothing to remember.
      if (entry.error === null && entry.queues.size === 0) this.partitions.delete(name);
    }
    return { added: this.added, removed: this.removed };
  }

  private newEntry(
    name: string,
    goodAt: number,
    error: string | null,
    errorSince: number | null,
  ): PartitionEntry {
    return {
      name,
      goodAt,
      queues: new Map(),
      error,
      errorSince,
      included: true,
      poll: 0,
      rejoined: false,
      order: [],
      matched: 0,
      next: null,
      appended: false,
    };
  }

  /**
   * The poll's listing of the partition differs from the last one from here on: the rest is
   * compared by key, and unless it only added queues after the whole last listing, the queues it
   * listed again before this point are marked as listed at the end (for the sweep of the gone).
   */
  private diverged(entry: PartitionEntry): void {
    entry.appended = entry.matched === entry.order.length;
    // Appended to: the last order goes on growing (it is replaced by this one at the end anyway).
    entry.next = entry.appended ? entry.order : entry.order.slice(0, entry.matched);
  }

  private listedNow(entry: PartitionEntry, q: ReadyQueue | undefined, poll: number): void {
    const listed = q && entry.queues.get(keyOf(q));
    if (listed) listed.poll = poll;
  }

  /** The partition was read successfully by this poll. */
  private readFine(entry: PartitionEntry, poll: number, goodAt: number): void {
    entry.poll = poll;
    entry.rejoined = !entry.included;
    entry.goodAt = goodAt;
    entry.error = null;
    entry.errorSince = null;
    entry.included = true;
    entry.matched = 0;
    // A partition coming back from exclusion has every queue merged again: no fast path.
    entry.next = entry.rejoined ? [] : null;
    entry.appended = false;
  }

  /** Rebuilds one merged queue from the partitions that list it now. */
  private remerge(key: string): void {
    let first: ReadyQueue | undefined;
    let ready = 0;
    const partitions: string[] = [];
    const entries: PartitionEntry[] = [];
    for (const entry of this.partitions.values()) {
      if (!entry.included) continue;
      const q = entry.queues.get(key)?.queue;
      if (!q) continue;
      first ??= q;
      ready += q.ready;
      partitions.push(entry.name);
      entries.push(entry);
    }
    const had = this.merged.get(key);
    if (!first) {
      if (had) {
        this.merged.delete(key);
        this.countWiki(had.wiki, -1);
        this.removed.push(key);
      }
      return;
    }
    if (had && had.ready === ready && had.domain === first.domain && sameList(had.partitions, partitions)) {
      return;
    }
    this.merged.set(
      key,
      new MergedQueue(key, first.wiki, first.domain, first.type, ready, partitions, entries),
    );
    if (!had) {
      this.countWiki(first.wiki, 1);
      this.added.push(key);
    }
  }

  private countWiki(wiki: string, delta: number): void {
    const n = (this.perWiki.get(wiki) ?? 0) + delta;
    if (n > 0) this.perWiki.set(wiki, n);
    else this.perWiki.delete(wiki);
  }

  get(key: string): ViewQueue | undefined {
    return this.merged.get(key);
  }

  queues(): IterableIterator<ViewQueue> {
    return this.merged.values();
  }

  /** Whether any queue of the wiki is in the view. */
  hasWiki(wiki: string): boolean {
    return this.perWiki.has(wiki);
  }

  get size(): number {
    return this.merged.size;
  }

  partitionStates(): PartitionState[] {
    return [...this.partitions.entries()].map(([partition, e]) => ({
      partition,
      goodAt: e.goodAt,
      error: e.error,
      errorSince: e.errorSince,
    }));
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
