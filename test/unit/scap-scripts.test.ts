// The pure parts of the scap deploy scripts (settings, Prometheus parsing, the error-rate verdict,
// the sudo hand-over) and the restart hook's systemd path, which runs against a stand-in systemctl
// that records its calls (no systemd runs here; the real one is used for masking in
// scap-checks.test.ts).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const LIB = resolve('scap/scripts/lib');
const load = async <T>(name: string): Promise<T> => (await import(pathToFileURL(join(LIB, name)).href)) as T;

interface SettingsModule {
  parseSettingsText(text: string, file: string): Record<string, string>;
  loadSettings(env: NodeJS.ProcessEnv): {
    configFile: string;
    codeDir: string;
    canaryWiki: string | undefined;
    canaryJobs: number;
    errorWindowSeconds: number;
    raw: Record<string, string>;
  };
  SettingsError: new (message: string) => Error;
}
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface PrometheusModule {
  parseMetrics(text: string): Sample[];
  jobCounters(samples: Sample[]): { ok: number; failed: number; problems: number };
  growth(before: number, after: number): number;
}
interface Window {
  ok: number;
  failures: number;
  seconds: number;
}
interface ErrorRateModule {
  judge(
    after: Window,
    baseline: Window | undefined,
    limits: { errorMinFailures: number; errorMaxRatio: number; errorFactor: number },
  ): { pass: boolean; message: string };
}
interface CheckModule {
  reexecCommand(
    settings: { node: string; raw: Record<string, string> },
    user: string,
    script: string,
  ): [string, string[]];
}

const dir = mkdtempSync(join(tmpdir(), 'scap-scripts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('settings', () => {
  it('reads KEY=VALUE files and names the line of a mistake', async () => {
    const { parseSettingsText } = await load<SettingsModule>('settings.mjs');
    expect(
      parseSettingsText(
        '# comment\n\nJOBRUNNER_CANARY_WIKI=enwiki\nexport JOBRUNNER_ERROR_WINDOW="45"\n',
        'f',
      ),
    ).toEqual({ JOBRUNNER_CANARY_WIKI: 'enwiki', JOBRUNNER_ERROR_WINDOW: '45' });
    expect(() => parseSettingsText('JOBRUNNER_CANARY_WIKKI=x\n', '/etc/default/j')).toThrow(
      /^\/etc\/default\/j:1: unknown setting JOBRUNNER_CANARY_WIKKI \(known: JOBRUNNER_CONFIG_FILE, /,
    );
    expect(() => parseSettingsText('\njust words\n', 'f')).toThrow(
      'f:2: expected KEY=VALUE, got: just words',
    );
    expect(() => parseSettingsText('JOBRUNNER_NODE=/opt/my node\n', 'f')).toThrow(/f:1: quote the value/);
  });

  it('the environment overrides the file; numbers are checked', async () => {
    const { loadSettings } = await load<SettingsModule>('settings.mjs');
    const file = join(dir, 'settings');
    writeFileSync(file, 'JOBRUNNER_CANARY_WIKI=fromfile\nJOBRUNNER_CANARY_JOBS=5\n');
    const settings = loadSettings({
      JOBRUNNER_DEPLOY_CHECKS_ENV: file,
      JOBRUNNER_CANARY_WIKI: 'fromenv',
      SCAP_REV_PATH: '/srv/deployment/jobrunner/jobrunner-cache/revs/abc',
      UNRELATED: 'x',
    });
    expect(settings).toMatchObject({
      canaryWiki: 'fromenv',
      canaryJobs: 5,
      errorWindowSeconds: 30,
      configFile: '/etc/jobrunner/jobrunner.conf',
      codeDir: '/srv/deployment/jobrunner/jobrunner-cache/revs/abc',
    });
    expect(settings.raw.UNRELATED).toBeUndefined();
    expect(() => loadSettings({ JOBRUNNER_DEPLOY_CHECKS_ENV: file, JOBRUNNER_ERROR_WINDOW: '-3' })).toThrow(
      'JOBRUNNER_ERROR_WINDOW=-3: expected a positive number',
    );
    expect(() => loadSettings({ JOBRUNNER_DEPLOY_CHECKS_ENV: join(dir, 'missing') })).toThrow(
      /cannot read settings file .*missing/,
    );
  });

  it('checks the live revision: in a rollback that is the one rolled back to, not SCAP_REV_PATH', async () => {
    const { loadSettings } = await load<SettingsModule>('settings.mjs');
    const revs = '/srv/deployment/jobrunner/jobrunner-cache/revs';
    writeFileSync(join(dir, 'none'), '');
    // What scap deploy-local sets after `promote` of a rollback from bad to good.
    const rollback = loadSettings({
      JOBRUNNER_DEPLOY_CHECKS_ENV: join(dir, 'none'),
      SCAP_REV_PATH: `${revs}/bad`,
      SCAP_CURRENT_REV_DIR: `${revs}/good`,
      SCAP_DONE_REV_DIR: `${revs}/good`,
    });
    expect(rollback.codeDir).toBe(`${revs}/good`);
    // The first deploy's fetch stage: no current revision yet (scap leaves the variable out).
    const first = loadSettings({
      JOBRUNNER_DEPLOY_CHECKS_ENV: join(dir, 'none'),
      SCAP_REV_PATH: `${revs}/new`,
    });
    expect(first.codeDir).toBe(`${revs}/new`);
  });

  it('a check with a bad settings file exits 2 and says which line', () => {
    const file = join(dir, 'bad-settings');
    writeFileSync(file, 'JOBRUNNER_CONFIG_FILE=/etc/jobrunner/jobrunner.conf\nJOBRUNNER_TIMEOUT=5\n');
    const result = spawnSync(process.execPath, [resolve('scap/scripts/check-health.mjs')], {
      env: { PATH: process.env.PATH, JOBRUNNER_DEPLOY_CHECKS_ENV: file },
      encoding: 'utf8',
    });
    expect(result.stdout).toContain(`check-health: ERROR: ${file}:2: unknown setting JOBRUNNER_TIMEOUT`);
    expect(result.status).toBe(2);
  });

  it('hands the settings over to the service user through sudo -n', async () => {
    const { reexecCommand } = await load<CheckModule>('check.mjs');
    const raw = { JOBRUNNER_CANARY_WIKI: 'testwiki', SCAP_REV_PATH: '/srv/x' };
    const [command, args] = reexecCommand(
      { node: '/usr/bin/node', raw },
      'jobrunner',
      '/srv/x/scap/scripts/check-health.mjs',
    );
    expect(command).toBe('sudo');
    expect(args.slice(0, 6)).toEqual([
      '-n',
      '-u',
      'jobrunner',
      '--',
      '/usr/bin/node',
      '/srv/x/scap/scripts/check-health.mjs',
    ]);
    const payload = args[6]?.replace('--settings-json=', '') ?? '';
    expect(JSON.parse(Buffer.from(payload, 'base64').toString('utf8'))).toEqual(raw);
  });
});

describe('summary line for scap deploy-log', () => {
  it("is one JSON log record at INFO that scap's JSONFormatter.make_record reads back", async () => {
    const { scapLogLine } = await load<{ scapLogLine(message: string): string }>('scap-log.mjs');
    const line = scapLogLine('check-health: OK: jobrunner and jobchron\n  healthy and ready');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toMatchObject({
      name: 'deploy-local.checks',
      levelno: 20,
      msg: 'check-health: OK: jobrunner and jobchron healthy and ready',
    });
  });

  it('writes nothing unless the parent process is scap deploy-local', async () => {
    const { logToScap } = await load<{ logToScap(message: string, parent?: number): boolean }>(
      'scap-log.mjs',
    );
    expect(logToScap('check-health: OK: x', process.pid)).toBe(false);
  });
});

describe('checks as the service user', () => {
  // sudo is not installed here: a stand-in with sudo's calling convention switches user with the
  // real runuser and, like sudo, starts the command with an empty environment.
  const bin = join(dir, 'bin');
  const sudoLog = join(dir, 'sudo.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'sudo'),
    [
      '#!/bin/sh',
      `echo "$*" >> '${sudoLog}'`,
      '[ "$FAKE_SUDO" = refuse ] && { echo "sudo: a password is required" >&2; exit 1; }',
      '[ "$1" = -n ] && [ "$2" = -u ] && [ "$4" = -- ] || { echo "unexpected sudo call: $*" >&2; exit 1; }',
      'user=$3; shift 4',
      'exec runuser -u "$user" -- env -i PATH=/usr/bin:/bin "$@"',
    ].join('\n'),
  );
  chmodSync(join(bin, 'sudo'), 0o755);
  const run = (extra: Record<string, string>) => {
    rmSync(sudoLog, { force: true });
    const settings = join(dir, 'service-user-settings');
    writeFileSync(settings, 'JOBRUNNER_CHECK_USER=nobody\n');
    return spawnSync(process.execPath, [resolve('scap/scripts/check-config.mjs')], {
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        JOBRUNNER_DEPLOY_CHECKS_ENV: settings,
        JOBRUNNER_CONFIG_FILE: resolve('test/fixtures/configs/jobrunner.sample.conf'),
        JOBRUNNER_CODE_DIR: resolve('.'),
        JOBRUNNER_NODE: process.execPath,
        ...extra,
      },
      encoding: 'utf8',
    });
  };

  it('re-runs the check as JOBRUNNER_CHECK_USER with the same settings', () => {
    const result = run({});
    expect(result.stdout).toBe(
      `check-config: OK: jobrunner and jobchron of ${resolve('.')} accept ${resolve('test/fixtures/configs/jobrunner.sample.conf')}\n`,
    );
    expect(result.status).toBe(0);
    expect(readFileSync(sudoLog, 'utf8')).toMatch(
      new RegExp(
        `^-n -u nobody -- ${process.execPath} ${resolve('scap/scripts/check-config.mjs')} --settings-json=\\S+\\n$`,
      ),
    );
  });

  it('says so when sudo refuses', () => {
    const result = run({ FAKE_SUDO: 'refuse' });
    expect(result.stdout).toContain('sudo: a password is required');
    expect(result.stdout).toContain(
      'check-config: ERROR: could not run as nobody with \'sudo -n -u nobody\' (exit status 1); see README "Deploying with scap3" for the sudo rule',
    );
    expect(result.status).toBe(2);
  });
});

describe('metrics and the error-rate verdict', () => {
  it('reads job and dispatch-problem counters; a lower reading is a restart', async () => {
    const { parseMetrics, jobCounters, growth } = await load<PrometheusModule>('prometheus.mjs');
    const text = [
      '# HELP jobrunner_jobs_total Jobs',
      '# TYPE jobrunner_jobs_total counter',
      'jobrunner_jobs_total{type="null",outcome="ok"} 7',
      'jobrunner_jobs_total{type="refresh\\"Links",outcome="failed"} 2',
      'jobrunner_jobs_total{type="null",outcome="failed"} 1',
      'jobrunner_dispatch_problems_total{status="error"} 3',
      'jobrunner_dispatch_problems_total{status="none"} 4',
      'jobrunner_slots_total{group="basic"} 2',
    ].join('\n');
    const samples = parseMetrics(text);
    expect(samples[1]?.labels.type).toBe('refresh"Links');
    expect(jobCounters(samples)).toEqual({ ok: 7, failed: 3, problems: 3 });
    expect(growth(10, 15)).toBe(5);
    expect(growth(10, 4)).toBe(4);
  });

  it("counts a Kafka-backend runner's event outcomes as job outcomes", async () => {
    const { parseMetrics, jobCounters } = await load<PrometheusModule>('prometheus.mjs');
    const text = [
      'jobrunner_kafka_events_total{rule="basic",outcome="ok"} 5',
      'jobrunner_kafka_events_total{rule="basic",outcome="retry"} 4',
      'jobrunner_kafka_events_total{rule="basic",outcome="failed"} 2',
      'jobrunner_kafka_events_total{rule="low_traffic",outcome="abandoned"} 1',
    ].join('\n');
    expect(jobCounters(parseMetrics(text))).toEqual({ ok: 5, failed: 3, problems: 0 });
  });

  it('fails only on a real jump over the floor or the baseline', async () => {
    const { judge } = await load<ErrorRateModule>('error-rate.mjs');
    const limits = { errorMinFailures: 5, errorMaxRatio: 0.1, errorFactor: 2 };
    const w = (ok: number, failures: number): Window => ({ ok, failures, seconds: 30 });
    expect(judge(w(0, 4), undefined, limits)).toMatchObject({ pass: true });
    expect(judge(w(0, 4), undefined, limits).message).toContain('fewer than 5 failures, nothing to judge');
    expect(judge(w(95, 5), undefined, limits).pass).toBe(true);
    const jump = judge(w(80, 20), undefined, limits);
    expect(jump.pass).toBe(false);
    expect(jump.message).toBe(
      'error rate jumped after the restart: 20 failure(s) and 80 OK job(s) in 30 s (20.0% failed); ' +
        'allowed 10.0% (no baseline from before the deploy, so the floor 10.0%)',
    );
    // Already 15% failing before the deploy: up to 30% passes, 40% does not.
    expect(judge(w(70, 30), w(85, 15), limits).pass).toBe(true);
    const worse = judge(w(60, 40), w(85, 15), limits);
    expect(worse.pass).toBe(false);
    expect(worse.message).toContain('allowed 30.0% (2× the 15.0% before the deploy, at least 10.0%)');
  });
});

describe('restart-services.mjs with systemd', () => {
  const fake = join(dir, 'systemctl');
  const calls = join(dir, 'systemctl.calls');
  // Stand-in systemctl: logs its arguments; unit states and the restart result come from env.
  writeFileSync(
    fake,
    [
      '#!/bin/sh',
      `echo "$*" >> '${calls}'`,
      'case "$1" in',
      '  is-enabled) case "$2" in jobrunner.service) echo "$FAKE_RUNNER";; *) echo "$FAKE_CHRON";; esac ;;',
      '  restart) [ "$FAKE_RESTART" = fail ] && { echo "Job for $2 failed." >&2; exit 1; }; exit 0 ;;',
      '  is-active) echo active ;;',
      'esac',
    ].join('\n'),
  );
  chmodSync(fake, 0o755);

  const run = (env: Record<string, string>) => {
    rmSync(calls, { force: true });
    const settings = join(dir, 'empty-settings');
    writeFileSync(settings, '');
    const result = spawnSync(process.execPath, [resolve('scap/scripts/restart-services.mjs')], {
      env: {
        PATH: process.env.PATH,
        JOBRUNNER_DEPLOY_CHECKS_ENV: settings,
        JOBRUNNER_SYSTEMCTL: fake,
        ...env,
      },
      encoding: 'utf8',
    });
    const log = (() => {
      try {
        return readFileSync(calls, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    })();
    return { ...result, calls: log };
  };

  it('restarts enabled units in order and skips masked ones', () => {
    const result = run({ FAKE_RUNNER: 'masked', FAKE_CHRON: 'enabled' });
    expect(result.stdout).toBe(
      'restart-services: jobrunner.service is masked (passive datacenter): skipped\n' +
        'restart-services: jobchron.service restarted\n',
    );
    expect(result.status).toBe(0);
    expect(result.calls).toEqual([
      'is-enabled jobrunner.service',
      'is-enabled jobchron.service',
      'restart jobchron.service',
      'is-active jobchron.service',
    ]);
    const both = run({ FAKE_RUNNER: 'enabled', FAKE_CHRON: 'enabled' });
    expect(both.calls.filter((c) => c.startsWith('restart'))).toEqual([
      'restart jobrunner.service',
      'restart jobchron.service',
    ]);
  });

  it('a failed restart stops the hook with the reason and where to look', () => {
    const result = run({ FAKE_RUNNER: 'enabled', FAKE_CHRON: 'enabled', FAKE_RESTART: 'fail' });
    expect(result.stdout).toContain(
      'restart-services: FAILED: systemctl restart jobrunner.service failed (exit status 1):',
    );
    expect(result.stdout).toContain('Job for jobrunner.service failed.');
    expect(result.stdout).toContain('see: journalctl -u jobrunner.service');
    expect(result.status).toBe(1);
    // jobchron is left alone once jobrunner failed.
    expect(result.calls).not.toContain('restart jobchron.service');
  });
});
