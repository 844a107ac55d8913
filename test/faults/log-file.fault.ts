// logging.file on a full disk (/dev/full: every write fails with ENOSPC) and in a read-only
// directory (chattr +i, which holds even for root): jobrunner and jobchron keep running jobs, say
// so once on stderr, keep logging to stdout, and stop cleanly.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  requireBuilt,
  startDaemon,
  stopDaemon,
  tail,
  until,
  writeFigures,
  type Daemon,
} from './support.js';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let readOnlyDir: string;
const daemons: Daemon[] = [];

beforeAll(async () => {
  requireBuilt(RUNNER_CLI, ['src/observability/log-file.ts']);
  redis = await startRedisServer();
  farm = await buildFarm({ redis });
  client = new Redis({ host: redis.host, port: redis.port });
  readOnlyDir = mkdtempSync(join(tmpdir(), 'jobrunner-ro-logs-'));
  try {
    execFileSync('chattr', ['+i', readOnlyDir]);
  } catch (error) {
    throw new Error(
      `chattr +i is needed to make a directory read-only for root: ${(error as Error).message}`,
    );
  }
});

afterAll(async () => {
  for (const d of daemons) await stopDaemon(d);
  client?.disconnect();
  if (readOnlyDir) {
    execFileSync('chattr', ['-i', readOnlyDir]);
    rmSync(readOnlyDir, { recursive: true, force: true });
  }
  await farm?.destroy();
  await redis?.stop();
});

const CASES = [
  { name: 'disk full (/dev/full, ENOSPC)', file: () => '/dev/full' },
  { name: 'read-only directory (chattr +i)', file: () => join(readOnlyDir, 'jobrunner.log') },
];

describe('unwritable log file', () => {
  const figures: Record<string, unknown>[] = [];
  afterAll(() => writeFigures('log-file', { cases: figures }));

  for (const testCase of CASES) {
    it(`${testCase.name}: jobs still run, the daemons say so and stop cleanly`, async () => {
      await client.flushall();
      const configFile = join(farm.dir, 'log-file.conf');
      const config = {
        groups: { basic: { runners: 2, include: ['*'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: farm.runJobsCommand(),
        chron: { intervalMs: 200 },
        status: { enabled: false },
        logging: { level: 'info', file: testCase.file() },
      };
      writeFileSync(configFile, `// log-file fault run\n${JSON.stringify(config, null, 2)}\n`);
      const pushed =
        (await farm.pushJobs('wiki1', { count: 100 })) +
        (await farm.pushJobs('wiki2', { count: 20, delaySeconds: 2 }));
      const runner = startDaemon(RUNNER_CLI, configFile, ['--verbose']);
      const chron = startDaemon(CHRON_CLI, configFile, ['--verbose']);
      daemons.push(runner, chron);
      await until(
        async () => checkConsistency(await queueStates(client)).stored === 0,
        'every job done with an unwritable log file',
        120_000,
        () => tail(runner),
      );
      expect(runner.child.exitCode).toBeNull();
      expect(chron.child.exitCode).toBeNull();
      await stopDaemon(runner);
      await stopDaemon(chron);
      expect(await runner.exited).toEqual({ code: 0, signal: null });
      expect(await chron.exited).toEqual({ code: 0, signal: null });
      const said = (d: Daemon): boolean => d.rawLines.some((l) => l.includes('Log file not writable'));
      expect(said(runner), runner.rawLines.join('\n')).toBe(true);
      expect(said(chron), chron.rawLines.join('\n')).toBe(true);
      expect(runner.logs.some((l) => l.msg === 'dispatch start')).toBe(true);
      figures.push({ case: testCase.name, jobs: pushed, jobsLost: 0, daemonsAlive: true, reported: true });
    });
  }
});
