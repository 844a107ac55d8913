// Progress of a migration on stderr: a bar with rate and ETA, redrawn in place on a terminal, or a
// plain line every few seconds otherwise (logs, CI). Behind an interface so a library renderer
// (e.g. cli-progress, not installed) can replace it without touching the migration.

export interface Progress {
  start(total: number): void;
  /** `done` more records handled; `label` names the queue being copied. */
  advance(done: number, label: string): void;
  /** A phase change ("verifying", "deleting"), shown on the line. */
  phase(name: string): void;
  stop(): void;
}

export const noProgress: Progress = {
  start() {},
  advance() {},
  phase() {},
  stop() {},
};

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Own renderer: [#####.....] done/total jobs, rate jobs/s, ETA, current queue. */
export class LineProgress implements Progress {
  private total = 0;
  private done = 0;
  private label = '';
  private phaseName = 'copying';
  private startedAt = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly clock: () => number = Date.now,
  ) {}

  start(total: number): void {
    this.total = total;
    this.startedAt = this.clock();
    this.draw(true);
  }

  advance(done: number, label: string): void {
    this.done += done;
    this.label = label;
    this.draw(false);
  }

  phase(name: string): void {
    this.phaseName = name;
    this.draw(true);
  }

  stop(): void {
    this.draw(true);
    if (this.out.isTTY && this.drawn) this.out.write('\n');
  }

  /** The line as it would be drawn now (tests). */
  line(): string {
    const elapsed = (this.clock() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const left = Math.max(0, this.total - this.done);
    const eta = rate > 0 ? duration(left / rate) : '?';
    const share = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const filled = Math.round(share * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    return `${bar} ${this.done}/${this.total} jobs  ${Math.round(rate)} jobs/s  ETA ${eta}  ${this.phaseName}${this.label ? ` ${this.label}` : ''}`;
  }

  private draw(force: boolean): void {
    const now = this.clock();
    const interval = this.out.isTTY ? 100 : 5000;
    if (!force && now - this.lastDraw < interval) return;
    this.lastDraw = now;
    this.drawn = true;
    if (this.out.isTTY) {
      const columns = this.out.columns ?? 100;
      this.out.write(
        `\r${this.line()
          .slice(0, columns - 1)
          .padEnd(columns - 1)}`,
      );
    } else {
      this.out.write(`${this.line()}\n`);
    }
  }
}
