// Redis faults under a live jobrunner + jobchron on the real MediaWiki farm: a restart of an
// append-only redis-server, then the server gone (SIGKILL) for 30 s. Both daemons must stay up,
// say what is wrong, recover by themselves, and every job must still run (AOF keeps the queue).
// Duplicates are bounded, not zero: a job a child is running when Redis goes away cannot be
// acknowledged, so it stays claimed, jobchron recycles it after claimTTL and it runs again; a child
// whose ack failed stops (its next pop fails too). So at most one per runner slot per interruption.
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
  queueStates,
  readExecutions,
  requireBuilt,
  startDaemon,
  stopDaemon,
  tail,
  until,
  writeFigures,
  type Daemon,
} from './support.js';

const OUTAGE_MS = Number(process.env.FAULT_OUTAGE_MS ?? 30_000);
const TYPES = ['outageA', 'outageB'];
const PER_QUEUE = 400; // 2 wikis × 2 types × 400 = 1,600 jobs, a quarter of them delayed
const SLOTS = 2;
/** The restart and the outage. */
const INTERRUPTIONS = 2;

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let runner: Daemon | undefined;
let chron: Daemon | undefined;

beforeAll(async () => {
  requireBuilt(RUNNER_CLI, ['src/runner/runner.ts', 'src/cli/jobrunner.ts']);
  requireBuilt(CHRON_CLI, ['src/chron/chron.ts', 'src/cli/jobchron.ts']);
  redis = await startRedisServer({ appendOnly: true });
  farm = await buildFarm({ redis, debugLog: true });
  await farm.setExtraJobTypes(Object.fromEntries(TYPES.map((t) => [t, 'null' as const])));
  // Reconnects on its own after the restarts; commands wait for the connection.
  client = new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: null });
  client.on('error', () => {}); // expected while the server is down; the daemons are what is tested
});

afterAll(async () => {
  await stopDaemon(runner);
  await stopDaemon(chron);
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
});

const dispatches = (d: Daemon): number => d.logs.filter((l) => l.msg === 'dispatch start').length;
const passes = (d: Daemon): number => d.logs.filter((l) => l.msg === 'partition pass').length;
const problems = (d: Daemon, from: number): number =>
  d.logs.slice(from).filter((l) => l.level === 'warn' || l.level === 'error').length;

describe('Redis restart (AOF) and Redis unreachable', () => {
  it(`runner and chron back off, recover by themselves and lose nothing (outage ${OUTAGE_MS} ms)`, async () => {
    const configFile = join(farm.dir, 'redis-outage.conf');
    const config = {
      groups: { basic: { runners: SLOTS, include: ['*'] } },
      limits: { claimTTL: { '*': 5 }, attempts: { '*': 10 } },
      redis: {
        aggregators: [redis.address],
        queues: [redis.address],
        connectTimeoutMs: 1000,
        commandTimeoutMs: 2000,
      },
      dispatcher: farm.runJobsCommand(),
      runner: { highPriorityMaxTime: 3, lowPriorityMaxTime: 3 },
      chron: { intervalMs: 200, leaseTtlMs: 3000 },
      status: { enabled: false },
      logging: { level: 'info' },
    };
    writeFileSync(configFile, `// redis-outage fault run\n${JSON.stringify(config, null, 2)}\n`);
    let pushed = 0;
    for (const wiki of farm.wikis) {
      for (const type of TYPES) {
        pushed += await farm.pushJobs(wiki, { type, count: PER_QUEUE * 0.75, usleep: 20_000 });
        const delayed = await farm.pushJobs(wiki, { type, count: PER_QUEUE * 0.25, delaySeconds: 4 });
        pushed += delayed;
      }
    }
    // Counted by uuid below: the delayed batch reuses seq numbers 0..99.
    expect(pushed).toBe(1600);
    runner = startDaemon(RUNNER_CLI, configFile, ['--verbose']);
    chron = startDaemon(CHRON_CLI, configFile, ['--verbose']);
    const r = runner;
    const c = chron;
    await until(
      () => dispatches(r) >= 2 && passes(c) >= 2,
      'runner and chron at work',
      60_000,
      () => tail(r),
    );

    // 1. Restart (SIGTERM, start again on the same port and AOF).
    const beforeRestart = {
      dispatches: dispatches(r),
      passes: passes(c),
      logR: r.logs.length,
      logC: c.logs.length,
    };
    const restartAt = Date.now();
    await redis.restart();
    const restartedAt = Date.now();
    await until(
      () => dispatches(r) > beforeRestart.dispatches + 1 && passes(c) > beforeRestart.passes + 1,
      'work to resume after the restart',
      60_000,
      () => tail(r),
    );
    const restartRecoveryMs = Date.now() - restartedAt;
    const restartProblemsRunner = problems(r, beforeRestart.logR);
    const restartProblemsChron = problems(c, beforeRestart.logC);

    // 2. Gone for OUTAGE_MS (SIGKILL: no goodbye), then back with its AOF.
    const beforeOutage = {
      dispatches: dispatches(r),
      passes: passes(c),
      logR: r.logs.length,
      logC: c.logs.length,
    };
    await redis.kill9();
    const outageStart = Date.now();
    await new Promise((done) => setTimeout(done, OUTAGE_MS));
    expect(r.child.exitCode, 'jobrunner must survive the outage').toBeNull();
    expect(c.child.exitCode, 'jobchron must survive the outage').toBeNull();
    const outageProblemsRunner = problems(r, beforeOutage.logR);
    const outageProblemsChron = problems(c, beforeOutage.logC);
    const logLinesDuringOutage = r.logs.length - beforeOutage.logR + (c.logs.length - beforeOutage.logC);
    await redis.restart();
    const backAt = Date.now();
    const d0 = dispatches(r);
    const p0 = passes(c);
    await until(
      () => dispatches(r) > d0 && passes(c) > p0,
      'work to resume after the outage',
      120_000,
      () => tail(r),
    );
    const outageRecoveryMs = Date.now() - backAt;

    await until(
      async () => checkConsistency(await queueStates(client)).stored === 0,
      'every job done',
      300_000,
      () => tail(r),
    );
    await stopDaemon(runner);
    await stopDaemon(chron);
    const { good } = readExecutions(farm.dir);
    const consistency = checkConsistency(await queueStates(client));
    const duplicates = [...good.values()].reduce((sum, n) => sum + n - 1, 0);
    writeFigures('redis-outage', {
      jobs: pushed,
      executedDistinct: good.size,
      jobsLost: pushed - good.size,
      duplicates,
      duplicatesBound: SLOTS * INTERRUPTIONS,
      restart: {
        tookMs: restartedAt - restartAt,
        recoveryMs: restartRecoveryMs,
        warnOrErrorLines: { runner: restartProblemsRunner, chron: restartProblemsChron },
      },
      outage: {
        ms: backAt - outageStart,
        recoveryMs: outageRecoveryMs,
        warnOrErrorLines: { runner: outageProblemsRunner, chron: outageProblemsChron },
        logLinesDuringOutage,
      },
      beforeOutage,
    });
    expect(good.size).toBe(pushed);
    expect(duplicates).toBeLessThanOrEqual(SLOTS * INTERRUPTIONS);
    expect(consistency).toMatchObject({
      stored: 0,
      claimed: 0,
      abandoned: 0,
      inTwoStates: [],
      orphanedData: [],
    });
    // They said so, without flooding the log (back-off, not a hot loop).
    expect(outageProblemsRunner).toBeGreaterThan(0);
    expect(outageProblemsChron).toBeGreaterThan(0);
    expect(logLinesDuringOutage).toBeLessThan(2000);
  });
});
