// The scheduling policy "fair" end to end (issue 14): JobRunner with real runJobs.php children on a
// real MediaWiki farm. Backlogged wikis share slot-time within the fair-queuing bound, each
// dispatch's maxtime follows what waits (MediaWiki stops at `reached: time-limit`), and a quiet
// queue's job goes to the express slot without waiting for a busy slot to free, a burst slot
// stands in for slots stuck in jobs that overran their maxtime, and a quiet burst slot takes a quiet
// queue while every other slot, the express one included, is inside a long job.
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import type { RedisServerHandle } from '../../src/farm/redis-server.js';
import { queueKey } from '../../src/mediawiki/queue-keys.js';
import type { LogLine } from '../support/log-capture.js';
import { runnerHarness, type RunnerHarness } from '../support/runner-harness.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';
import { until } from '../support/until.js';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;

beforeAll(async () => {
  ({ redis, farm, client } = await startFarmStack({ wikis: 3 }));
});

afterAll(async () => {
  await stopFarmStack({ redis, farm, client });
});

beforeEach(async () => {
  await client.flushall();
});

let harness: RunnerHarness | null = null;
afterEach(async () => {
  await harness?.stop();
  harness = null;
});

function start(runners: number, scheduling: Record<string, unknown>): RunnerHarness {
  const config = parseConfigText(
    JSON.stringify({
      groups: { main: { runners, include: ['*'] } },
      redis: { aggregators: [redis.address], queues: [redis.address] },
      dispatcher: farm.runJobsCommand(),
      runner: { scheduling },
    }),
    join(farm.dir, 'jobrunner.conf'),
  );
  const started = runnerHarness(config, { hostname: 'testhost', random: () => 0 });
  started.runner.start();
  return started;
}

const unclaimed = (wiki: string) => client.llen(queueKey('null', wiki, 'l-unclaimed'));

function ends(logs: readonly LogLine[]): LogLine[] {
  return logs.filter((l) => l.msg === 'dispatch end');
}

describe('scheduling policy fair on a real MediaWiki farm', () => {
  it('shares slot-time between two backlogged wikis within the fair-queuing bound', async () => {
    await farm.pushJobs('wiki1', { count: 3000, usleep: 20_000 });
    await farm.pushJobs('wiki2', { count: 3000, usleep: 20_000 });
    // Two ordinary slots and the express one, which lends itself to the backlogs (nothing quiet).
    harness = start(3, { sliceSeconds: 1, longSliceSeconds: 2 });
    const { logs } = harness;
    const used = () => {
      const totals = new Map<string, number>();
      for (const l of ends(logs))
        totals.set(String(l.wiki), (totals.get(String(l.wiki)) ?? 0) + Number(l.durationMs));
      return totals;
    };
    // Fair queuing: two backlogged wikis' slot-time differs by at most two dispatches, plus the
    // three dispatches still running (not yet in `used`).
    const bound = () => 5 * Math.max(...ends(logs).map((l) => Number(l.durationMs)));
    const total = () => [...used().values()].reduce((a, b) => a + b, 0);
    await until(() => ends(logs).length >= 12 && total() >= 4 * bound(), 'slot-time of 4 bounds', 180_000);
    const u = used();
    expect(Math.abs((u.get('wiki1') ?? 0) - (u.get('wiki2') ?? 0))).toBeLessThanOrEqual(bound());
    // MediaWiki honoured the slices: children stopped at the time limit, not at the backlog's end.
    const finished = ends(logs);
    expect(finished.filter((l) => l.reached === 'time-limit').length).toBeGreaterThanOrEqual(
      finished.length - 1,
    );
    const starts = logs.filter((l) => l.msg === 'dispatch start');
    expect(starts.every((l) => l.maxTime === 1 || l.maxTime === 2)).toBe(true);
    expect((await unclaimed('wiki1')) + (await unclaimed('wiki2'))).toBeGreaterThan(0);
  });

  it("runs a quiet queue's job in the express slot while backlogs hold the other slots", async () => {
    await farm.pushJobs('wiki1', { count: 3000, usleep: 20_000 });
    await farm.pushJobs('wiki2', { count: 3000, usleep: 20_000 });
    await farm.pushJobs('wiki3', { count: 1 });
    // Slices far longer than this test: the backlogs' slots do not free up while it runs.
    harness = start(3, { sliceSeconds: 600, longSliceSeconds: 600, expressHoldSeconds: 600 });
    const { logs } = harness;
    await until(async () => (await unclaimed('wiki3')) === 0, 'the quiet job claimed', 60_000);
    const starts = () => logs.filter((l) => l.msg === 'dispatch start');
    expect(starts().map((l) => [l.wiki, l.slot, l.express])).toEqual([
      ['wiki1', 0, false],
      ['wiki2', 1, false],
      ['wiki3', 2, true],
    ]);
    expect(starts()[2]).toMatchObject({ maxTime: 1 });
    await until(() => ends(logs).length === 1, 'the quiet dispatch done', 60_000);
    // The express slot is kept for quiet queues (expressHoldSeconds): the next quiet job gets it
    // while the backlogs still hold the two other slots.
    await farm.pushJobs('wiki3', { count: 1 });
    await until(() => starts().length === 4, 'the second quiet job dispatched', 60_000);
    expect(starts()[3]).toMatchObject({ wiki: 'wiki3', slot: 2, express: true, maxTime: 1 });
    expect(ends(logs).map((l) => l.wiki)).toEqual(['wiki3']);
    expect((await unclaimed('wiki1')) + (await unclaimed('wiki2'))).toBeGreaterThan(0);
  });

  it('starts a burst child for a waiting queue while both slots are inside jobs that overran their maxtime', async () => {
    // Jobs of 4 s against a 1 s slice: MediaWiki checks maxtime only between jobs.
    await farm.pushJobs('wiki1', { count: 20, usleep: 4_000_000 });
    await farm.pushJobs('wiki2', { count: 20, usleep: 4_000_000 });
    // More ready jobs than expressMaxReady: not quiet, so only an overrun opens the burst slot.
    await farm.pushJobs('wiki3', { count: 30 });
    harness = start(2, { expressSlots: 0, burstSlots: 1, overrunSeconds: 0, sliceSeconds: 1 });
    const { logs } = harness;
    const starts = () => logs.filter((l) => l.msg === 'dispatch start');
    await until(() => starts().length >= 3, 'a third dispatch', 60_000);
    const [first, second, third] = starts();
    expect([first?.wiki, second?.wiki].sort()).toEqual(['wiki1', 'wiki2']);
    expect(third).toMatchObject({ wiki: 'wiki3', slot: 2, burst: true, maxTime: 1 });
    // Not before a dispatch had run past its maxtime (1 s) + overrunSeconds (0).
    const at = (l: LogLine | undefined) => Date.parse(String(l?.ts));
    expect(at(third) - Math.min(at(first), at(second))).toBeGreaterThan(1000);
    // Started while both 4 s jobs were still running: nothing had ended before it.
    const firstEnd = logs.findIndex((l) => l.msg === 'dispatch end');
    expect(firstEnd === -1 || logs.indexOf(third as LogLine) < firstEnd).toBe(true);
    // Never more than runners + burstSlots children for queues that are not quiet.
    let running = 0;
    let most = 0;
    for (const l of logs) {
      if (l.msg === 'dispatch start') most = Math.max(most, ++running);
      if (l.msg === 'dispatch end') running--;
    }
    expect(most).toBeLessThanOrEqual(3);
  });

  it('starts a quiet queue in a quiet burst slot while the ordinary and the express slot are both inside long jobs', async () => {
    // wiki1: a backlog of 6 s jobs; wiki2: one quiet 6 s job (it takes the express slot).
    await farm.pushJobs('wiki1', { count: 30, usleep: 6_000_000 });
    await farm.pushJobs('wiki2', { count: 1, usleep: 6_000_000 });
    harness = start(2, { burstSlots: 0, quietBurstSlots: 1 });
    const { logs } = harness;
    const starts = () => logs.filter((l) => l.msg === 'dispatch start');
    await until(() => starts().length >= 2, 'both slots busy', 60_000);
    // Both children are now inside a 6 s job; a job pushed to a quiet queue does not wait for them.
    await farm.pushJobs('wiki3', { count: 1 });
    await until(async () => (await unclaimed('wiki3')) === 0, 'the quiet job claimed', 60_000);
    expect(
      starts()
        .slice(0, 3)
        .map((l) => [l.wiki, l.slot, l.express]),
    ).toEqual([
      ['wiki1', 0, false],
      ['wiki2', 1, true],
      ['wiki3', 2, true],
    ]);
    expect(starts()[2]).toMatchObject({ burst: true, maxTime: 1 });
    // Started while both 6 s jobs were still running: nothing had ended before it.
    const firstEnd = logs.findIndex((l) => l.msg === 'dispatch end');
    expect(firstEnd === -1 || logs.indexOf(starts()[2] as LogLine) < firstEnd).toBe(true);
  });
});
