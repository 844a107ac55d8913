// What the demo learns from the daemons' JSON log lines: dispatches in flight, jobs reported ok and
// failed per type ("dispatch end", --verbose), the runner's final totals, and the chron's
// recycle / abandon / undelay counts.
import type { LogLine } from '../bench/common/daemon-process.js';

export interface RunnerTotalsLine {
  readonly dispatches: number;
  readonly jobsOk: number;
  readonly jobsFailed: number;
  readonly errors: number;
}

export interface ChronCounts {
  recycled: number;
  abandoned: number;
  undelayed: number;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function add(map: Map<string, number>, key: string, n: number): void {
  if (n !== 0) map.set(key, (map.get(key) ?? 0) + n);
}

export class DaemonLogTally {
  inFlight = 0;
  dispatches = 0;
  readonly okByType = new Map<string, number>();
  readonly failedByType = new Map<string, number>();
  readonly chron: ChronCounts = { recycled: 0, abandoned: 0, undelayed: 0 };
  finalTotals: RunnerTotalsLine | null = null;
  /** Dispatches that ended in an error of the dispatcher itself (not a job failure). */
  readonly dispatchErrors: string[] = [];

  onRunnerLine(line: LogLine): void {
    switch (line.msg) {
      case 'dispatch start':
        this.inFlight++;
        this.dispatches++;
        break;
      case 'dispatch end': {
        this.inFlight = Math.max(0, this.inFlight - 1);
        const type = String(line.type);
        add(this.okByType, type, num(line.ok));
        add(this.failedByType, type, num(line.failed));
        break;
      }
      case 'Dispatch failed':
        this.dispatchErrors.push(`${String(line.wiki)}/${String(line.type)}: ${String(line.error)}`);
        break;
      case 'Job runner stopped': {
        const totals = (line.totals ?? {}) as Record<string, unknown>;
        this.finalTotals = {
          dispatches: num(totals.dispatches),
          jobsOk: num(totals.jobsOk),
          jobsFailed: num(totals.jobsFailed),
          errors: num(totals.errors),
        };
        break;
      }
      default:
        break;
    }
  }

  onChronLine(line: LogLine): void {
    if (typeof line.msg !== 'string' || !line.msg.startsWith('Updated the state of')) return;
    this.chron.recycled += num(line.recycled);
    this.chron.abandoned += num(line.abandoned);
    this.chron.undelayed += num(line.undelayed);
  }

  sum(map: Map<string, number>): number {
    let total = 0;
    for (const n of map.values()) total += n;
    return total;
  }
}
