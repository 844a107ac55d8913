// What a running jobchron reports about itself (status server, tests, logs). getStats() hands out
// copies, so readers can never disturb the daemon's own bookkeeping.

export interface JobCounts {
  recycled: number;
  abandoned: number;
  undelayed: number;
  pruned: number;
}

export interface PartitionStats {
  /** Address as written in the config. */
  readonly name: string;
  readonly leaseHeld: boolean;
  /** Fencing number of the held lease. */
  readonly fence: string | null;
  /** Instance holding the lease when it is not us, as last seen. */
  readonly heldBy: string | null;
  /** Last failure, null once a pass succeeded again. */
  readonly lastError: string | null;
  readonly failingSince: number | null;
  /** Wall-clock ms of the end of the last completed pass over this partition. */
  readonly lastPassAt: number | null;
  readonly lastPassMs: number | null;
  /** Queues visited by the last pass. */
  readonly lastPassQueues: number;
  readonly passes: number;
  /** Members of s-queuesWithJobs that were not JSON [type, domain] pairs, seen by the last pass. */
  readonly malformedMembers: number;
  /** Such members moved to jobrunner:chron:s-queuesQuarantined by this instance (since start). */
  readonly quarantined: number;
  /** Queues whose upkeep step failed with a Redis error in the last pass. */
  readonly failedQueues: number;
  /** Queues in the due-time index (something in them falls due before the walk comes back). */
  readonly dueQueues: number;
  /** Whether change notifications are being received (lease holder only). */
  readonly watchingChanges: boolean;
  /** Times change notifications may have been missed (subscription gaps, flags lost, overflow). */
  readonly changeGaps: number;
  /** The paced walk: its number, queues visited so far in it, and how long the last one took. */
  readonly walk: { readonly cycle: number; readonly visited: number; readonly lastWalkMs: number | null };
}

export interface ChronStats extends JobCounts {
  readonly instanceId: string;
  /** Wall-clock ms when start() was called, null when never started. */
  readonly startedAt: number | null;
  readonly running: boolean;
  /** Completed rounds (one every intervalMs; each maintains the partitions this instance holds). */
  readonly passes: number;
  readonly failedPasses: number;
  readonly lastPassMs: number | null;
  readonly lastPassAt: number | null;
  /** Live jobchron instances seen on the partitions (this one included). */
  readonly liveInstances: number;
  /** Fair share of partitions per instance. */
  readonly targetPartitions: number;
  readonly failingAggregators: readonly string[];
  readonly partitions: readonly PartitionStats[];
}

export function emptyJobCounts(): JobCounts {
  return { recycled: 0, abandoned: 0, undelayed: 0, pruned: 0 };
}

export function addJobCounts(into: JobCounts, from: JobCounts): void {
  into.recycled += from.recycled;
  into.abandoned += from.abandoned;
  into.undelayed += from.undelayed;
  into.pruned += from.pruned;
}

export function totalJobs(counts: JobCounts): number {
  return counts.recycled + counts.abandoned + counts.undelayed + counts.pruned;
}
