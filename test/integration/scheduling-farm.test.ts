// The scheduling policy "fair" end to end (issue 14): JobRunner with real runJobs.php children on a
// real MediaWiki farm. Backlogged wikis share slot-time within the fair-queuing bound, each
// dispatch's maxtime follows what waits (MediaWiki stops at `reached: time-limit`), and a quiet
// queue's job goes to the express slot without waiting for a busy slot to free.
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
    await until(() => ends(logs).length >= 24, '24 finished dispatches', 120_000);
    const finished = ends(logs);
    const used = new Map<string, number>();
    for (const l of finished)
      used.set(String(l.wiki), (used.get(String(l.wiki)) ?? 0) + Number(l.durationMs));
    const longest = Math.max(...finished.map((l) => Number(l.durationMs)));
    // Fair queuing: two backlogged wikis differ by at most two dispatches and the lead a wiki may
    // carry (longSliceSeconds); dispatches still running count up to one each (not in `used`).
    const bound = 2 * longest + 2000 + 3 * longest;
    expect(Math.abs((used.get('wiki1') ?? 0) - (used.get('wiki2') ?? 0))).toBeLessThanOrEqual(bound);
    expect((used.get('wiki1') ?? 0) + (used.get('wiki2') ?? 0)).toBeGreaterThan(6 * bound);
    // MediaWiki honoured the slices: the children stopped at the time limit, not at the backlog's end.
    expect(finished.filter((l) => l.reached === 'time-limit').length).toBeGreaterThan(20);
    const starts = logs.filter((l) => l.msg === 'dispatch start');
    expect(starts.every((l) => l.maxTime === 1 || l.maxTime === 2)).toBe(true);
    expect((await unclaimed('wiki1')) + (await unclaimed('wiki2'))).toBeGreaterThan(0);
  });

  it("runs a quiet queue's job in the express slot while backlogs hold the other slots", async () => {
    await farm.pushJobs('wiki1', { count: 3000, usleep: 20_000 });
    await farm.pushJobs('wiki2', { count: 3000, usleep: 20_000 });
    harness = start(3, { sliceSeconds: 2, longSliceSeconds: 2, expressHoldSeconds: 600 });
    const { logs, runner } = harness;
    await until(() => runner.stats().groups[0]?.busy === 3, 'every slot busy with the backlogs');
    await farm.pushJobs('wiki3', { count: 1 });
    await until(async () => (await unclaimed('wiki3')) === 0, 'the quiet job claimed', 60_000);
    const quiet = logs.find((l) => l.msg === 'dispatch start' && l.wiki === 'wiki3');
    expect(quiet).toMatchObject({ express: true, maxTime: 1, slot: 2 });
    // From then on the express slot is held for quiet queues (expressHoldSeconds): the backlogs
    // only get the two ordinary slots, and the next quiet job finds the express slot free.
    await until(
      () => logs.some((l) => l.msg === 'dispatch end' && l.wiki === 'wiki3'),
      'the quiet dispatch done',
    );
    await farm.pushJobs('wiki3', { count: 1 });
    await until(
      () => logs.filter((l) => l.msg === 'dispatch start' && l.wiki === 'wiki3').length === 2,
      'the second quiet job dispatched',
      60_000,
    );
    const starts = logs.filter((l) => l.msg === 'dispatch start');
    const after = starts.slice(starts.indexOf(quiet as LogLine) + 1);
    expect(after.filter((l) => l.wiki === 'wiki3')).toEqual([
      expect.objectContaining({ express: true, slot: 2 }),
    ]);
    expect(after.filter((l) => l.wiki !== 'wiki3').every((l) => l.slot !== 2)).toBe(true);
    expect((await unclaimed('wiki1')) + (await unclaimed('wiki2'))).toBeGreaterThan(0);
  });
});
