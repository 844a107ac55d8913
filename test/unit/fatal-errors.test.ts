// A daemon's reaction to an uncaught error (jobrunner, its Kafka backend, jobchron): log once,
// drain, exit 1; a second error while draining changes nothing; a drain that hangs is cut off.
import { describe, expect, it } from 'vitest';
import { fatalErrorHandler } from '../../src/observability/fatal-errors.js';
import { captureLogger } from '../support/log-capture.js';
import { until } from '../support/until.js';

describe('fatalErrorHandler', () => {
  it('drains once, then exits 1; later errors are only logged', async () => {
    const { logger, lines } = captureLogger('jobrunner', 'info');
    const exits: number[] = [];
    let drains = 0;
    let finishDrain: () => void = () => undefined;
    const handle = fatalErrorHandler({
      logger,
      drain: () => {
        drains++;
        return new Promise<void>((resolve) => (finishDrain = resolve));
      },
      deadlineMs: 60_000,
      exit: (code) => exits.push(code),
    });
    handle('Uncaught exception', new Error('boom'));
    handle('Unhandled promise rejection', new Error('again'));
    expect(drains).toBe(1);
    expect(exits).toEqual([]); // not before the drain is done
    finishDrain();
    await until(() => exits.length === 1, 'the exit');
    expect(exits).toEqual([1]);
    expect(lines.map((l) => [l.msg, l.error])).toEqual([
      ['Uncaught exception; taking no new work, draining, then exiting 1', 'boom'],
      ['Unhandled promise rejection while draining after an earlier error', 'again'],
    ]);
  });

  it('exits 1 at the deadline when the drain hangs, and only once', async () => {
    const { logger, lines } = captureLogger('jobrunner', 'info');
    const exits: number[] = [];
    const handle = fatalErrorHandler({
      logger,
      drain: () => new Promise<void>(() => undefined),
      deadlineMs: 50,
      exit: (code) => exits.push(code),
    });
    handle('Uncaught exception', 'not an Error');
    await until(() => exits.length === 1, 'the exit at the deadline');
    expect(exits).toEqual([1]);
    expect(lines.map((l) => l.msg)).toContain('Drain after an uncaught error took too long; exiting now');
  });
});
