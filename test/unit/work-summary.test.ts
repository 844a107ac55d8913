// The runner's periodic info line: deltas since the previous one, and an idle stretch logged once.
import { describe, expect, it } from 'vitest';
import type { RunnerTotals } from '../../src/runner/stats.js';
import { WorkSummary, type WorkSnapshot } from '../../src/runner/work-summary.js';
import { captureLogger } from '../support/log-capture.js';

const zero: RunnerTotals = {
  dispatches: 0,
  dispatchesOk: 0,
  jobsOk: 0,
  jobsFailed: 0,
  errors: 0,
  timeouts: 0,
  aborted: 0,
};

describe('WorkSummary', () => {
  it('logs what happened since the last line; an idle stretch once; work again when it resumes', async () => {
    const { logger, lines } = captureLogger('jobrunner', 'info');
    let snap: WorkSnapshot = { totals: zero, busySlots: 0, slots: 4 };
    let now = 1_000_000;
    const summary = new WorkSummary(
      logger,
      () => snap,
      () => now,
    );
    summary.start();
    summary.stop(); // ticks are driven by hand below

    snap = {
      totals: { ...zero, dispatches: 5, jobsOk: 40, jobsFailed: 2, errors: 1 },
      busySlots: 3,
      slots: 4,
    };
    now += 60_000;
    summary.tick();
    snap = { totals: { ...snap.totals, dispatches: 7, jobsOk: 50 }, busySlots: 0, slots: 4 };
    now += 60_000;
    summary.tick();
    now += 60_000;
    summary.tick(); // idle
    now += 60_000;
    summary.tick(); // still idle: not logged again
    snap = { totals: { ...snap.totals, dispatches: 8, jobsOk: 51 }, busySlots: 1, slots: 4 };
    now += 60_000;
    summary.tick();
    await new Promise((resolve) => setImmediate(resolve));

    const fields = (l: Record<string, unknown>) => ({
      msg: l.msg,
      dispatches: l.dispatches,
      jobsOk: l.jobsOk,
      jobsFailed: l.jobsFailed,
      dispatchErrors: l.dispatchErrors,
      busySlots: l.busySlots,
      seconds: l.seconds,
    });
    expect(lines.map(fields)).toEqual([
      {
        msg: 'Work summary',
        dispatches: 5,
        jobsOk: 40,
        jobsFailed: 2,
        dispatchErrors: 1,
        busySlots: 3,
        seconds: 60,
      },
      {
        msg: 'Work summary',
        dispatches: 2,
        jobsOk: 10,
        jobsFailed: 0,
        dispatchErrors: 0,
        busySlots: 0,
        seconds: 60,
      },
      {
        msg: 'Work summary: idle (logged again when work resumes)',
        dispatches: 0,
        jobsOk: 0,
        jobsFailed: 0,
        dispatchErrors: 0,
        busySlots: 0,
        seconds: 60,
      },
      {
        msg: 'Work summary',
        dispatches: 1,
        jobsOk: 1,
        jobsFailed: 0,
        dispatchErrors: 0,
        busySlots: 1,
        seconds: 60,
      },
    ]);
    expect(lines.every((l) => l.level === 'info')).toBe(true);
  });
});
