// The dashboard's in-process history (rates and percentiles per interval, the deepest queues, an
// hour kept) and the runner's paused-queue list (kept when a read fails).
import { describe, expect, it } from 'vitest';
import { History, pointOf, type RawSample } from '../../src/status/history.js';
import type { QueueRow, QueueTotals } from '../../src/status/farm-summary.js';
import { PausedQueues } from '../../src/runner/paused.js';
import { captureLogger } from '../support/log-capture.js';

function row(wiki: string, type: string, unclaimed: number): QueueRow {
  return {
    wiki,
    domain: wiki,
    type,
    unclaimed,
    claimed: 0,
    abandoned: 0,
    delayed: 0,
    total: unclaimed,
    oldestAgeSeconds: 5,
    partitions: ['p1'],
  };
}
const totals = (unclaimed: number): QueueTotals => ({
  queues: 1,
  unclaimed,
  claimed: 0,
  abandoned: 2,
  delayed: 0,
  total: unclaimed + 2,
  oldestAgeSeconds: 40,
});

describe('history points', () => {
  it('computes per-interval rates, pickup percentiles of the new samples, and the deepest queues', () => {
    const rows = [1, 2, 3, 4, 5, 6].map((n) => row(`wiki${n}`, 'null', n * 10));
    const before: RawSample = {
      at: 10_000,
      farm: { totals: totals(0), rows: [] },
      totals: { jobsOk: 100, jobsFailed: 1, errors: 0 },
      pickup: { count: 10, recentMs: [9999, 9999] },
    };
    const now: RawSample = {
      at: 20_000,
      farm: { totals: totals(210), rows },
      totals: { jobsOk: 150, jobsFailed: 6, errors: 2 },
      pickup: { count: 14, recentMs: [9999, 9999, 10, 20, 30, 400] },
    };
    const point = pointOf(before, now);
    expect(point).toMatchObject({
      t: 20,
      jobsOkPerSec: 5,
      jobsFailedPerSec: 0.5,
      dispatchErrorsPerSec: 0.2,
      pickupP50Ms: 30,
      pickupP99Ms: 400,
      unclaimed: 210,
      abandoned: 2,
      oldestAgeSeconds: 40,
    });
    expect(point.top).toEqual({
      'wiki6 null': 60,
      'wiki5 null': 50,
      'wiki4 null': 40,
      'wiki3 null': 30,
      'wiki2 null': 20,
    });
    // The first point has no interval: no rates, no percentiles.
    expect(pointOf(null, now)).toMatchObject({ jobsOkPerSec: null, pickupP50Ms: null, unclaimed: 210 });
    // jobchron has no runner totals.
    expect(pointOf(before, { at: 20_000, farm: null })).toMatchObject({
      jobsOkPerSec: null,
      unclaimed: null,
    });
  });

  it('keeps an hour of points and serves them as columns', async () => {
    let at = 0;
    const history = new History(
      async () => ({ at: (at += 10_000), farm: { totals: totals(at / 1000), rows: [row('w', 't', 1)] } }),
      10_000,
      60_000,
    );
    for (let i = 0; i < 10; i++) await history.tick();
    const columns = history.columns();
    expect(columns.t).toEqual([50, 60, 70, 80, 90, 100]);
    expect(columns.series.unclaimed).toEqual([50, 60, 70, 80, 90, 100]);
    expect(columns.top).toEqual({ labels: ['w t'], values: [[1, 1, 1, 1, 1, 1]] });
  });
});

describe('PausedQueues', () => {
  it('reads the list, keeps the last one when a read fails, and logs changes', async () => {
    const { logger, lines } = captureLogger('jobrunner', 'info');
    let next: () => Promise<{ wiki: string; type: string }[]> = async () => [{ wiki: 'w1', type: 't1' }];
    const paused = new PausedQueues(() => next(), logger);
    await paused.refresh();
    expect(paused.has('w1', 't1')).toBe(true);
    expect(paused.has('w1', 't2')).toBe(false);
    next = async () => {
      throw new Error('partition down');
    };
    await paused.refresh();
    await paused.refresh();
    expect(paused.has('w1', 't1')).toBe(true);
    next = async () => [];
    await paused.refresh();
    expect(paused.has('w1', 't1')).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => l.msg)).toEqual([
      'Paused queues changed',
      'Cannot read the paused queues; keeping the last list',
      'Paused queues readable again',
      'Paused queues changed',
    ]);
  });
});
