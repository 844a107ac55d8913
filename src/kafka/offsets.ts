// Per-partition offset bookkeeping for out-of-order completion with in-order commits: events finish
// in any order, but the committed offset only moves past an event once it and every earlier event
// of the partition are finished. A crash then re-reads at most the events that were in flight.
// The book holds only the partitions the consumer owns: one that moves to another group member is
// dropped, so its offsets are never committed from here again and, should it come back, it starts
// afresh from the group's committed offset.

export type AcceptResult = 'new' | 'seen' | 'reset';

export class PartitionOffsets {
  /** Offsets handed out, ascending; entries before `head` are finished. */
  private order: bigint[] = [];
  private head = 0;
  private readonly finished = new Set<bigint>();
  private highest: bigint | undefined;
  private lowest: bigint | undefined;
  /** Last offset committed (the next offset a restarted consumer reads). */
  committed: bigint | undefined;
  /**
   * Set once the partition moved to another group member: its events that have not started running
   * are given up (the new owner reads them from the committed offset). Read on the hot path as the
   * event's lease, so it is a plain field.
   */
  lost = false;
  /**
   * What was committed from here when the consumer last (re)joined its group: after a join the
   * client fetches a partition again from the group's committed offset as it was then, while this
   * consumer may have committed further since; offsets from there on are deliveries again, not a
   * reset.
   */
  private refetchFloor: bigint | undefined;

  /**
   * Registers an offset delivered by the consumer. 'seen': delivered again after a reconnect and
   * already handled or in flight here, so skip it. 'reset': below what was committed (topic recreated
   * or offsets reset by an operator), so the old state is dropped and the offset is new.
   */
  accept(offset: bigint): AcceptResult {
    let result: AcceptResult = 'new';
    if (this.highest !== undefined) {
      const floor = this.committed ?? this.lowest ?? offset;
      if (offset < floor && (this.refetchFloor === undefined || offset < this.refetchFloor)) {
        this.clear();
        result = 'reset';
      } else if (offset <= this.highest) {
        return 'seen';
      }
    }
    this.order.push(offset);
    this.highest = offset;
    this.lowest ??= offset;
    return result;
  }

  /** The consumer (re)joined its group and keeps this partition (see refetchFloor). */
  rejoined(): void {
    this.refetchFloor = this.committed ?? this.lowest;
  }

  finish(offset: bigint): void {
    if (this.highest === undefined || offset > this.highest) return; // from before a reset
    this.finished.add(offset);
    while (this.head < this.order.length) {
      const next = this.order[this.head] as bigint;
      if (!this.finished.has(next)) break;
      this.finished.delete(next);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Events delivered and not yet finished. */
  get pending(): number {
    return this.order.length - this.head;
  }

  /** The offset to commit now (first unfinished, or one past the last delivered), if any. */
  committable(): bigint | undefined {
    if (this.highest === undefined) return undefined;
    const first = this.order[this.head];
    return first ?? this.highest + 1n;
  }

  /** The committable offset when it is ahead of what was committed. */
  commitDue(): bigint | undefined {
    const next = this.committable();
    if (next === undefined) return undefined;
    return this.committed === undefined || next > this.committed ? next : undefined;
  }

  private clear(): void {
    this.order = [];
    this.head = 0;
    this.finished.clear();
    this.highest = undefined;
    this.lowest = undefined;
    this.committed = undefined;
    this.refetchFloor = undefined;
  }
}

/** A partition the consumer owned and lost to another group member. */
export interface LostPartition {
  readonly topic: string;
  readonly partition: number;
  /** Events delivered and not finished when it was lost. */
  readonly pending: number;
  /** Whether its events not yet running are given up (see OffsetBook.reassign). */
  readonly handedOver: boolean;
}

/** The assignment as the consumer reports it. */
export interface Assignment {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** Offsets of every partition the consumer owns, keyed "topic:partition". */
export class OffsetBook {
  private readonly partitions = new Map<
    string,
    { topic: string; partition: number; offsets: PartitionOffsets }
  >();

  /**
   * The last partition looked up: a fetch delivers its events partition by partition, so most
   * lookups (one per event) find it here without building the key string.
   */
  private last: { topic: string; partition: number; offsets: PartitionOffsets } | undefined;

  /** The partition's offsets, or undefined when the consumer does not own it (any more). */
  owned(topic: string, partition: number): PartitionOffsets | undefined {
    const last = this.last;
    if (last !== undefined && last.partition === partition && last.topic === topic) return last.offsets;
    const entry = this.partitions.get(`${topic}:${partition}`);
    this.last = entry;
    return entry?.offsets;
  }

  /**
   * Follows a new assignment: partitions gained start empty, partitions kept keep their state
   * (events in flight are not run twice when the consumer fetches them again), partitions lost are
   * dropped and marked lost, so their events not yet running are given up: the new owner reads them
   * from the group's committed offset. Except, with `uncommittedStay`, a partition never committed
   * from here: the group may have no offset for it, and a new owner starting from the latest offset
   * would never see them, so they run here as they would have.
   */
  reassign(assignments: readonly Assignment[], uncommittedStay = false): LostPartition[] {
    this.last = undefined;
    const assigned = new Set<string>();
    for (const { topic, partitions } of assignments) {
      for (const partition of partitions) {
        const key = `${topic}:${partition}`;
        assigned.add(key);
        const kept = this.partitions.get(key);
        if (kept !== undefined) kept.offsets.rejoined();
        else this.partitions.set(key, { topic, partition, offsets: new PartitionOffsets() });
      }
    }
    const lost: LostPartition[] = [];
    for (const [key, { topic, partition, offsets }] of this.partitions) {
      if (assigned.has(key)) continue;
      offsets.lost = !(uncommittedStay && offsets.committed === undefined);
      this.partitions.delete(key);
      lost.push({ topic, partition, pending: offsets.pending, handedOver: offsets.lost });
    }
    return lost;
  }

  *entries(): IterableIterator<{ topic: string; partition: number; offsets: PartitionOffsets }> {
    yield* this.partitions.values();
  }

  get pending(): number {
    let total = 0;
    for (const { offsets } of this.partitions.values()) total += offsets.pending;
    return total;
  }
}
