// Virtual time by slot-time, the bookkeeping of fair queuing: every member (a wiki, or a queue of a
// wiki) has a tag = slot-time it used / its weight. The member with the smallest tag goes next.
//
// - A dispatch counts while it runs: at least its planned length (its maxtime), more once it
//   overruns, so a member with children running is not also first in line for the next slot.
// - The floor is the tag of the last member chosen (monotonic). A member that was away (queue
//   empty, or never seen) comes back at the floor, not below it: being idle earns no credit, and
//   forgetting a member's state (to bound memory) gives it nothing it would not have got anyway.
//   This is what the least-recently-served rule got wrong (issue 14): it let a member that comes
//   and goes overtake one that waits all along.
// - A member's lead over the floor stays small without a cap: while a member runs alone, every
//   pick moves the floor to its own tag, so it owes at most the dispatches it has running.

/** One dispatch being charged to a member. */
interface Running {
  readonly member: string;
  readonly startedAt: number;
  readonly plannedMs: number;
  readonly weight: number;
}

/** Members kept at most; past this the ones nearest the floor are dropped (they lose little). */
const MAX_MEMBERS = 200_000;

export class VirtualClock {
  private readonly used = new Map<string, number>();
  private readonly running = new Map<object, Running>();
  private readonly runningByMember = new Map<string, Set<object>>();
  private floorTag = 0;

  get floor(): number {
    return this.floorTag;
  }

  /** The member's tag at `now` (ms of slot-time per unit of weight). */
  tag(member: string, weight: number, now: number): number {
    let tag = Math.max(this.used.get(member) ?? this.floorTag, this.floorTag);
    for (const token of this.runningByMember.get(member) ?? []) {
      const r = this.running.get(token);
      if (r) tag += Math.max(now - r.startedAt, r.plannedMs) / r.weight;
    }
    return tag;
  }

  /** The member was chosen at this tag: the floor follows it. */
  chose(tag: number): void {
    if (tag > this.floorTag) this.floorTag = tag;
  }

  /** Starts charging `token`'s dispatch to `member`. */
  start(token: object, member: string, weight: number, now: number, plannedMs: number): void {
    this.used.set(member, Math.max(this.used.get(member) ?? this.floorTag, this.floorTag));
    this.running.set(token, { member, startedAt: now, plannedMs, weight });
    let set = this.runningByMember.get(member);
    if (!set) this.runningByMember.set(member, (set = new Set()));
    set.add(token);
  }

  /** Ends `token`'s dispatch: the member is charged the slot-time it really held. */
  finish(token: object, now: number): void {
    const r = this.running.get(token);
    if (!r) return;
    this.running.delete(token);
    const set = this.runningByMember.get(r.member);
    set?.delete(token);
    if (set?.size === 0) this.runningByMember.delete(r.member);
    const base = Math.max(this.used.get(r.member) ?? this.floorTag, this.floorTag);
    this.used.set(r.member, base + Math.max(0, now - r.startedAt) / r.weight);
  }

  isRunning(member: string): boolean {
    return this.runningByMember.has(member);
  }

  /** Slot-time per weight charged so far beyond the floor (tests, status). */
  lead(member: string): number {
    return Math.max(0, (this.used.get(member) ?? this.floorTag) - this.floorTag);
  }

  /**
   * Drops members that are not active and have no lead over the floor: they would come back at
   * the floor anyway, so nothing changes. Members with a lead are kept until the floor passes
   * them, unless there are more than MAX_MEMBERS.
   */
  forget(isActive: (member: string) => boolean): void {
    for (const [member, used] of this.used) {
      if (used <= this.floorTag && !this.runningByMember.has(member) && !isActive(member)) {
        this.used.delete(member);
      }
    }
    if (this.used.size <= MAX_MEMBERS) return;
    const idle = [...this.used].filter(([m]) => !this.runningByMember.has(m) && !isActive(m));
    idle.sort((a, b) => a[1] - b[1]);
    for (const [member] of idle.slice(0, this.used.size - MAX_MEMBERS)) this.used.delete(member);
  }

  get size(): number {
    return this.used.size;
  }
}
