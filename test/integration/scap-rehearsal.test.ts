// A local rehearsal of `scap deploy` on the MediaWiki test farm, with jobs flowing throughout:
//   build   scap/tools/build-deploy-repo.sh commits two builds to a deploy repo (git)
//   fetch   clone a build into <cache>/revs/<sha>, as scap's fetch stage does
//   promote the live-config check on the new revision, then swap the `current` symlink
//   restart scap/scripts/restart-services.mjs (pidfile supervisor: SIGTERM, drained exit, start)
//   checks  health, takes-work and error-rate on the new processes
// and afterwards every pushed job has run OK exactly once (statsd counters of both runner
// processes), nothing is left claimed, abandoned or queued.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/farm/free-port.js';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { isAlive, terminate, trackPid } from '../../src/farm/process-tree.js';
import type { RedisServerHandle } from '../../src/farm/redis-server.js';
import { queueKey } from '../../src/mediawiki/queue-keys.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';
import { queueLeftovers } from '../support/queue-leftovers.js';
import { StatsdSink } from '../support/statsd-sink.js';
import { REPO, httpStatus, runScript, until, writeJson } from './scap-support.js';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let dir: string;
const sink = new StatsdSink();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scap-rehearsal-'));
  ({ redis, farm, client } = await startFarmStack({}, { rehearsalSleep: 'sleep' }));
  await sink.start();
});

afterAll(async () => {
  for (const name of ['jobrunner', 'jobchron']) {
    const pidFile = join(dir, 'run', `${name}.pid`);
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (isAlive(pid)) await terminate(pid, 20_000);
  }
  sink.stop();
  await stopFarmStack({ redis, farm, client });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const git = (args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();

function build(deployRepo: string, extra: string[]): string {
  const out = execFileSync(
    join(REPO, 'scap', 'tools', 'build-deploy-repo.sh'),
    ['--deploy-repo', deployRepo, '--working-tree', ...extra],
    {
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_NAME: 'rehearsal', GIT_AUTHOR_EMAIL: 'rehearsal@localhost' },
    },
  );
  expect(out).toMatch(/^build-deploy-repo: committed [0-9a-f]+ to /m);
  return git(['-C', deployRepo, 'rev-parse', 'HEAD']);
}

/** scap's fetch: the deploy repo at `sha` in its own revision directory. */
function fetchRev(deployRepo: string, revsDir: string, sha: string): string {
  const revDir = join(revsDir, sha);
  git(['clone', '-q', '--no-checkout', deployRepo, revDir]);
  git(['-C', revDir, 'checkout', '-q', sha]);
  return revDir;
}

/** scap's promote: point the final path at the revision, atomically. */
function promote(finalPath: string, revDir: string): void {
  const next = `${finalPath}.next`;
  rmSync(next, { force: true });
  symlinkSync(revDir, next);
  renameSync(next, finalPath);
}

async function claimedCount(): Promise<number> {
  let total = 0;
  for (const key of await client.keys('*:jobqueue:*:z-claimed')) total += await client.zcard(key);
  return total;
}

function pidOf(runDir: string, name: string): number {
  const pid = Number(readFileSync(join(runDir, `${name}.pid`), 'utf8'));
  trackPid(pid);
  return pid;
}

describe('deploy rehearsal: fetch → promote → restart with drain → checks', () => {
  it('ships a new revision while jobs flow, and loses no job', { timeout: 240_000 }, async () => {
    // Deploy repo with two builds: A compiled from this checkout, B a repackaging of its dist/.
    const deployRepo = join(dir, 'deploy-repo');
    mkdirSync(deployRepo);
    git(['-C', deployRepo, 'init', '-q']);
    const revA = build(deployRepo, ['--message', 'rehearsal A']);
    const revB = build(deployRepo, ['--prebuilt', '--message', 'rehearsal B']);
    expect(revB).not.toBe(revA);

    const [runnerPort, chronPort] = [await freePort(), await freePort()];
    const configFile = writeJson(join(dir, 'jobrunner.conf'), {
      groups: { basic: { runners: 3, include: ['*'] } },
      redis: { aggregators: [redis.address], queues: [redis.address] },
      dispatcher: farm.runJobsCommand(),
      statsd: `127.0.0.1:${sink.port}`,
      // Short dispatches, so a drain waits seconds rather than runJobs' default minute.
      runner: { highPriorityMaxTime: 3, lowPriorityMaxTime: 3, drainTimeoutSeconds: 60 },
      chron: { intervalMs: 500 },
      status: { address: '127.0.0.1', runnerPort, chronPort },
    });
    const srv = join(dir, 'srv');
    const revsDir = join(srv, 'jobrunner-cache', 'revs');
    const finalPath = join(srv, 'jobrunner');
    const runDir = join(dir, 'run');
    const settingsFile = join(dir, 'deploy-checks.env');
    // The host settings file the checks read (Puppet would write it).
    writeFileSync(settingsFile, 'JOBRUNNER_CANARY_WIKI=wiki1\nJOBRUNNER_ERROR_WINDOW=2\n');
    mkdirSync(join(dir, 'systemd-root'));
    const env = (revDir: string): Record<string, string> => ({
      JOBRUNNER_DEPLOY_CHECKS_ENV: settingsFile,
      JOBRUNNER_CONFIG_FILE: configFile,
      JOBRUNNER_NODE: process.execPath,
      JOBRUNNER_CHECK_STATE_DIR: join(dir, 'state'),
      JOBRUNNER_SYSTEMCTL_ROOT: join(dir, 'systemd-root'),
      JOBRUNNER_SUPERVISOR: 'pidfile',
      JOBRUNNER_RUN_DIR: runDir,
      SCAP_REV_PATH: revDir,
      SCAP_FINAL_PATH: finalPath,
    });
    const script = (name: string, revDir: string) =>
      runScript(join(revDir, 'scap', 'scripts', name), env(revDir));

    // First install of A. The bundle is self-contained: nothing above it has a node_modules.
    const dirA = fetchRev(deployRepo, revsDir, revA);
    for (const parent of [srv, dir, tmpdir(), '/'])
      expect(existsSync(join(parent, 'node_modules')), parent).toBe(false);
    const info = JSON.parse(readFileSync(join(dirA, 'BUILD-INFO.json'), 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({
      sourceRevision: git(['-C', REPO, 'rev-parse', 'HEAD']),
      nodeModulesAbi: process.versions.modules,
    });
    expect(existsSync(join(dirA, 'node_modules', 'ioredis', 'package.json'))).toBe(true);
    for (const devOnly of ['typescript', 'vitest', 'eslint'])
      expect(existsSync(join(dirA, 'node_modules', devOnly)), devOnly).toBe(false);
    promote(finalPath, dirA);
    const first = await script('restart-services.mjs', dirA);
    expect(first.stdout, first.stderr).toContain(`restart-services: jobrunner started as PID`);
    expect(first.code).toBe(0);
    const oldRunner = pidOf(runDir, 'jobrunner');
    const oldChron = pidOf(runDir, 'jobchron');
    expect(realpathSync(readlinkSync(`/proc/${oldRunner}/cwd`))).toBe(realpathSync(dirA));
    await until(async () => (await httpStatus(`http://127.0.0.1:${runnerPort}/readyz`)) === 200, 'A ready');
    await until(
      async () => (await httpStatus(`http://127.0.0.1:${chronPort}/readyz`)) === 200,
      'A chron ready',
    );

    // Jobs flow from here to the end of the deploy.
    let pushing = true;
    let pushed = 0;
    const pusher = (async () => {
      while (pushing) {
        const n = await farm.pushJobs('wiki2', { type: 'null', count: 4, usleep: 100_000 });
        pushed += n;
      }
    })();
    const okJobs = () => sink.sum(/^jobrunner\.pop\.[^.]+\.ok\./);
    await until(() => okJobs() > 0, 'A runs jobs');

    // fetch B; the canary's error-rate baseline is taken while A still runs.
    const dirB = fetchRev(deployRepo, revsDir, revB);
    const baseline = await script('error-rate-baseline.mjs', dirB);
    expect(baseline.stdout).toContain('error-rate-baseline: OK: before the deploy:');
    // promote: B must accept the live config before anything restarts onto it.
    const config = await script('check-config.mjs', dirB);
    expect(config.stdout).toContain(
      `check-config: OK: jobrunner and jobchron of ${dirB} accept ${configFile}`,
    );
    expect(config.code).toBe(0);
    promote(finalPath, dirB);

    // Long jobs in flight when the runner gets SIGTERM: the drain lets them finish.
    const sleepers = await farm.pushJobs('wiki1', {
      type: 'rehearsalSleep',
      count: 2,
      params: { seconds: 1.5 },
    });
    const sleeping = queueKey('rehearsalSleep', 'wiki1', 'z-claimed');
    await until(async () => (await client.zcard(sleeping)) > 0, 'a long job running before the restart');
    const restart = await script('restart-services.mjs', dirB);
    expect(restart.code, restart.stdout).toBe(0);
    expect(restart.stdout).toMatch(
      new RegExp(
        `jobrunner started as PID \\d+ from ${finalPath}; PID ${oldRunner} drained and stopped in [\\d.]+ s`,
      ),
    );
    expect(restart.stdout).toMatch(
      new RegExp(`jobchron started as PID \\d+ from ${finalPath}; PID ${oldChron} drained and stopped`),
    );
    const newRunner = pidOf(runDir, 'jobrunner');
    expect(isAlive(oldRunner)).toBe(false);
    expect(realpathSync(readlinkSync(`/proc/${newRunner}/cwd`))).toBe(realpathSync(dirB));
    const oldLog = readFileSync(join(runDir, 'jobrunner.log'), 'utf8');
    expect(oldLog).toContain('Caught signal; draining');

    // The checks after the restart, on B, with jobs still flowing.
    for (const name of ['check-health.mjs', 'check-takes-work.mjs', 'check-error-rate.mjs']) {
      const result = await script(name, dirB);
      expect(result.stdout, name).toMatch(/: OK: /);
      expect(result.code, `${name}: ${result.stdout}`).toBe(0);
      if (name === 'check-takes-work.mjs') {
        for (const m of result.stdout.matchAll(/pushed (\d+) null job\(s\) to wiki1/g))
          pushed += Number(m[1]);
      }
    }

    pushing = false;
    await pusher;
    const total = pushed + sleepers;
    await until(async () => Object.keys(await queueLeftovers(client)).length === 0, 'queues drained', 60_000);
    await until(() => okJobs() >= total, `${total} jobs counted OK`, 10_000);
    expect(okJobs()).toBe(total);
    expect(sink.sum(/^jobrunner\.pop\.[^.]+\.failed\./)).toBe(0);
    expect(await claimedCount()).toBe(0);
    for (const wiki of farm.wikis) expect((await farm.showJobs(wiki)).trim()).toBe('0');
  });
});
