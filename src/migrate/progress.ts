// Progress of a migration on stderr: on a terminal a cli-progress bar with rate, ETA and the queue
// being copied, redrawn in place; otherwise (logs, CI) a plain line every few seconds.

import cliProgress from 'cli-progress';

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

type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const BAR_WIDTH = 24;
/** Plain lines are for logs: one every few seconds is enough to see a migration move. */
const PLAIN_INTERVAL_MS = 5000;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The bar on a terminal; the queue label and phase travel as cli-progress payload. */
function terminalBar(out: ProgressStream): cliProgress.SingleBar {
  return new cliProgress.SingleBar({
    stream: out,
    format: '[{bar}] {value}/{total} jobs  {rate} jobs/s  ETA {eta_formatted}  {phase}{label}',
    barsize: BAR_WIDTH,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    // Without an estimate cli-progress passes a string ('0' before the first update, 'NULL', 'INF').
    formatTime: (seconds: number | string) => (typeof seconds === 'number' ? duration(seconds) : '?'),
    etaBuffer: 50,
    linewrap: true, // trim to the terminal width rather than switching wrapping off
    hideCursor: false,
    gracefulExit: false, // no SIGINT/SIGTERM listener: the CLI's own signal handling stays as it is
  });
}

/** Counts done/total and draws them: a cli-progress bar on a TTY, plain lines otherwise. */
export class LineProgress implements Progress {
  private total = 0;
  private done = 0;
  private label = '';
  private phaseName = 'copying';
  private startedAt = 0;
  private lastLine = 0;
  private readonly bar: cliProgress.SingleBar | null;

  constructor(
    private readonly out: ProgressStream,
    private readonly clock: () => number = Date.now,
  ) {
    this.bar = out.isTTY ? terminalBar(out) : null;
  }

  start(total: number): void {
    this.total = total;
    this.startedAt = this.clock();
    if (this.bar) this.bar.start(total, 0, this.payload());
    else this.writeLine(true);
  }

  advance(done: number, label: string): void {
    this.done += done;
    this.label = label;
    if (this.bar) this.bar.update(this.done, this.payload());
    else this.writeLine(false);
  }

  phase(name: string): void {
    this.phaseName = name;
    if (this.bar) this.bar.update(this.payload());
    else this.writeLine(true);
  }

  stop(): void {
    if (this.bar) this.bar.stop();
    else this.writeLine(true);
  }

  /** The plain line as it would be written now. */
  line(): string {
    const rate = this.rate();
    const left = Math.max(0, this.total - this.done);
    const eta = rate > 0 ? duration(left / rate) : '?';
    const share = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(share * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
    return `${bar} ${this.done}/${this.total} jobs  ${Math.round(rate)} jobs/s  ETA ${eta}  ${this.phaseName}${this.labelSuffix()}`;
  }

  private rate(): number {
    const elapsed = (this.clock() - this.startedAt) / 1000;
    return elapsed > 0 ? this.done / elapsed : 0;
  }

  private labelSuffix(): string {
    return this.label ? ` ${this.label}` : '';
  }

  private payload(): { rate: number; phase: string; label: string } {
    return { rate: Math.round(this.rate()), phase: this.phaseName, label: this.labelSuffix() };
  }

  private writeLine(force: boolean): void {
    const now = this.clock();
    if (!force && now - this.lastLine < PLAIN_INTERVAL_MS) return;
    this.lastLine = now;
    this.out.write(`${this.line()}\n`);
  }
}
