// The paced walk: jobchron's safety net. Each round visits a slice of the queues listed in
// s-queuesWithJobs and in our abandoned set, resuming an SSCAN cursor kept between rounds, sized so
// the whole partition is covered once per chron.fullWalkSeconds: a steady trickle, never a burst.
// Whatever change notifications missed (a restart, a dropped subscriber, flags turned off, a
// partition coming back) is therefore seen within one walk.
import type { Redis } from 'ioredis';
import { QUEUES_WITH_JOBS_KEY } from '../mediawiki/queue-keys.js';
import { QUEUES_WITH_ABANDONED_KEY } from './keys.js';

/** A small partition is walked whole every round, like the chron always did. */
export const MIN_WALK_PER_ROUND = 20;

const SETS = [QUEUES_WITH_JOBS_KEY, QUEUES_WITH_ABANDONED_KEY] as const;
export type WalkedSet = (typeof SETS)[number];

export interface WalkSlice {
  readonly members: readonly { readonly member: string; readonly set: WalkedSet }[];
  /** The slice ended a walk over both sets. */
  readonly cycleDone: boolean;
  /** Number of the walk the slice belongs to. */
  readonly cycle: number;
  /** Members of both sets when the round started. */
  readonly total: number;
}

/** Queues a round visits so that `total` queues are all visited within `fullWalkSeconds`. */
export function walkQuota(total: number, intervalMs: number, fullWalkSeconds: number): number {
  const rounds = Math.max(1, (fullWalkSeconds * 1000) / Math.max(1, intervalMs));
  return Math.max(MIN_WALK_PER_ROUND, Math.ceil(total / rounds));
}

export class PacedWalk {
  private setIndex = 0;
  private cursor = '0';
  private cycleNo = 1;
  private cycleStartedAt: number | null = null;
  /** Wall-clock ms the last complete walk took. */
  lastCycleMs: number | null = null;
  visitedInCycle = 0;

  constructor(private readonly redis: Redis) {}

  get cycle(): number {
    return this.cycleNo;
  }

  /** Starts over (a new lease holder knows nothing of the previous one's progress). */
  reset(): void {
    this.setIndex = 0;
    this.cursor = '0';
    this.cycleNo += 1;
    this.cycleStartedAt = null;
    this.visitedInCycle = 0;
  }

  /** The next slice: at least the round's quota of members, unless the walk ends first. */
  async next(intervalMs: number, fullWalkSeconds: number, scanCount: number): Promise<WalkSlice> {
    const [jobs, abandoned] = (await this.redis
      .pipeline()
      .scard(QUEUES_WITH_JOBS_KEY)
      .scard(QUEUES_WITH_ABANDONED_KEY)
      .exec()) ?? [
      [null, 0],
      [null, 0],
    ];
    const count = (reply: [Error | null, unknown] | undefined): number => {
      if (reply?.[0]) throw reply[0];
      const n = Number(reply?.[1] ?? 0);
      return Number.isFinite(n) ? n : 0;
    };
    const total = count(jobs) + count(abandoned);
    const quota = walkQuota(total, intervalMs, fullWalkSeconds);
    this.cycleStartedAt ??= Date.now();
    const cycle = this.cycleNo;
    const members: { member: string; set: WalkedSet }[] = [];
    let cycleDone = false;
    while (members.length < quota) {
      const set = SETS[this.setIndex] as WalkedSet;
      const count = Math.max(1, Math.min(scanCount, quota - members.length));
      const [cursor, page] = await this.redis.sscan(set, this.cursor, 'COUNT', count);
      for (const member of page) members.push({ member, set });
      this.cursor = cursor;
      if (cursor !== '0') continue;
      this.setIndex += 1;
      if (this.setIndex < SETS.length) continue;
      cycleDone = true;
      this.lastCycleMs = Date.now() - this.cycleStartedAt;
      this.setIndex = 0;
      this.cycleNo += 1;
      this.cycleStartedAt = null;
      break;
    }
    this.visitedInCycle = cycleDone ? 0 : this.visitedInCycle + members.length;
    return { members, cycleDone, cycle, total };
  }
}
