// The discovery timer: runs one poll at a time, each starting `interval()` ms after the previous
// one started (or right after it ended when a poll took longer). Polls never overlap, so the Redis
// cost is at most one listing per partition per interval.
import type { Logger } from '../observability/logger.js';

/** Poll interval while idle: new work is still noticed within this (ms). */
export const IDLE_INTERVAL_MS = 100;
/** After the last sign of work, keep polling at the busy interval this long (ms). */
export const ACTIVE_LINGER_MS = 2000;

/**
 * The busy interval is the configured one; when idle it relaxes to IDLE_INTERVAL_MS (never faster
 * than configured), halving idle Redis load at the default 50 ms while keeping notice ≤ 100 ms.
 */
export function pollInterval(configuredMs: number, msSinceWork: number): number {
  if (msSinceWork < ACTIVE_LINGER_MS) return configuredMs;
  return Math.max(configuredMs, IDLE_INTERVAL_MS);
}

export class DiscoveryLoop {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private running = false;

  constructor(
    private readonly poll: () => Promise<void>,
    private readonly interval: () => number,
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.run(), Math.max(0, delayMs));
  }

  private run(): void {
    this.timer = null;
    const startedAt = Date.now();
    this.inFlight = this.poll()
      .catch((error: unknown) => {
        // poll() handles its own errors; this is a last line of defence that keeps the loop alive.
        this.logger.error('discovery poll failed unexpectedly', { error: errorText(error) });
      })
      .finally(() => {
        this.inFlight = null;
        this.schedule(this.interval() - (Date.now() - startedAt));
      });
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
