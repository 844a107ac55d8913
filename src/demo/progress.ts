// Live progress of the demo: on a terminal one line redrawn a few times a second, otherwise a plain
// line every couple of seconds. Notes (what was just pushed) are printed above it.

export interface ProgressState {
  readonly elapsedSeconds: number;
  readonly unclaimed: number;
  readonly claimed: number;
  readonly delayed: number;
  readonly abandoned: number;
  /** Jobs stored by MediaWiki so far / run and acknowledged so far. */
  readonly stored: number;
  readonly done: number;
  /** Jobs acknowledged per second over the last second. */
  readonly perSecond: number;
  readonly busySlots: number;
  readonly slots: number;
}

export function progressLine(s: ProgressState): string {
  return (
    `[${s.elapsedSeconds.toFixed(1).padStart(5)} s] queued ${s.unclaimed} · claimed ${s.claimed} · ` +
    `delayed ${s.delayed} · abandoned ${s.abandoned} | done ${s.done}/${s.stored} · ` +
    `${Math.round(s.perSecond)} jobs/s | runners busy ${s.busySlots}/${s.slots}`
  );
}

export class Progress {
  private lastPlainAt = -Infinity;
  private shown = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly plainEveryMs: number,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  private clearLine(): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }

  note(text: string): void {
    this.clearLine();
    this.out.write(`  ${text}\n`);
  }

  update(state: ProgressState, force = false): void {
    const line = progressLine(state);
    if (this.tty) {
      this.clearLine();
      this.out.write(line.slice(0, Math.max(20, (this.out.columns ?? 200) - 1)));
      this.shown = true;
      return;
    }
    const now = Date.now();
    if (!force && now - this.lastPlainAt < this.plainEveryMs) return;
    this.lastPlainAt = now;
    this.out.write(`${line}\n`);
  }

  /** Leaves the last progress line on screen and moves below it. */
  finish(): void {
    if (this.tty && this.shown) this.out.write('\n');
    this.shown = false;
  }
}
