// The discovery timer: runs one poll at a time, each starting `interval()` ms after the previous
// one started (or right after it ended when a poll took longer). Polls never overlap, and wake()
// never starts one sooner than `minGap()` after the previous start, so however many pushes wake
// it, there are at most 1000 / minGap polls a second (and the runner only wakes for pushes it
// could act on: see Scheduler.wantsPush).
import type { Logger } from '../observability/logger.js';

/** Poll interval while idle without push notifications: new work is noticed within this (ms). */
export const IDLE_INTERVAL_MS = 100;
/** After the last sign of work, keep polling at the busy interval this long (ms). */
export const ACTIVE_LINGER_MS = 2000;
/**
 * Wake-ups (pushes of work this runner could start) may poll this soon after the previous poll
 * (ms; discoveryIntervalMs instead when that is smaller).
 */
export const WAKE_MIN_GAP_MS = 10;

export interface PollTiming {
  /** runner.discoveryIntervalMs: the interval while there is work. */
  readonly busyMs: number;
  /** runner.idleDiscoveryIntervalMs: the fallback while idle and woken by pushes. */
  readonly idleMs: number;
  readonly msSinceWork: number;
  /** Every partition reports its pushes, so a long idle interval misses nothing. */
  readonly pushesWatched: boolean;
}

/**
 * While pushes wake the runner (a slot is free and every partition reports its pushes), polling
 * fast would only repeat what the wake-ups already say: the slow fallback, busy or not. Otherwise
 * busy: the configured interval; idle: IDLE_INTERVAL_MS (never faster than configured), so new
 * work is still seen within 100 ms.
 */
export function pollInterval(t: PollTiming): number {
  if (t.pushesWatched) return Math.max(t.busyMs, t.idleMs);
  if (t.msSinceWork < ACTIVE_LINGER_MS) return t.busyMs;
  return Math.max(t.busyMs, IDLE_INTERVAL_MS);
}

export class DiscoveryLoop {
  private timer: NodeJS.Timeout | null = null;
  private timerDueAt = Infinity;
  private inFlight: Promise<void> | null = null;
  private lastStartedAt = -Infinity;
  private wokenDuringPoll = false;
  private running = false;

  constructor(
    private readonly poll: () => Promise<void>,
    private readonly interval: () => number,
    private readonly minGap: () => number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the timer and waits for a poll in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.clearTimer();
    await this.inFlight;
  }

  /** Poll as soon as the minimum gap since the last poll allows (coalesces bursts of wakes). */
  wake(): void {
    if (!this.running) return;
    if (this.inFlight) {
      this.wokenDuringPoll = true;
      return;
    }
    const delay = Math.max(0, this.lastStartedAt + this.minGap() - Date.now());
    if (this.timer && this.timerDueAt <= Date.now() + delay) return;
    this.schedule(delay);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = Infinity;
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    if (!this.running) return;
    const delay = Math.max(0, delayMs);
    this.timerDueAt = Date.now() + delay;
    this.timer = setTimeout(() => this.run(), delay);
  }

  private run(): void {
    this.timer = null;
    this.timerDueAt = Infinity;
    const startedAt = Date.now();
    this.lastStartedAt = startedAt;
    this.inFlight = this.poll()
      .catch((error: unknown) => {
        // poll() handles its own errors; this is a last line of defence that keeps the loop alive.
        this.logger.error('discovery poll failed unexpectedly', { error: errorText(error) });
      })
      .finally(() => {
        this.inFlight = null;
        const next = this.wokenDuringPoll ? this.minGap() : this.interval();
        this.wokenDuringPoll = false;
        this.schedule(next - (Date.now() - startedAt));
      });
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
