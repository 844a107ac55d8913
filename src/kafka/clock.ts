// "Now" for every time-based decision of the Kafka runner (delayed events, retry delays, delay
// metrics), so tests can move time forward without waiting.
import type { Clock } from '../runner/clock.js';

export type { Clock } from '../runner/clock.js';
export { systemClock } from '../runner/clock.js';

/** The system clock plus an offset that tests (or an operator's dry run) can change at any time. */
export class OffsetClock implements Clock {
  offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
