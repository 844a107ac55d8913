// JobRunner on a real redis-server and a real MediaWiki 1.39 farm (runJobs.php through the command
// dispatcher): throughput agrees with MediaWiki's own view, priorities and fairness hold under load.
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import type { RedisServerHandle } from '../../src/farm/redis-server.js';
import { queueKey } from '../../src/mediawiki/queue-keys.js';
import { queueLeftovers } from '../support/queue-leftovers.js';
import { runnerHarness, type RunnerHarness } from '../support/runner-harness.js';
import { StatsdSink } from '../support/statsd-sink.js';
import { until } from '../support/until.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';

const HOST = 'testhost';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
const sink = new StatsdSink();

beforeAll(async () => {
  ({ redis, farm, client } = await startFarmStack(
    {},
    { typeA: 'null', typeB: 'null', typeC: 'null', lowType: 'null' },
  ));
  await sink.start();
});

afterAll(async () => {
  sink.stop();
  await stopFarmStack({ redis, farm, client });
});

beforeEach(async () => {
  await client.flushall();
  sink.lines.length = 0;
});

interface Harness extends RunnerHarness {
  readonly config: JobrunnerConfig;
}

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.stop();
  harness = null;
});

function start(groups: Record<string, unknown>, runnerSettings: Record<string, unknown>): Harness {
  const config = parseConfigText(
    JSON.stringify({
      groups,
      redis: { aggregators: [redis.address], queues: [redis.address] },
      dispatcher: farm.runJobsCommand(),
      statsd: `127.0.0.1:${sink.port}`,
      runner: runnerSettings,
    }),
    join(farm.dir, 'jobrunner.conf'),
  );
  const started = runnerHarness(config, { hostname: HOST, random: () => 0 });
  started.runner.start();
  return { ...started, config };
}

const unclaimed = (wiki: string, type: string) => client.llen(queueKey(type, wiki, 'l-unclaimed'));

/** Calls of one Redis command since the last CONFIG RESETSTAT. */
async function commandCalls(command: string): Promise<number> {
  const info = await client.info('commandstats');
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

describe('JobRunner on a real MediaWiki farm', () => {
  it('runs 2,000 jobs over 2 wikis and 4 types; MediaWiki agrees nothing is left', async () => {
    const types = ['null', 'typeA', 'typeB', 'typeC'];
    // MediaWiki stamps jobs in whole seconds: the pickup latency can read up to 1 s high.
    const pushedFrom = Math.floor(Date.now() / 1000) * 1000;
    for (const wiki of farm.wikis) {
      for (const type of types) expect(await farm.pushJobs(wiki, { type, count: 250 })).toBe(250);
    }
    harness = start({ basic: { runners: 4, include: ['*'] } }, {});
    const { runner } = harness;
    await until(() => runner.stats().totals.jobsOk >= 2000, '2000 ok jobs');
    await until(async () => Object.keys(await queueLeftovers(client)).length === 0, 'empty queues');
    expect(runner.stats().totals).toMatchObject({ jobsOk: 2000, jobsFailed: 0, errors: 0, timeouts: 0 });
    for (const wiki of farm.wikis) expect((await farm.showJobs(wiki)).trim()).toBe('0');
    expect(await queueLeftovers(client)).toEqual({});
    // The statsd counters on the wire add up to the same numbers.
    await until(
      () => types.reduce((n, t) => n + sink.counter(`jobrunner.pop.${t}.ok.${HOST}`), 0) === 2000,
      'statsd',
    );
    for (const type of types) expect(sink.counter(`jobrunner.pop.${type}.ok.${HOST}`)).toBe(500);
    expect(sink.counter(`jobrunner.start-runner.${HOST}`)).toBe(1);
    expect(sink.counter(`jobrunner.spawn.${HOST}`)).toBe(runner.stats().totals.dispatches);
    expect(
      sink.lines.some((l) => l.startsWith(`jobrunner.dispatch-time.null.${HOST}:`) && l.endsWith('|ms')),
    ).toBe(true);
    expect(
      sink.lines.some((l) => l.startsWith(`jobrunner.slots-busy.basic.${HOST}:`) && l.endsWith('|g')),
    ).toBe(true);
    // Each queue needed few processes: no fan-out of one queue into one process per job.
    expect(runner.stats().totals.dispatches).toBeLessThan(100);
    // Pickup latency = dispatch start - the popped job's enqueue time, from MediaWiki's own stamps.
    const { pickupLatency, noticeLatency } = runner.stats();
    expect(pickupLatency).toMatchObject({ measure: 'enqueue-to-dispatch' });
    expect(pickupLatency.count).toBeGreaterThan(0);
    expect(pickupLatency.maxMs).toBeLessThanOrEqual(Date.now() - pushedFrom);
    expect(noticeLatency.count).toBeGreaterThan(0);
    const pickupLine = new RegExp(
      `^jobrunner\\.pickup-latency\\.(null|typeA|typeB|typeC)\\.${HOST}:[\\d.]+\\|ms$`,
    );
    expect(sink.lines.some((l) => pickupLine.test(l))).toBe(true);
  });

  it('low-priority types progress under a steady high-priority load', async () => {
    // Two long high-priority backlogs keep both slots busy; only the time share lets lowType in.
    await farm.pushJobs('wiki1', { type: 'typeA', count: 4000, usleep: 5000 });
    await farm.pushJobs('wiki2', { type: 'typeB', count: 4000, usleep: 5000 });
    await farm.pushJobs('wiki1', { type: 'lowType', count: 20 });
    harness = start(
      { main: { runners: 2, include: ['*'], 'low-priority': ['lowType'] } },
      { highPriorityMaxSeconds: 1, lowPriorityMaxSeconds: 1, highPriorityMaxTime: 1, lowPriorityMaxTime: 1 },
    );
    await until(async () => (await unclaimed('wiki1', 'lowType')) === 0, 'lowType drained');
    await until(() => sink.counter(`jobrunner.pop.lowType.ok.${HOST}`) === 20, 'lowType counted');
    expect((await unclaimed('wiki1', 'typeA')) + (await unclaimed('wiki2', 'typeB'))).toBeGreaterThan(1000);
    expect(sink.counter(`jobrunner.prioritychange.${HOST}`)).toBeGreaterThan(0);
    const starts = harness.logs.filter((l) => l.msg === 'dispatch start');
    const lowStart = starts.findIndex((l) => l.type === 'lowType');
    expect(starts[lowStart]).toMatchObject({ mode: 'low', maxTime: 1 });
    expect(starts.slice(0, lowStart).every((l) => l.mode === 'high' || l.type !== 'lowType')).toBe(true);
  });

  it("serves a small wiki's queue while a big wiki has a backlog", async () => {
    for (const type of ['typeA', 'typeB', 'typeC']) {
      await farm.pushJobs('wiki1', { type, count: 3000, usleep: 5000 });
    }
    harness = start(
      { main: { runners: 2, include: ['*'] } },
      { highPriorityMaxTime: 1, lowPriorityMaxTime: 1 },
    );
    const { runner } = harness;
    await until(() => runner.stats().groups[0]?.busy === 2, 'both slots on the big wiki');
    await farm.pushJobs('wiki2', { type: 'null', count: 5 });
    await until(async () => (await unclaimed('wiki2', 'null')) === 0, 'small wiki served');
    let backlog = 0;
    for (const type of ['typeA', 'typeB', 'typeC']) backlog += await unclaimed('wiki1', type);
    expect(backlog).toBeGreaterThan(3000);
    await until(() => sink.counter(`jobrunner.pop.null.ok.${HOST}`) === 5, 'small wiki counted');
  });

  it('runs one job in one queue with one process, not one per free slot (B3)', async () => {
    await farm.pushJobs('wiki1', { type: 'null', count: 1 });
    harness = start({ basic: { runners: 4, include: ['*'] } }, { idleDiscoveryIntervalMs: 100 });
    const { runner } = harness;
    await until(() => runner.stats().totals.jobsOk === 1, 'the job ran');
    // Let discovery look again many times: the drained queue gets no further process.
    await client.config('RESETSTAT');
    await until(async () => (await commandCalls('scard')) >= 20, '20 more discovery polls');
    expect(runner.stats().totals.dispatches).toBe(1);
    expect(await queueLeftovers(client)).toEqual({});
  });

  it('costs one SCARD per partition per idle discovery poll, at most 10 a second, plus paced reconciliation', async () => {
    await client.config('RESETSTAT');
    harness = start({ basic: { runners: 4, include: ['*'] } }, { wakeOnPush: false });
    await until(async () => (await commandCalls('scard')) > 0, 'discovery running');
    await client.config('RESETSTAT');
    const from = Date.now();
    await until(async () => (await commandCalls('scard')) >= 15, '15 idle polls');
    const seconds = (Date.now() - from) / 1000;
    const info = await client.info('commandstats');
    const commands = [...info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)]
      .map(([, name]) => name)
      .filter((name) => name !== 'config|resetstat' && name !== 'info');
    // The set's size paces reconciliation; an empty farm needs nothing else.
    expect(commands).toEqual(['scard']);
    expect(await commandCalls('scard')).toBeLessThanOrEqual(2 + seconds * 10);
    expect(harness.runner.stats().pushWake).toBe('off');
  });

  it('listens for pushes only while a slot is free', async () => {
    const subscribers = async (): Promise<number> => {
      const reply = (await client.call('PUBSUB', 'NUMSUB', '__keyevent@0__:lpush')) as [string, number];
      return Number(reply[1]);
    };
    // No burst or quiet burst slots: with them the runner keeps listening while one is free (a quiet
    // queue's push may start one), see the next test. It unsubscribes once every slot was busy for
    // a slice.
    harness = start(
      { one: { runners: 1, include: ['*'] } },
      { scheduling: { burstSlots: 0, quietBurstSlots: 0, sliceSeconds: 1 } },
    );
    const { runner } = harness;
    await until(async () => (await subscribers()) === 1, 'subscribed while the slot is free');
    await farm.pushJobs('wiki1', { type: 'null', count: 1, usleep: 3_000_000 });
    await until(() => runner.stats().groups[0]?.busy === 1, 'the only slot busy');
    await until(async () => (await subscribers()) === 0, 'unsubscribed while every slot is busy');
    await until(() => runner.stats().totals.jobsOk === 1, 'the job done', 30_000);
    await until(async () => (await subscribers()) === 1, 'subscribed again once the slot is free');
  });

  it('keeps listening for pushes while a burst slot is free, and a quiet push starts it at once', async () => {
    const subscribers = async (): Promise<number> => {
      const reply = (await client.call('PUBSUB', 'NUMSUB', '__keyevent@0__:lpush')) as [string, number];
      return Number(reply[1]);
    };
    // A reconciliation this slow would leave the quiet job waiting a minute: only the push finds it.
    harness = start(
      { one: { runners: 1, include: ['*'] } },
      { scheduling: { burstSlots: 1 }, reconcileSeconds: 60 },
    );
    const { runner, logs } = harness;
    await until(async () => (await subscribers()) === 1, 'subscribed while the slot is free');
    await farm.pushJobs('wiki1', { type: 'null', count: 1, usleep: 20_000_000 });
    await until(() => runner.stats().groups[0]?.busy === 1, 'the only slot busy');
    expect(await subscribers()).toBe(1);
    await farm.pushJobs('wiki2', { type: 'null', count: 1 });
    await until(() => runner.stats().totals.jobsOk === 1, "wiki2's job run beside the 20 s one", 30_000);
    const starts = logs.filter((l) => l.msg === 'dispatch start');
    expect(starts.map((l) => [l.wiki, l.burst])).toEqual([
      ['wiki1', false],
      ['wiki2', true],
    ]);
  });

  it('sleeps while idle and wakes on a push (Redis keyspace notifications)', async () => {
    // A fallback poll this long would make the job below wait 10 minutes: only the wake-up runs it.
    harness = start({ basic: { runners: 4, include: ['*'] } }, { idleDiscoveryIntervalMs: 600_000 });
    const { runner } = harness;
    await until(() => runner.stats().pushWake === 'watching', 'push notifications in use');
    const flags = ((await client.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
    expect(flags).toMatch(/E/);
    expect(flags).toMatch(/[lA]/);
    await client.config('RESETSTAT');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await commandCalls('scard')).toBe(0);
    await farm.pushJobs('wiki2', { type: 'null', count: 1 });
    await until(() => runner.stats().totals.jobsOk === 1, 'the pushed job ran', 30_000);
    expect(await commandCalls('scard')).toBeGreaterThan(0);
    expect(await queueLeftovers(client)).toEqual({});
  });
});
