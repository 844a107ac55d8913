// A group's high/low time-share (original §5.2 step 4.1): "high" mode leaves the group's
// low-priority types out for up to highPriorityMaxSeconds, "low" mode runs every type for up to
// lowPriorityMaxSeconds. Unlike the original, an empty queue does not flip the mode back and forth
// (B4): the scheduler switches early only from high to low, and only when high has nothing to run
// while low has something.

export type PriorityMode = 'high' | 'low';

export interface PriorityTimes {
  readonly highPriorityMaxSeconds: number;
  readonly lowPriorityMaxSeconds: number;
}

export type PriorityChangeReason = 'time-share' | 'nothing-in-high';

export class PriorityState {
  private currentMode: PriorityMode;
  private sinceMs: number;

  constructor(startHigh: boolean, now: number) {
    this.currentMode = startHigh ? 'high' : 'low';
    this.sinceMs = now;
  }

  get mode(): PriorityMode {
    return this.currentMode;
  }

  get since(): number {
    return this.sinceMs;
  }

  /** Applies the time share; returns true when the mode changed. */
  tick(now: number, times: PriorityTimes): boolean {
    const limitMs =
      (this.currentMode === 'high' ? times.highPriorityMaxSeconds : times.lowPriorityMaxSeconds) * 1000;
    if (now - this.sinceMs <= limitMs) return false;
    this.switchTo(this.currentMode === 'high' ? 'low' : 'high', now);
    return true;
  }

  switchTo(mode: PriorityMode, now: number): void {
    this.currentMode = mode;
    this.sinceMs = now;
  }
}
