// kill -9 of jobchron instances at random moments while they undelay and recycle jobs: a second
// instance takes the partition over once the lease expires, a replacement starts each time, and
// at the end every job has run, none is in two states and no data is orphaned.
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
const KILLS = 8;
const LEASE_MS = 1500;

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let runner: Daemon | undefined;
const chrons: Daemon[] = [];

beforeAll(async () => {
  requireBuilt(CHRON_CLI, ['src/chron/chron.ts', 'src/cli/jobchron.ts']);
  requireBuilt(RUNNER_CLI, ['src/runner/runner.ts']);
  redis = await startRedisServer();
  farm = await buildFarm({ redis, debugLog: true });
  client = new Redis({ host: redis.host, port: redis.port });
});

afterAll(async () => {
  await stopDaemon(runner);
  for (const c of chrons) await stopDaemon(c);
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
});

const passes = (d: Daemon, from = 0): number =>
  d.logs.slice(from).filter((l) => l.msg === 'partition pass').length;

describe('kill -9 jobchron mid-pass', () => {
  it(`another instance takes over after the lease; ${KILLS} kills lose and corrupt nothing`, async () => {
    const random = seededRandom(SEED);
    const configFile = join(farm.dir, 'chron-kill.conf');
    const config = {
      groups: { basic: { runners: 2, include: ['*'] } },
      limits: { claimTTL: { '*': 3 }, attempts: { '*': 20 } },
      redis: { aggregators: [redis.address], queues: [redis.address] },
      dispatcher: farm.runJobsCommand(),
      runner: { highPriorityMaxTime: 3, lowPriorityMaxTime: 3 },
      chron: { intervalMs: 50, leaseTtlMs: LEASE_MS },
      status: { enabled: false },
      logging: { level: 'info' },
    };
    writeFileSync(configFile, `// chron-kill fault run\n${JSON.stringify(config, null, 2)}\n`);
    let pushed = 0;
    for (const wiki of farm.wikis) {
      // Delayed in waves, so the chron has undelay work throughout the kills.
      for (let wave = 0; wave < 5; wave++) {
        pushed += await farm.pushJobs(wiki, { count: 100, delaySeconds: 2 + wave * 3, usleep: 5000 });
      }
    }
    chrons.push(
      startDaemon(CHRON_CLI, configFile, ['--verbose']),
      startDaemon(CHRON_CLI, configFile, ['--verbose']),
    );
    runner = startDaemon(RUNNER_CLI, configFile, ['--verbose']);
    const takeoverMs: number[] = [];
    for (let k = 1; k <= KILLS; k++) {
      const alive = chrons.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
      await until(
        () => alive.some((c) => passes(c) > 0),
        'a chron pass',
        30_000,
        () => alive.map((c) => tail(c, 5)).join('\n'),
      );
      // The instance that passed most recently holds the lease: kill it, 0–300 ms after a pass began.
      const lastPass = (d: Daemon): string =>
        String(d.logs.filter((l) => l.msg === 'partition pass').at(-1)?.ts ?? '');
      const holder = alive.reduce((a, b) => (lastPass(b) > lastPass(a) ? b : a));
      await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
      const others = alive.filter((c) => c !== holder);
      const marks = others.map((c) => c.logs.length);
      await kill9(holder, false);
      const killedAt = Date.now();
      await until(
        () => others.some((c, i) => c.logs.slice(marks[i]).some((l) => l.msg === 'Partition lease acquired')),
        `takeover after kill ${k}`,
        30_000,
        () => others.map((c) => tail(c, 10)).join('\n'),
      );
      takeoverMs.push(Date.now() - killedAt);
      chrons.push(startDaemon(CHRON_CLI, configFile, ['--verbose']));
    }
    await until(
      async () => checkConsistency(await queueStates(client)).stored === 0,
      'every job done',
      180_000,
      () => tail(runner),
    );
    const consistency = checkConsistency(await queueStates(client));
    const { good } = readExecutions(farm.dir);
    writeFigures('chron-kill', {
      seed: SEED,
      jobs: pushed,
      kills: KILLS,
      leaseTtlMs: LEASE_MS,
      executedDistinct: good.size,
      jobsLost: pushed - good.size,
      duplicates: [...good.values()].reduce((s, n) => s + n - 1, 0),
      inTwoStates: consistency.inTwoStates.length,
      orphanedData: consistency.orphanedData.length,
      takeoverMsMedian: median(takeoverMs),
      takeoverMsMax: Math.max(...takeoverMs),
    });
    expect(good.size).toBe(pushed);
    expect(consistency).toMatchObject({
      stored: 0,
      claimed: 0,
      abandoned: 0,
      inTwoStates: [],
      orphanedData: [],
      missingData: [],
    });
  });
});
