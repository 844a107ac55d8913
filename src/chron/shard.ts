// How jobchron instances share partitions without talking to each other: every instance announces
// itself on the partitions (lease-heartbeat), so each knows how many are alive and takes at most its
// fair share, ceil(partitions / instances). Which partitions an instance prefers comes from
// rendezvous hashing of (instance, partition), so different instances reach for different partitions
// first and, once balanced, the assignment is stable.
import { createHash } from 'node:crypto';

export function fairShare(partitions: number, liveInstances: number): number {
  return Math.ceil(partitions / Math.max(1, liveInstances));
}

/** Rendezvous weight of a partition for an instance (higher = preferred). */
export function affinity(instanceId: string, partition: string): number {
  return createHash('sha1').update(`${instanceId}\n${partition}`).digest().readUInt32BE(0);
}

export interface LeasePlanInput {
  readonly instanceId: string;
  /** Every configured partition. */
  readonly partitions: readonly string[];
  /** Partitions whose lease this instance holds now. */
  readonly held: ReadonlySet<string>;
  /** Partitions known to be leased by another instance right now (skip trying them). */
  readonly heldElsewhere: ReadonlySet<string>;
  /** Partitions that are busy or backing off: leave them alone this round. */
  readonly untouchable: ReadonlySet<string>;
  /** Live jobchron instances, this one included. */
  readonly liveInstances: number;
}

export interface LeasePlan {
  readonly target: number;
  /** Held partitions to give up (over the fair share), least preferred first. */
  readonly release: string[];
  /** Free partitions to try to take, most preferred first. */
  readonly acquire: string[];
}

export function planLeases(input: LeasePlanInput): LeasePlan {
  const target = fairShare(input.partitions.length, input.liveInstances);
  const byPreference = (a: string, b: string) =>
    affinity(input.instanceId, b) - affinity(input.instanceId, a) || (a < b ? -1 : a > b ? 1 : 0);
  const held = input.partitions.filter((p) => input.held.has(p));
  const release: string[] = [];
  if (held.length > target) {
    const releasable = held
      .filter((p) => !input.untouchable.has(p))
      .sort(byPreference)
      .reverse();
    release.push(...releasable.slice(0, held.length - target));
  }
  const acquire: string[] = [];
  if (held.length < target) {
    const free = input.partitions
      .filter((p) => !input.held.has(p) && !input.heldElsewhere.has(p) && !input.untouchable.has(p))
      .sort(byPreference);
    acquire.push(...free.slice(0, target - held.length));
  }
  return { target, release, acquire };
}
