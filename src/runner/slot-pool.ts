// The runner's slots, per group. A slot holds at most one dispatch and is free again only once
// that dispatch's promise has resolved (the child is reaped; the original's W1 reused it early).
// Reloads resize groups: extra slots are added at once, surplus free slots go at once, surplus
// busy slots "retire" (finish their child, then disappear). A group may have extra slots beyond
// its runners (indices runners…, the fair policy's burst slots); the scheduler says when they run.
import type { GroupConfig } from '../config/types.js';

export interface Slot<A> {
  readonly index: number;
  active: A | null;
  retiring: boolean;
}

export interface SlotGroup<A> {
  readonly name: string;
  /** Null once a reload removed the group; it lingers until its last child finishes. */
  config: GroupConfig | null;
  readonly slots: Slot<A>[];
}

export class SlotPool<A> {
  private groupList: SlotGroup<A>[] = [];

  constructor(
    groups: readonly GroupConfig[],
    private readonly extraSlots: (group: string) => number = () => 0,
  ) {
    this.resize(groups);
  }

  get groups(): readonly SlotGroup<A>[] {
    return this.groupList;
  }

  /** Applies a new group list; groups are matched by name. */
  resize(groups: readonly GroupConfig[]): void {
    const byName = new Map(this.groupList.map((g) => [g.name, g]));
    const next: SlotGroup<A>[] = [];
    for (const config of groups) {
      const group = byName.get(config.name) ?? { name: config.name, config, slots: [] };
      byName.delete(config.name);
      group.config = config;
      const runners = Math.max(0, config.runners);
      // Runners first, as if there were no extra slots (surplus busy slots retire, as a shrink
      // should), then the extra slots on top: free ones are simply made again.
      setSlotCount(group, runners);
      if (runners > 0) addSlots(group, this.extraSlots(config.name));
      if (group.slots.length > 0 || config.runners > 0) next.push(group);
    }
    for (const removed of byName.values()) {
      removed.config = null;
      setSlotCount(removed, 0);
      if (removed.slots.length > 0) next.push(removed);
    }
    this.groupList = next;
  }

  /** Frees a slot after its dispatch resolved; drops it (and an empty removed group) if retiring. */
  release(group: SlotGroup<A>, slot: Slot<A>): void {
    slot.active = null;
    if (!slot.retiring) return;
    const at = group.slots.indexOf(slot);
    if (at >= 0) group.slots.splice(at, 1);
    if (group.slots.length === 0 && group.config === null) {
      this.groupList = this.groupList.filter((g) => g !== group);
    }
  }

  *busySlots(): IterableIterator<{ group: SlotGroup<A>; slot: Slot<A>; active: A }> {
    for (const group of this.groupList) {
      for (const slot of group.slots) if (slot.active !== null) yield { group, slot, active: slot.active };
    }
  }
}

function setSlotCount<A>(group: SlotGroup<A>, target: number): void {
  let live = group.slots.filter((s) => !s.retiring).length;
  // Grow: first take back retiring slots (still busy), then add new ones.
  for (const slot of group.slots) {
    if (live >= target) break;
    if (slot.retiring) {
      slot.retiring = false;
      live++;
    }
  }
  while (live < target) {
    group.slots.push({ index: smallestFreeIndex(group), active: null, retiring: false });
    live++;
  }
  group.slots.sort((a, b) => a.index - b.index);
  if (live <= target) return;
  // Shrink: free slots go first, then busy ones from the end retire.
  for (let i = group.slots.length - 1; i >= 0 && live > target; i--) {
    const slot = group.slots[i] as Slot<unknown>;
    if (!slot.retiring && slot.active === null) {
      group.slots.splice(i, 1);
      live--;
    }
  }
  for (let i = group.slots.length - 1; i >= 0 && live > target; i--) {
    const slot = group.slots[i] as Slot<unknown>;
    if (!slot.retiring) {
      slot.retiring = true;
      live--;
    }
  }
}

function addSlots<A>(group: SlotGroup<A>, count: number): void {
  for (let i = 0; i < count; i++)
    group.slots.push({ index: smallestFreeIndex(group), active: null, retiring: false });
  group.slots.sort((a, b) => a.index - b.index);
}

function smallestFreeIndex<A>(group: SlotGroup<A>): number {
  const used = new Set(group.slots.map((s) => s.index));
  let index = 0;
  while (used.has(index)) index++;
  return index;
}
