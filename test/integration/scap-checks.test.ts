// The scap deploy checks (scap/scripts/*.mjs) against a real jobrunner and jobchron on a real
// redis-server and MediaWiki 1.39 test farm: each passes when the services are healthy and fails,
// with a message saying why, when a service is down, the config is broken or the runner takes no
// work. Masked units (passive datacenter) are skipped; masking uses the real systemctl on a
// private --root.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/farm/free-port.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { REPO, SCRIPTS, runScript, startDaemon, waitReady, writeJson, type Daemon } from './scap-support.js';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let dir: string;
let runnerPort: number;
let chronPort: number;
let running: Daemon[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scap-checks-'));
  redis = await startRedisServer();
  farm = await buildFarm({ redis });
  runnerPort = await freePort();
  chronPort = await freePort();
});

afterAll(async () => {
  await farm?.destroy();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(running.map((d) => d.stop()));
  running = [];
});

interface ConfigOptions {
  runners?: number;
  dispatcher?: string;
  runner?: Record<string, unknown>;
}

function writeConfig(name: string, opts: ConfigOptions = {}): string {
  return writeJson(join(dir, name), {
    groups: { basic: { runners: opts.runners ?? 2, include: ['*'] } },
    redis: { aggregators: [redis.address], queues: [redis.address] },
    dispatcher: opts.dispatcher ?? farm.runJobsCommand(),
    status: { address: '127.0.0.1', runnerPort, chronPort },
    chron: { intervalMs: 500 },
    ...(opts.runner ? { runner: opts.runner } : {}),
  });
}

async function startServices(
  configFile: string,
  which: ('jobrunner' | 'jobchron')[] = ['jobrunner', 'jobchron'],
) {
  for (const name of which) {
    const daemon = startDaemon(name, configFile);
    running.push(daemon);
    await waitReady(daemon, `http://127.0.0.1:${name === 'jobrunner' ? runnerPort : chronPort}`);
  }
}

/** Settings for the scripts: no host settings file, this repo's build as the deployed code. */
function checkEnv(configFile: string, extra: Record<string, string> = {}): Record<string, string> {
  const settingsFile = join(dir, 'no-settings');
  writeFileSync(settingsFile, '# empty: everything comes from the environment\n');
  const systemdRoot = join(dir, 'systemd-root');
  mkdirSync(systemdRoot, { recursive: true });
  return {
    JOBRUNNER_DEPLOY_CHECKS_ENV: settingsFile,
    JOBRUNNER_CONFIG_FILE: configFile,
    JOBRUNNER_CODE_DIR: REPO,
    JOBRUNNER_NODE: process.execPath,
    JOBRUNNER_CANARY_WIKI: 'wiki1',
    JOBRUNNER_CHECK_STATE_DIR: join(dir, 'state'),
    JOBRUNNER_SYSTEMCTL_ROOT: systemdRoot,
    JOBRUNNER_ERROR_WINDOW: '2',
    ...extra,
  };
}

const check = (script: string, env: Record<string, string>) => runScript(join(SCRIPTS, script), env);

describe('deploy checks on a healthy host', () => {
  it('all pass: config accepted, both services healthy, the runner runs pushed jobs, no error jump', async () => {
    const configFile = writeConfig('healthy.conf');
    await startServices(configFile);
    const env = checkEnv(configFile);

    const baseline = await check('error-rate-baseline.mjs', env);
    expect(baseline.stdout).toMatch(/^error-rate-baseline: OK: before the deploy: 0 failure\(s\)/m);
    expect(baseline.code).toBe(0);

    const config = await check('check-config.mjs', env);
    expect(config.stdout).toContain(
      `check-config: OK: jobrunner and jobchron of ${REPO} accept ${configFile}`,
    );
    expect(config.code).toBe(0);

    const health = await check('check-health.mjs', env);
    expect(health.stdout).toContain(
      `check-health: OK: jobrunner (http://127.0.0.1:${runnerPort}) and jobchron (http://127.0.0.1:${chronPort}): /healthz and /readyz answer 200`,
    );
    expect(health.code).toBe(0);

    const work = await check('check-takes-work.mjs', env);
    expect(work.stdout).toMatch(
      /check-takes-work: OK: jobrunner ran \d+ job\(s\) OK within [\d.]+ s of pushing null jobs to wiki1/,
    );
    expect(work.code).toBe(0);

    const errors = await check('check-error-rate.mjs', env);
    expect(errors.stdout).toMatch(/check-error-rate: baseline: 0 failure\(s\)/);
    expect(errors.stdout).toMatch(/check-error-rate: OK: 0 failure\(s\) and \d+ OK job\(s\)/);
    expect(errors.code).toBe(0);
  });

  it('skips the service checks where the units are masked (passive datacenter)', async () => {
    const configFile = writeConfig('passive.conf');
    const root = join(dir, 'masked-root');
    mkdirSync(root, { recursive: true });
    execFileSync('systemctl', [`--root=${root}`, 'mask', 'jobrunner.service', 'jobchron.service'], {
      stdio: 'pipe',
    });
    const env = checkEnv(configFile, { JOBRUNNER_SYSTEMCTL_ROOT: root });
    // Nothing runs here; only the config check has something to look at.
    const health = await check('check-health.mjs', env);
    expect(health.stdout).toContain(
      'check-health: SKIPPED: jobrunner.service and jobchron.service masked (passive datacenter): nothing runs here',
    );
    expect(health.code).toBe(0);
    for (const script of ['check-takes-work.mjs', 'check-error-rate.mjs', 'error-rate-baseline.mjs']) {
      const result = await check(script, env);
      expect(result.stdout, script).toMatch(
        /SKIPPED: jobrunner\.service masked \(passive datacenter\): no runner here/,
      );
      expect(result.code, script).toBe(0);
    }
    const config = await check('check-config.mjs', env);
    expect(config.code, config.stdout).toBe(0);
  });
});

describe('deploy checks fail with a reason', () => {
  it('a broken config: check-config names the file and the problem', async () => {
    const broken = join(dir, 'broken.conf');
    writeFileSync(broken, '{ "groups": { "basic": { "runners": "many" } }, "redis": { "queues": [] } ');
    const result = await check('check-config.mjs', checkEnv(broken));
    expect(result.stdout).toContain(
      `check-config: FAILED: jobrunner of ${REPO} rejects ${broken} (exit status 1):`,
    );
    expect(result.stdout).toContain(broken);
    expect(result.code).toBe(1);

    const invalid = writeJson(join(dir, 'invalid.conf'), {
      groups: { basic: { runners: -1, include: ['*'] } },
    });
    const second = await check('check-config.mjs', checkEnv(invalid));
    expect(second.stdout).toMatch(/check-config: FAILED: jobrunner of .* rejects .*invalid\.conf/);
    expect(second.stdout).toMatch(/runners/);
    expect(second.code).toBe(1);

    const missing = await check('check-config.mjs', checkEnv(join(dir, 'nope.conf')));
    expect(missing.stdout).toContain(`check-config: FAILED: ${join(dir, 'nope.conf')} does not exist`);
    expect(missing.code).toBe(1);

    // The status checks read the same file and say so instead of guessing ports.
    const health = await check('check-health.mjs', checkEnv(broken, { JOBRUNNER_CHECK_TIMEOUT: '5' }));
    expect(health.stdout).toContain(`check-health: FAILED: cannot read ${broken}:`);
    expect(health.code).toBe(1);
  });

  it('a service down: check-health names it and what it saw', async () => {
    const configFile = writeConfig('runner-only.conf');
    await startServices(configFile, ['jobrunner']);
    const result = await check('check-health.mjs', checkEnv(configFile, { JOBRUNNER_CHECK_TIMEOUT: '3' }));
    expect(result.stdout).toContain('check-health: FAILED: not healthy and ready within 3 s:');
    expect(result.stdout).toContain(
      `jobchron http://127.0.0.1:${chronPort}/healthz: connection refused (is jobchron running?)`,
    );
    expect(result.stdout).not.toContain(`jobrunner http://`);
    expect(result.code).toBe(1);

    // With the runner down too, the work check cannot even read its counters.
    await running[0]?.stop();
    const work = await check('check-takes-work.mjs', checkEnv(configFile, { JOBRUNNER_CHECK_TIMEOUT: '5' }));
    expect(work.stdout).toContain(
      `check-takes-work: FAILED: cannot read jobrunner's metrics at http://127.0.0.1:${runnerPort}/metrics: connection refused`,
    );
    expect(work.code).toBe(1);
  });

  it('a runner with no slots: check-takes-work says it ran nothing', async () => {
    const configFile = writeConfig('idle.conf', { runners: 0 });
    await startServices(configFile);
    const result = await check(
      'check-takes-work.mjs',
      checkEnv(configFile, { JOBRUNNER_CHECK_TIMEOUT: '4' }),
    );
    expect(result.stdout).toMatch(/check-takes-work: pushed 3 null job\(s\) to wiki1 \(push 1\)/);
    expect(result.stdout).toMatch(
      /check-takes-work: FAILED: jobrunner on this host ran no job OK within 4 s of pushing 3 null job\(s\) to wiki1 in 1 push\(es\): it has no runner slots/,
    );
    expect(result.code).toBe(1);
  });

  it('a dispatcher that fails: no work done, and the error rate check fails', async () => {
    const failing = farm.runJobsCommand().replace('runJobs.php', 'noSuchRunJobs.php');
    // Short back-offs: the failures keep coming, as over a farm's many queues.
    const configFile = writeConfig('failing.conf', {
      dispatcher: failing,
      runner: { failureBackoffSeconds: 0.2, maxFailureBackoffSeconds: 0.5 },
    });
    await startServices(configFile);
    const env = checkEnv(configFile, { JOBRUNNER_CHECK_TIMEOUT: '5' });
    const work = await check('check-takes-work.mjs', env);
    expect(work.stdout).toMatch(
      /check-takes-work: FAILED: jobrunner on this host ran no job OK within 5 s .*: meanwhile 0 job\(s\) failed and [1-9]\d* dispatch\(es\) errored or timed out/,
    );
    expect(work.code).toBe(1);

    // Jobs are still queued (nothing ran them), so the runner keeps failing on them.
    const errors = await check(
      'check-error-rate.mjs',
      checkEnv(configFile, { JOBRUNNER_ERROR_WINDOW: '3', JOBRUNNER_ERROR_MIN_FAILURES: '1' }),
    );
    expect(errors.stdout).toMatch(
      /check-error-rate: FAILED: error rate jumped after the restart: [1-9]\d* failure\(s\) and 0 OK job\(s\) in \d+ s \(100\.0% failed\); allowed 10\.0%/,
    );
    expect(errors.code).toBe(1);
  });
});
