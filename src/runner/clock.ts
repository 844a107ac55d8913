// Time source for the runner. Scheduling decisions take "now" from here so unit tests can drive the
// scheduler with a fake clock; timers (discovery polls) still use the real event loop.

export interface Clock {
  /** Milliseconds since the UNIX epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
