// The multi-host rehearsal (issue 17): eight hosts as namespaces of this machine, built by
// `puppet apply` of the module's roles, the code deployed by Wikimedia's real scap from the deploy
// host over ssh (canary first), while MediaWiki pushes jobs that the three runner hosts run
// through Special:RunJobs on two php-fpm + Apache app servers. Every job writes a ledger line, so
// "nothing lost, nothing run twice" is counted, not assumed.
//
// Needs root, openssh-server, php8.2-fpm, apache2, puppet and scap in /opt/jobrunner-scap
// (scripts/setup.sh); fails naming what is missing. Every namespace, cable, mount and process is
// removed in afterAll, and a sweep by prefix removes leftovers of an earlier crashed run first.
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RehearsalFarm, REPO_DIR } from '../../src/rehearsal/farm.js';
import { namespacesWithPrefix } from '../../src/rehearsal/sweep.js';
import { HOSTS } from '../../src/rehearsal/topology.js';
import { requireFreshBuild } from '../support/fresh-build.js';
import { until } from '../support/until.js';

const FAMILY = 'jr17-';
const RUNNERS = HOSTS.filter((h) => h.role === 'runner').map((h) => h.name);
let farm: RehearsalFarm;
const builds: string[] = [];
let pushed = 0;

/** The revision a runner host's `current` code link points to (scap's final path). */
function liveRevision(host: string): string | undefined {
  const link = farm.host(host).path('/srv/deployment/jobrunner/jobrunner');
  return existsSync(link) ? realpathSync(link).split('/').pop() : undefined;
}

function fetchedRevisions(host: string): string[] {
  const dir = farm.host(host).path('/srv/deployment/jobrunner/jobrunner-cache/revs');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The scap deploy log (JSON lines) of the latest deploy, as `scap deploy-log` reads it. */
function latestDeployLog(): Array<{ levelno: number; msg: string; host?: string; name: string }> {
  const dir = farm.host('deploy').path(join(REPO_DIR, 'scap', 'log'));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  const text = readFileSync(join(dir, files.at(-1) ?? ''), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { levelno: number; msg: string; host?: string; name: string });
}

/** Pushes ledger jobs to every wiki every `everyMs` until stopped; resolves to the number pushed. */
function pushWhile(everyMs: number, perWiki: number): { stop: () => Promise<number> } {
  let stopped = false;
  let count = 0;
  const loop = (async () => {
    for (let round = 0; !stopped; round++) {
      for (const wiki of farm.wikis) {
        await farm.pushJobs(wiki, perWiki, `p${pushed + count}-${round}`);
        count += perWiki;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return count;
    },
  };
}

/** Waits until every pushed job has a ledger line, then checks none has two. */
async function expectEveryJobRanOnce(timeoutMs: number): Promise<void> {
  await until(() => farm.ledger().length >= pushed, `${pushed} ledger lines`, timeoutMs, { pollMs: 500 });
  const lines = farm.ledger();
  const twice = lines.filter((line, i) => lines.indexOf(line) !== i);
  expect(twice).toEqual([]);
  expect(lines.length).toBe(pushed);
}

beforeAll(async () => {
  requireFreshBuild([join('dist', 'rehearsal', 'units', 'daemon.js'), join('dist', 'cli', 'jobrunner.js')]);
  const started = Date.now();
  farm = await RehearsalFarm.build({
    family: FAMILY,
    log: (line) => process.stdout.write(`[rehearsal] ${line}\n`),
  });
  process.stdout.write(`[rehearsal] farm built in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}, 400_000);

afterAll(async () => {
  if (!farm) return;
  await farm.destroy();
  // Nothing of this farm may be left, whatever happened above (other farms of the family may be
  // live: a concurrent suite's).
  expect(await namespacesWithPrefix(farm.prefix)).toEqual([]);
  expect(readdirSync('/var/tmp').filter((d) => d.startsWith(farm.prefix))).toEqual([]);
}, 120_000);

describe('rehearsal farm: Puppet builds the hosts, scap deploys across them', () => {
  it(
    'first deploy: scap deploys over ssh, canary first, and starts the units Puppet installed',
    { timeout: 400_000 },
    async () => {
      builds.push(await farm.buildRelease('rehearsal build A'));
      const result = await farm.scap(['deploy', '-v', 'rehearsal: first deploy']);
      expect(result.code, result.stdout.slice(-5000) + result.stderr.slice(-5000)).toBe(0);
      for (const host of RUNNERS) expect(liveRevision(host), host).toBe(builds[0]);
      const log = latestDeployLog();
      const groups = log
        .filter((r) => /^\n== (CANARY|DEFAULT) ==/.test(r.msg))
        .map((r) => r.msg.split('==')[1]?.trim());
      // The stages run group by group (the later pair is finalize).
      expect(groups.slice(0, 2)).toEqual(['CANARY', 'DEFAULT']);
      // Passing checks show at the default level (INFO) with a one-line summary (scap-log.mjs).
      const summaries = log.filter((r) => r.levelno >= 20 && /^check-[a-z-]+: OK: /.test(r.msg));
      expect(summaries.map((r) => r.msg.split(':')[0])).toEqual(
        expect.arrayContaining(['check-config', 'check-health', 'check-takes-work']),
      );
    },
  );

  it(
    'puppet apply of every role is idempotent: a second run changes nothing',
    { timeout: 300_000 },
    async () => {
      // scap's `service jobchron restart` also started the jobchron Puppet keeps stopped (not
      // masked) on runner3; Puppet's next run stops it again, and that is its only change.
      const runner3 = HOSTS.find((h) => h.name === 'runner3');
      if (!runner3) throw new Error('no runner3 in the topology');
      const drift = await farm.applyRole(runner3);
      expect(drift.stdout.split('\n').filter((l) => l.startsWith('Notice: /Stage'))).toEqual([
        "Notice: /Stage[main]/Jobrunner::Chron/Jobrunner::Service_unit[jobchron]/Service[jobchron]/ensure: ensure changed 'running' to 'stopped'",
      ]);
      const runs = await Promise.all(
        HOSTS.filter((h) => h.role !== 'redis').map(async (plan) => ({
          host: plan.name,
          run: await farm.applyRole(plan),
        })),
      );
      for (const { host, run } of runs)
        expect({ host, code: run.code, out: run.code === 0 ? '' : run.stdout }).toEqual({
          host,
          code: 0,
          out: '',
        });
    },
  );

  it(
    'a full deploy while MediaWiki pushes: 0 jobs lost, 0 run twice, every host on the new build',
    { timeout: 400_000 },
    async () => {
      builds.push(await farm.buildRelease('rehearsal build B'));
      const pushing = pushWhile(300, 5);
      const started = Date.now();
      const result = await farm.scap(['deploy', '-v', 'rehearsal: deploy B under load']);
      const seconds = (Date.now() - started) / 1000;
      pushed += await pushing.stop();
      process.stdout.write(
        `[rehearsal] deploy of B to ${RUNNERS.length} runner hosts took ${seconds.toFixed(0)} s; ${pushed} jobs pushed meanwhile\n`,
      );
      expect(result.code, result.stdout.slice(-5000)).toBe(0);
      for (const host of RUNNERS) expect(liveRevision(host), host).toBe(builds[1]);
      expect(pushed).toBeGreaterThan(0);
      await expectEveryJobRanOnce(120_000);
    },
  );

  it(
    'a broken build fails on the canary, is rolled back there, and never reaches the other hosts',
    { timeout: 400_000 },
    async () => {
      // Build C: a jobrunner and a jobqueue CLI that refuse to start. The canary's live_config check
      // rejects it after promote; scap rolls the canary back to B and runs the restart checks again,
      // which must use B's CLIs (SCAP_CURRENT_REV_DIR), not C's (SCAP_REV_PATH).
      const broken = await farm.buildRelease('rehearsal build C (broken)', (repo) => {
        for (const cli of ['jobrunner.js', 'jobqueue.js']) {
          const file = join(repo, 'dist', 'cli', cli);
          writeFileSync(file, "console.error('broken build'); process.exit(3);\n");
        }
      });
      const result = await farm.scap(['deploy', '-v', 'rehearsal: broken build C']);
      expect(result.code).not.toBe(0);
      expect(liveRevision('runner1')).toBe(builds[1]);
      for (const host of RUNNERS.slice(1)) {
        expect(liveRevision(host), host).toBe(builds[1]);
        expect(fetchedRevisions(host), host).not.toContain(broken);
      }
      const log = latestDeployLog();
      const failedCheck = log.find((r) => /Check 'live_config' failed/.test(r.msg));
      expect(failedCheck?.msg).toMatch(/broken build/);
      const afterRollback = log.slice(log.findIndex((r) => /Rolling back from revision/.test(r.msg)));
      expect(afterRollback.some((r) => /check-takes-work: OK/.test(r.msg))).toBe(true);
    },
  );
});
