// The runner's copy of the paused queues (src/redis/paused-queues.ts), read again every 2 s (one
// HGETALL per partition: 0.5 commands/s per runner, idle or busy), so a pause from the dashboard or
// another host takes effect within about 2 s on every runner.
// The scheduler asks has() for each candidate; a dispatch already running finishes normally. A
// failed read keeps the last list (a partition outage must not resume everything).
import type { Logger } from '../observability/logger.js';
import { queueKey } from './queue-id.js';

export const PAUSED_REFRESH_MS = 2000;

export type LoadPaused = () => Promise<readonly { readonly wiki: string; readonly type: string }[]>;

export class PausedQueues {
  private keys = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    private readonly load: LoadPaused | undefined,
    private readonly logger: Logger,
    private readonly intervalMs = PAUSED_REFRESH_MS,
  ) {}

  has(wiki: string, type: string): boolean {
    return this.keys.size > 0 && this.keys.has(queueKey(wiki, type));
  }

  get size(): number {
    return this.keys.size;
  }

  /** First read (resolve before taking work, so a restart honours pauses at once), then a timer. */
  async start(): Promise<void> {
    if (!this.load || this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
    await this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    if (!this.load) return;
    try {
      const list = await this.load();
      const next = new Set(list.map((q) => queueKey(q.wiki, q.type)));
      const changed = next.size !== this.keys.size || [...next].some((k) => !this.keys.has(k));
      this.keys = next;
      if (this.failing) this.logger.info('Paused queues readable again');
      this.failing = false;
      if (changed) {
        this.logger.info('Paused queues changed', {
          paused: list.slice(0, 20).map((q) => `${q.wiki}/${q.type}`),
          count: list.length,
        });
      }
    } catch (error) {
      if (!this.failing) {
        this.logger.warn('Cannot read the paused queues; keeping the last list', {
          error: error instanceof Error ? error.message : String(error),
          count: this.keys.size,
        });
      }
      this.failing = true;
    }
  }
}
