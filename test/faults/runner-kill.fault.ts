// kill -9 of the jobrunner at random moments during a 5,000-job run, 20 times, on a real
// redis-server and the real MediaWiki farm, with a jobchron daemon recycling stale claims.
// Odd kills take the daemon only (its runJobs.php children finish on their own, like systemd's
// KillMode=process); even kills take the whole tree (like the default cgroup kill, so jobs die
// mid-run). Every job must end done, nothing may stay claimed, and every job that ran twice must
// have been in flight (claimed) at a kill.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import {
  CHRON_CLI,
  RUNNER_CLI,
  checkConsistency,
  claimedIds,
  kill9,
  median,
  queueStates,
  readExecutions,
  requireBuilt,
  seededRandom,
  startDaemon,
  stopDaemon,
  tail,
  until,
  writeFigures,
  type Daemon,
} from './support.js';

const SEED = Number(process.env.FAULT_SEED ?? 9009);
const KILLS = 20;
const TYPES = ['faultA', 'faultB'];
const PER_QUEUE = 1250; // 2 wikis × 2 types × 1250 = 5,000 jobs
const CLAIM_TTL = 5;

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let runner: Daemon | undefined;
let chron: Daemon | undefined;

beforeAll(async () => {
  requireBuilt(RUNNER_CLI, ['src/runner/runner.ts', 'src/cli/jobrunner.ts']);
  requireBuilt(CHRON_CLI, ['src/chron/chron.ts', 'src/cli/jobchron.ts']);
  redis = await startRedisServer();
  farm = await buildFarm({ redis, debugLog: true });
  await farm.setExtraJobTypes(Object.fromEntries(TYPES.map((t) => [t, 'null' as const])));
  client = new Redis({ host: redis.host, port: redis.port });
});

afterAll(async () => {
  await stopDaemon(runner);
  await stopDaemon(chron);
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
});

function writeConfig(file: string): void {
  const config = {
    groups: { basic: { runners: 3, include: ['*'] } },
    limits: { claimTTL: { '*': CLAIM_TTL }, attempts: { '*': 25 } },
    redis: { aggregators: [redis.address], queues: [redis.address] },
    dispatcher: farm.runJobsCommand(),
    runner: { highPriorityMaxTime: 4, lowPriorityMaxTime: 4, drainTimeoutSeconds: 10 },
    chron: { intervalMs: 200 },
    status: { enabled: false },
    logging: { level: 'info' },
  };
  writeFileSync(file, `// runner-kill fault run\n${JSON.stringify(config, null, 2)}\n`);
}

describe('kill -9 jobrunner during a 5,000-job run', () => {
  it(`loses no job over ${KILLS} kills; duplicates only among jobs in flight at a kill`, async () => {
    const random = seededRandom(SEED);
    const configFile = join(farm.dir, 'runner-kill.conf');
    writeConfig(configFile);
    let pushed = 0;
    for (const wiki of farm.wikis) {
      for (const type of TYPES)
        pushed += await farm.pushJobs(wiki, { type, count: PER_QUEUE, usleep: 30_000 });
    }
    expect(pushed).toBe(5000);
    const startedAt = Date.now();
    chron = startDaemon(CHRON_CLI, configFile, ['--verbose']);

    const inFlightAtKill: number[] = [];
    const childrenAtKill: number[] = [];
    const claimedAtKills = new Set<string>();
    const recoveryMs: number[] = [];
    for (let k = 1; k <= KILLS; k++) {
      const spawnedAt = Date.now();
      runner = startDaemon(RUNNER_CLI, configFile, ['--verbose']);
      const current = runner;
      await until(
        () => current.logs.some((l) => l.msg === 'dispatch start'),
        `runner #${k} to dispatch (the run must still have work at every kill)`,
        30_000,
        () => tail(current),
      );
      recoveryMs.push(Date.now() - spawnedAt);
      await new Promise((r) => setTimeout(r, 200 + Math.floor(random() * 1300)));
      const withChildren = k % 2 === 0;
      const children = await kill9(current, withChildren);
      childrenAtKill.push(children.length);
      // After a tree kill nobody can ack any more: what is claimed now was in flight at the kill.
      const claimed = await claimedIds(client);
      inFlightAtKill.push(claimed.length);
      for (const id of claimed) claimedAtKills.add(id);
    }

    runner = startDaemon(RUNNER_CLI, configFile, ['--verbose']);
    const last = runner;
    await until(
      async () => {
        const c = checkConsistency(await queueStates(client));
        return c.stored === 0;
      },
      'every job done',
      300_000,
      () => tail(last),
    );
    const finishedAt = Date.now();
    await stopDaemon(runner);
    await stopDaemon(chron);

    const c = checkConsistency(await queueStates(client));
    const { good, bySeq } = readExecutions(farm.dir);
    const missing: string[] = [];
    for (const wiki of farm.wikis) {
      for (const type of TYPES) {
        for (let seq = 0; seq < PER_QUEUE; seq++) {
          if (!bySeq.has(`${wiki} ${type} ${seq}`)) missing.push(`${wiki} ${type} ${seq}`);
        }
      }
    }
    const duplicated = [...good].filter(([, n]) => n > 1);
    const duplicates = duplicated.reduce((sum, [, n]) => sum + n - 1, 0);
    const duplicatedNotInFlight = duplicated.filter(([uuid]) => !claimedAtKills.has(uuid)).map(([u]) => u);
    const figures = {
      seed: SEED,
      jobs: pushed,
      kills: KILLS,
      killsOfWholeTree: KILLS / 2,
      executedDistinct: good.size,
      jobsLost: missing.length,
      abandoned: c.abandoned,
      stillClaimed: c.claimed,
      duplicates,
      inFlightAtKillsTotal: inFlightAtKill.reduce((a, b) => a + b, 0),
      inFlightAtKill,
      childrenAtKill,
      recoveryMsMedian: median(recoveryMs),
      recoveryMsMax: Math.max(...recoveryMs),
      wallSeconds: Math.round((finishedAt - startedAt) / 1000),
    };
    writeFigures('runner-kill', figures);

    expect(missing).toEqual([]);
    expect(good.size).toBe(5000);
    expect(c).toMatchObject({ stored: 0, claimed: 0, abandoned: 0, inTwoStates: [], orphanedData: [] });
    expect(duplicatedNotInFlight).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(figures.inFlightAtKillsTotal);
  });
});
