// jobchron + jobrunner started together on one config, stopped together with their exits checked.
import { join } from 'node:path';
import { DaemonProcess, cleanExit, describeExit, type DaemonExit, type LogLine } from './daemon-process.js';
import { waitFor } from './wait.js';

export interface RunnerTotals {
  readonly dispatches: number;
  readonly jobsOk: number;
  readonly jobsFailed: number;
  readonly errors: number;
}

export interface PairOptions {
  readonly configFile: string;
  /** Where the daemons' log files go. */
  readonly logDir: string;
  /** --verbose for the runner (per-dispatch lines). */
  readonly verboseRunner?: boolean;
  readonly onRunnerLine?: (line: LogLine) => void;
  /** Start the runner only (no chron). */
  readonly withoutChron?: boolean;
}

export interface PairStop {
  readonly runner: DaemonExit;
  readonly chron: DaemonExit | null;
  readonly totals: RunnerTotals | null;
  /** error-level lines of both daemons. */
  readonly errors: string[];
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

export class DaemonPair {
  private totals: RunnerTotals | null = null;

  private constructor(
    readonly runner: DaemonProcess,
    readonly chron: DaemonProcess | null,
    /** Date.now() just before the daemons were spawned. */
    readonly startedAt: number,
  ) {}

  static async start(options: PairOptions, tag: string): Promise<DaemonPair> {
    let runnerUp = false;
    let chronUp = options.withoutChron === true;
    const startedAt = Date.now();
    const chron = options.withoutChron
      ? null
      : DaemonProcess.start({
          name: 'jobchron',
          configFile: options.configFile,
          logFile: join(options.logDir, `${tag}-jobchron.log`),
          onLine: (line) => {
            if (line.msg === 'jobchron started') chronUp = true;
          },
        });
    let pair: DaemonPair | null = null;
    const runner = DaemonProcess.start({
      name: 'jobrunner',
      configFile: options.configFile,
      verbose: options.verboseRunner,
      logFile: join(options.logDir, `${tag}-jobrunner.log`),
      onLine: (line) => {
        if (line.msg === 'Starting job runner') runnerUp = true;
        if (line.msg === 'Job runner stopped' && pair) {
          const t = (line.totals ?? {}) as Record<string, unknown>;
          pair.totals = {
            dispatches: num(t.dispatches),
            jobsOk: num(t.jobsOk),
            jobsFailed: num(t.jobsFailed),
            errors: num(t.errors),
          };
        }
        options.onRunnerLine?.(line);
      },
    });
    pair = new DaemonPair(runner, chron, startedAt);
    try {
      await waitFor(
        'jobrunner and jobchron to start',
        () => {
          for (const d of [runner, chron]) {
            if (d && !d.running) throw new Error(`${d.name} exited during start-up:\n${d.tail()}`);
          }
          return runnerUp && chronUp;
        },
        { timeoutMs: 20_000, intervalMs: 5 },
      );
    } catch (error) {
      await pair.stop().catch(() => undefined); // the start-up error is the one to report
      throw error;
    }
    return pair;
  }

  /** SIGTERM both (runner first, it drains); throws when either did not exit 0 by itself. */
  async stop(): Promise<PairStop> {
    const runner = await this.runner.stop(60_000);
    const chron = this.chron ? await this.chron.stop(10_000) : null;
    const errors = [this.runner, this.chron].flatMap((d) =>
      d ? d.errors.map((l) => `${d.name}: ${String(l.msg)} ${JSON.stringify(l)}`) : [],
    );
    const bad = [
      ['jobrunner', runner],
      ['jobchron', chron],
    ].filter(
      (entry): entry is [string, DaemonExit] => entry[1] !== null && !cleanExit(entry[1] as DaemonExit),
    );
    if (bad.length > 0) {
      throw new Error(
        bad.map(([name, exit]) => `${name} did not stop cleanly (${describeExit(exit)})`).join('; '),
      );
    }
    return { runner, chron, totals: this.totals, errors };
  }
}
