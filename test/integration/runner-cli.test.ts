// The real `node dist/cli/jobrunner.js` process on a real redis-server and MediaWiki farm:
// SIGTERM drains (children finish, nothing stays claimed, exit 0), SIGHUP changes slot counts live
// and an invalid file on SIGHUP keeps the running config.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import type { RedisServerHandle } from '../../src/farm/redis-server.js';
import { RELOAD_FAILED } from '../../src/cli/config-report.js';
import { isRunning, startDaemon, type Daemon } from '../support/daemon.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';
import { until as pollUntil } from '../support/until.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const CLI = resolve('dist/cli/jobrunner.js');
const THROW_HOOK = resolve('test/fixtures/hooks/throw-on-sigusr2.mjs');

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;

beforeAll(async () => {
  requireFreshBuild([CLI]);
  ({ redis, farm, client } = await startFarmStack({}, { typeA: 'null', typeB: 'null', typeC: 'null' }));
});

afterAll(async () => {
  await stopFarmStack({ redis, farm, client });
});

beforeEach(async () => {
  await client.flushall();
});

let daemon: Daemon | null = null;
afterEach(() => {
  if (daemon && isRunning(daemon)) daemon.child.kill('SIGKILL');
  daemon = null;
});

function writeConfig(file: string, runners: number | string): void {
  writeFileSync(
    file,
    `// written by runner-cli.test.ts
{
  "groups": { "basic": { "runners": ${JSON.stringify(runners)}, "include": ["*"] } },
  "redis": { "aggregators": ["${redis.address}"], "queues": ["${redis.address}"] },
  "dispatcher": ${JSON.stringify(farm.runJobsCommand())},
  "runner": { "drainTimeoutSeconds": 30 },
  "status": { "enabled": false },
}
`,
  );
}

/** Polls `cond`; a timeout shows the daemon's log lines so far. */
function until(cond: () => boolean | Promise<boolean>, what: string, logs?: unknown[]): Promise<void> {
  return pollUntil(cond, what, 60_000, {
    detail: () => (logs ?? []).map((l) => JSON.stringify(l)).join('\n'),
  });
}

/** Children running now, from the daemon's own dispatch start/end lines. */
function inFlight(logs: Record<string, unknown>[]): number {
  let n = 0;
  for (const l of logs) {
    if (l.msg === 'dispatch start') n++;
    if (l.msg === 'dispatch end') n--;
  }
  return n;
}

async function claimedTotal(): Promise<number> {
  let total = 0;
  for (const key of await client.keys('*:jobqueue:*:z-claimed')) total += await client.zcard(key);
  return total;
}

/** Per queue: jobs still stored (h-data) vs still waiting (l-unclaimed); equal = none lost or stuck. */
async function storedVsWaiting(): Promise<{ stored: number; waiting: number }> {
  let stored = 0;
  let waiting = 0;
  for (const key of await client.keys('*:jobqueue:*:h-data')) stored += await client.hlen(key);
  for (const key of await client.keys('*:jobqueue:*:l-unclaimed')) waiting += await client.llen(key);
  return { stored, waiting };
}

describe('jobrunner CLI', () => {
  it('SIGTERM: takes no new work, lets running children finish, leaves nothing claimed, exits 0', async () => {
    const configFile = join(farm.dir, 'cli-drain.conf');
    writeConfig(configFile, 2);
    for (const wiki of farm.wikis) await farm.pushJobs(wiki, { type: 'null', count: 30, usleep: 50_000 });
    await farm.pushJobs('wiki1', { type: 'typeA', count: 30, usleep: 50_000 });
    daemon = startDaemon(CLI, configFile);
    const { logs } = daemon;
    await until(
      async () => inFlight(logs) === 2 && (await claimedTotal()) > 0,
      'two children running jobs',
      logs,
    );
    daemon.child.kill('SIGTERM');
    const { code, signal } = await daemon.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(await claimedTotal()).toBe(0);
    const { stored, waiting } = await storedVsWaiting();
    expect(stored).toBe(waiting);
    expect(waiting).toBeGreaterThan(0); // work left for the next start: no new dispatch after SIGTERM
    const stopAt = logs.findIndex((l) => l.msg === 'Stopping: no new work');
    expect(stopAt).toBeGreaterThan(0);
    expect(logs[stopAt]).toMatchObject({ inFlight: 2, drain: true });
    expect(logs.slice(stopAt).filter((l) => l.msg === 'dispatch start')).toEqual([]);
    expect(logs.slice(stopAt).filter((l) => l.msg === 'dispatch end')).toHaveLength(2);
    expect(logs.some((l) => l.level === 'error' || l.msg === 'Dispatch aborted by shutdown')).toBe(false);
    expect(logs.at(-1)).toMatchObject({ msg: 'Job runner stopped' });
  });

  it('SIGHUP: changes runner counts live, keeps children, and keeps the old config when the new one is bad', async () => {
    const configFile = join(farm.dir, 'cli-reload.conf');
    writeConfig(configFile, 1);
    for (const wiki of farm.wikis) {
      for (const type of ['typeA', 'typeB', 'typeC'])
        await farm.pushJobs(wiki, { type, count: 20, usleep: 100_000 });
    }
    daemon = startDaemon(CLI, configFile);
    const { logs } = daemon;
    let maxBefore = 0;
    await until(() => {
      maxBefore = Math.max(maxBefore, inFlight(logs));
      return logs.filter((l) => l.msg === 'dispatch start').length >= 1;
    }, 'first dispatch');
    expect(maxBefore).toBe(1);

    writeConfig(configFile, 3);
    daemon.child.kill('SIGHUP');
    await until(() => logs.some((l) => l.msg === 'Configuration reloaded'), 'reload logged', logs);
    await until(() => inFlight(logs) === 3, 'three children after the reload', logs);

    // Back to one slot: the two extra children finish (not killed), then one slot remains.
    const beforeShrink = logs.length;
    writeConfig(configFile, 1);
    daemon.child.kill('SIGHUP');
    await until(
      () => logs.filter((l) => l.msg === 'Configuration reloaded').length === 2,
      'second reload',
      logs,
    );
    await until(() => inFlight(logs) <= 1, 'back to one child', logs);
    expect(logs.slice(beforeShrink).filter((l) => l.msg === 'dispatch end' && l.outcome !== 'ok')).toEqual(
      [],
    );

    // A broken file is reported and ignored; the daemon keeps running the old config.
    writeConfig(configFile, 'three');
    daemon.child.kill('SIGHUP');
    await until(() => logs.some((l) => l.msg === RELOAD_FAILED), 'bad reload', logs);
    // The same problem lines as at start-up (file:line:col: path: message), no stack trace.
    const failure = logs.find((l) => l.msg === RELOAD_FAILED);
    expect(failure).toMatchObject({ level: 'error', file: configFile });
    expect(failure?.problems).toEqual([
      expect.stringMatching(/^\S+cli-reload\.conf:3:37: groups\.basic\.runners: /),
    ]);
    expect(failure).not.toHaveProperty('stack');
    const afterBad = logs.length;
    await until(
      () => logs.slice(afterBad).some((l) => l.msg === 'dispatch start'),
      'still dispatching',
      logs,
    );
    expect(inFlight(logs)).toBeLessThanOrEqual(1);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(await claimedTotal()).toBe(0);
  });

  it('an uncaught exception: takes no new work, lets running children finish, exits 1', async () => {
    const configFile = join(farm.dir, 'cli-uncaught.conf');
    writeConfig(configFile, 2);
    for (const wiki of farm.wikis) await farm.pushJobs(wiki, { type: 'null', count: 30, usleep: 50_000 });
    await farm.pushJobs('wiki1', { type: 'typeA', count: 30, usleep: 50_000 });
    daemon = startDaemon(CLI, configFile, { nodeArgs: ['--import', THROW_HOOK] });
    const { logs } = daemon;
    await until(
      async () => inFlight(logs) === 2 && (await claimedTotal()) > 0,
      'two children running jobs',
      logs,
    );
    daemon.child.kill('SIGUSR2'); // the hook throws from a callback
    const { code, signal } = await daemon.exited;
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    const failAt = logs.findIndex(
      (l) => l.msg === 'Uncaught exception; taking no new work, draining, then exiting 1',
    );
    expect(failAt).toBeGreaterThan(0);
    expect(logs[failAt]).toMatchObject({ level: 'error', error: 'induced by test: uncaught exception' });
    // Drained like SIGTERM: no new dispatch, both children finished their batches, nothing claimed.
    expect(logs.slice(failAt).filter((l) => l.msg === 'dispatch start')).toEqual([]);
    const ends = logs.slice(failAt).filter((l) => l.msg === 'dispatch end');
    expect(ends).toHaveLength(2);
    expect(ends.every((l) => l.outcome === 'ok')).toBe(true);
    expect(await claimedTotal()).toBe(0);
    const { stored, waiting } = await storedVsWaiting();
    expect(stored).toBe(waiting);
    expect(waiting).toBeGreaterThan(0);
  });

  it('refuses to start with a bad config file: the problem on stderr with file:line:col and "did you mean", exit 1', async () => {
    const configFile = join(farm.dir, 'cli-bad.conf');
    writeConfig(configFile, 'two');
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('"runners"', '"runers"'));
    daemon = startDaemon(CLI, configFile);
    expect((await daemon.exited).code).toBe(1);
    // Exactly jobchron's wording: two plain lines, no JSON, no stack trace.
    expect(daemon.logs).toEqual([
      {
        msg: 'stderr',
        text:
          'jobrunner: invalid configuration:\n' +
          `${configFile}:3:26: groups.basic.runers: unknown key 'runers' in groups.basic; did you mean 'runners'?\n`,
      },
    ]);
  });
});
