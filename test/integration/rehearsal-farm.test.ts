// The multi-host rehearsal (issue 17): eight hosts as namespaces of this machine, built by
// `puppet apply` of the module's roles, the code deployed by Wikimedia's real scap from the deploy
// host over ssh (canary first), while MediaWiki pushes jobs that the three runner hosts run
// (through Special:RunJobs on two php-fpm + Apache app servers, or runJobs.php on runner3). Every
// job writes a ledger line with the host that ran it, so "nothing lost, nothing run twice" is
// counted, not assumed. Then a runner host's and the chron lease holder's cables are pulled.
//
// Needs root, openssh-server, php8.2-fpm, apache2, puppet and scap in /opt/jobrunner-scap
// (scripts/setup.sh); fails naming what is missing. Every namespace, cable, mount and process of
// this farm is removed in afterAll; farms of dead runs are swept before the build, live ones
// (a concurrent suite's) are left alone.
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKey } from '../../src/mediawiki/queue-keys.js';
import { RehearsalFarm, REPO_DIR, SLEEP_JOB_TYPE } from '../../src/rehearsal/farm.js';
import { CLAIM_TTL_SECONDS, DRAIN_TIMEOUT_SECONDS, LEASE_TTL_MS } from '../../src/rehearsal/roles.js';
import { namespacesWithPrefix } from '../../src/rehearsal/sweep.js';
import { HOSTS } from '../../src/rehearsal/topology.js';
import type { ManagerEvent } from '../../src/rehearsal/units/supervisor.js';
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
interface DeployLogRecord {
  levelno: number;
  msg: string;
  host?: string;
  name: string;
  /** UNIX time (s) the record was made (on the host that made it). */
  created: number;
}

function latestDeployLog(): DeployLogRecord[] {
  const dir = farm.host('deploy').path(join(REPO_DIR, 'scap', 'log'));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  const text = readFileSync(join(dir, files.at(-1) ?? ''), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as DeployLogRecord);
}

/** The stand-in service manager's stop/start records of a host (manager.log). */
function managerEvents(host: string): ManagerEvent[] {
  const file = farm.host(host).path('/var/log/jr-units/manager.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ManagerEvent);
}

/** TimeoutStopSec of a unit Puppet installed on a host. */
function timeoutStopSeconds(host: string, unit: string): number {
  const text = readFileSync(farm.host(host).path(`/usr/lib/systemd/system/${unit}`), 'utf8');
  const match = /^TimeoutStopSec=(\d+)/m.exec(text);
  if (!match) throw new Error(`${host}: ${unit} has no TimeoutStopSec`);
  return Number(match[1]);
}

/** Every key of the sleep type's queues, both partitions: each job is acked or still somewhere. */
async function sleepQueueState(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const redisHost of ['redis1', 'redis2']) {
    for (const wiki of farm.wikis) {
      for (const prop of ['l-unclaimed', 'z-claimed', 'z-delayed', 'z-abandoned'] as const) {
        const key = queueKey(SLEEP_JOB_TYPE, wiki, prop);
        const reply = await farm.redisCli(redisHost, [prop.startsWith('l-') ? 'LLEN' : 'ZCARD', key]);
        counts[prop] = (counts[prop] ?? 0) + Number(reply);
      }
    }
  }
  return counts;
}

/** "<fence> <host>/<pid>/<random>" of a partition's chron lease, or '' when none is held. */
const leaseOf = (redisHost: string): Promise<string> =>
  farm.redisCli(redisHost, ['GET', 'jobrunner:chron:lease']);
const leaseHost = (value: string): string => value.split(' ')[1]?.split('/')[0] ?? '';
const leaseFence = (value: string): number => Number(value.split(' ')[0]);

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
      // And one longer job per round, so that restarts find dispatches in flight to drain.
      const wiki = farm.wikis[round % farm.wikis.length] ?? '';
      await farm.pushJobs(wiki, 1, `s${pushed + count}-${round}`, {
        type: SLEEP_JOB_TYPE,
        params: { seconds: 2 },
      });
      count += 1;
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
  // Removal takes seconds on a quiet machine; the bound is for a loaded one.
  await farm.destroy();
  // Nothing of this farm may be left, whatever happened above (other farms of the family may be
  // live: a concurrent suite's).
  expect(await namespacesWithPrefix(farm.prefix)).toEqual([]);
  expect(readdirSync('/var/tmp').filter((d) => d.startsWith(farm.prefix))).toEqual([]);
}, 300_000);

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
      // jobchron only where its role is: scap skips the unit Puppet masked on runner3
      // (require_valid_service), and restarts it on runner1 and runner2.
      const chronRestarts = log
        .filter((r) => r.msg === "Restarting service 'jobchron'")
        .map((r) => (r.host ?? '').split('.')[0]);
      expect(chronRestarts.sort()).toEqual(['runner1', 'runner2']);
      const state = await farm
        .host('runner3')
        .exec(['systemctl', 'is-enabled', 'jobchron.service'], { check: false });
      expect(state.stdout.trim()).toBe('masked');
      const active = await farm
        .host('runner3')
        .exec(['systemctl', 'is-active', 'jobchron.service'], { check: false });
      expect(active.stdout.trim()).toBe('inactive');
    },
  );

  it(
    'puppet apply of every role is idempotent: a second run changes nothing',
    { timeout: 300_000 },
    async () => {
      // The deploy left every host as Puppet wants it (runner3's jobchron stayed masked and down).
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

      // Each host drained and was back within its budget. Drain: the runner's SIGTERM to its exit
      // (the stand-in's manager.log), within runner.drainTimeoutSeconds and never killed at
      // TimeoutStopSec. Back: scap's restart command to its service_port check passing (the
      // deploy log), within the drain budget plus scap.cfg's service_timeout.
      const log = latestDeployLog();
      const serviceTimeout = Number(
        /^service_timeout: (\d+)/m.exec(readFileSync(join('scap', 'scap.cfg'), 'utf8'))?.[1],
      );
      const rows: string[] = [];
      for (const host of RUNNERS) {
        const stops = managerEvents(host).filter(
          (e) => e.unit === 'jobrunner.service' && e.event === 'stopped' && e.at >= started,
        );
        expect(stops, host).toHaveLength(1);
        const stop = stops[0] as ManagerEvent;
        expect(stop.killed, host).toBe(false);
        expect(stop.stopMs, host).toBeLessThanOrEqual(DRAIN_TIMEOUT_SECONDS * 1000);
        expect(DRAIN_TIMEOUT_SECONDS).toBeLessThan(timeoutStopSeconds(host, 'jobrunner.service'));
        const mine = log.filter((r) => (r.host ?? '').split('.')[0] === host);
        const restart = mine.find((r) => r.msg === "Restarting service 'jobrunner'");
        const portUp = mine.find((r) => /^Port 9150 up in /.test(r.msg));
        if (!restart || !portUp) throw new Error(`${host}: no restart or port check in the deploy log`);
        const backMs = (portUp.created - restart.created) * 1000;
        expect(backMs, host).toBeLessThanOrEqual((DRAIN_TIMEOUT_SECONDS + serviceTimeout) * 1000);
        rows.push(
          `${host} drained in ${(stop.stopMs ?? 0) / 1000} s, back in ${(backMs / 1000).toFixed(1)} s`,
        );
      }
      process.stdout.write(`[rehearsal] per host (restart → port up): ${rows.join('; ')}\n`);
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
      expect(
        afterRollback.some((r) => /check-takes-work: OK/.test(r.msg)),
        `deploy log from the rollback on:\n${afterRollback.map((r) => `${r.host ?? '-'} ${r.msg}`).join('\n')}`,
      ).toBe(true);
    },
  );
  it(
    "a runner host's link down mid-dispatch: its claims are recycled by a chron elsewhere, nothing is lost, and it rejoins",
    { timeout: 300_000 },
    async () => {
      // runner3 runs runJobs.php itself: the claims of its running jobs are its own. Sleep jobs
      // keep its slots busy when its cable is pulled.
      const seconds = 8;
      const batch = 'cut';
      const perWiki = 6;
      for (const wiki of farm.wikis)
        await farm.pushJobs(wiki, perWiki, batch, { type: SLEEP_JOB_TYPE, params: { seconds } });
      const total = perWiki * farm.wikis.length;
      const ofBatch = (job: string): boolean => job.split(' ')[1] === batch;
      const done = (): Set<string> => new Set(farm.ledger().filter(ofBatch));
      await until(
        () => {
          const finished = done();
          return farm
            .ledgerEntries('started')
            .some((e) => e.host === 'runner3' && ofBatch(e.job) && !finished.has(e.job));
        },
        'a sleep job running on runner3',
        120_000,
        { pollMs: 100 },
      );
      await farm.network.link('runner3', false);
      const downAt = Date.now();
      try {
        // Recovered: every job of the batch ran to its end and nothing of the type is left in Redis
        // (no claim, nothing queued, nothing abandoned).
        const empty = { 'l-unclaimed': 0, 'z-claimed': 0, 'z-delayed': 0, 'z-abandoned': 0 };
        // Bound of the mechanism: the job's run + claimTTL + a chron round + the rerun, with room
        // for a busy machine.
        await until(
          async () =>
            done().size === total && JSON.stringify(await sleepQueueState()) === JSON.stringify(empty),
          `all ${total} sleep jobs done and their queues empty`,
          (2 * seconds + CLAIM_TTL_SECONDS) * 1000 + 90_000,
          { pollMs: 250 },
        );
      } finally {
        await farm.network.link('runner3', true);
      }
      const recoveredMs = Date.now() - downAt;
      const upAt = Date.now();
      const runs = farm.ledgerEntries().filter((e) => ofBatch(e.job));
      const startedOnRunner3 = new Set(
        farm
          .ledgerEntries('started')
          .filter((e) => e.host === 'runner3' && ofBatch(e.job) && e.at <= downAt)
          .map((e) => e.job),
      );
      const twice = [...new Set(runs.map((e) => e.job))].filter(
        (job) => runs.filter((e) => e.job === job).length > 1,
      );
      // At least once for every job. Twice only for a job runner3 ran as its cable was pulled: it
      // ran to its end there (its ledger line), but the ack never reached Redis, so after claimTTL
      // the chron on another host put it back and it ran again: the queue's contract is
      // at-least-once, and a job that ran but was not acked is run again rather than lost.
      expect(done().size).toBe(total);
      for (const job of twice) {
        expect(startedOnRunner3.has(job), `${job} ran twice but did not start on runner3`).toBe(true);
        expect(runs.filter((e) => e.job === job && e.host !== 'runner3').length, job).toBeGreaterThan(0);
      }
      expect(twice.length).toBeGreaterThan(0);
      process.stdout.write(
        `[rehearsal] runner3's cable pulled mid-dispatch: ${startedOnRunner3.size} jobs had started there; all ${total} done and the queues empty ${(recoveredMs / 1000).toFixed(1)} s later (claimTTL ${CLAIM_TTL_SECONDS} s, jobs ${seconds} s); ran twice: ${twice.join(', ')}\n`,
      );

      // runner3 rejoins: it runs jobs again once its cable is back. The other hosts may run a whole
      // batch before runner3's Redis connections are back (their reconnect back-off), so a new
      // batch goes out whenever the last one is done, until runner3 takes part.
      const rejoin = (e: { job: string }): boolean => e.job.split(' ')[1]?.startsWith('rejoin') === true;
      let batches = 0;
      const pushRejoinBatch = async (): Promise<void> => {
        batches += 1;
        for (const wiki of farm.wikis)
          await farm.pushJobs(wiki, 15, `rejoin${batches}`, { params: { usleep: 200_000 } });
      };
      await pushRejoinBatch();
      await until(
        async () => {
          const entries = farm.ledgerEntries().filter(rejoin);
          if (entries.some((e) => e.host === 'runner3')) return true;
          const lastDone = entries.filter((e) => e.job.split(' ')[1] === `rejoin${batches}`).length;
          if (lastDone >= 15 * farm.wikis.length) await pushRejoinBatch();
          return false;
        },
        'runner3 running jobs again after its cable is back',
        120_000,
        {
          pollMs: 250,
          detail: () =>
            `${batches} batches of ${15 * farm.wikis.length} jobs pushed; rejoin jobs run per host: ${JSON.stringify(
              Object.fromEntries(
                RUNNERS.map((h) => [h, farm.ledgerEntries().filter((e) => rejoin(e) && e.host === h).length]),
              ),
            )}`,
        },
      );
      process.stdout.write(
        `[rehearsal] runner3 ran a job again ${((Date.now() - upAt) / 1000).toFixed(1)} s after its cable was back (${batches} batch(es) pushed)\n`,
      );
    },
  );

  it(
    'the chron lease holder goes away: the other chron takes its partitions after the lease expires, and never two hold one',
    { timeout: 300_000 },
    async () => {
      await until(
        async () => (await leaseOf('redis1')) !== '' && (await leaseOf('redis2')) !== '',
        'both partitions leased',
        60_000,
        { pollMs: 200 },
      );
      const holder = leaseHost(await leaseOf('redis1'));
      const other = holder === 'runner1' ? 'runner2' : 'runner1';
      expect(['runner1', 'runner2']).toContain(holder);
      // Its partitions, their lease values and how long each had left when read.
      const held: { redis: string; value: string; expiresAfter: number }[] = [];
      for (const redis of ['redis1', 'redis2']) {
        const readAt = Date.now();
        const [value, pttl] = (
          await farm.redisCli(redis, [
            'EVAL',
            "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}",
            '1',
            'jobrunner:chron:lease',
          ])
        ).split('\n');
        if (value && leaseHost(value) === holder)
          held.push({ redis, value, expiresAfter: readAt + Number(pttl) });
      }
      expect(held.length).toBeGreaterThan(0);
      const chronLog = farm.host(holder).path('/var/log/jr-units/jobchron.service.log');
      const logOffset = existsSync(chronLog) ? readFileSync(chronLog).length : 0;

      await farm.network.link(holder, false);
      const downAt = Date.now();
      const seen = new Map<string, string[]>();
      const sample = async (): Promise<void> => {
        for (const { redis } of held) {
          const value = await leaseOf(redis);
          const values = seen.get(redis) ?? [];
          if (values.at(-1) !== value) values.push(value);
          seen.set(redis, values);
        }
      };
      const takenAt = new Map<string, number>();
      try {
        await until(
          async () => {
            await sample();
            for (const { redis } of held) {
              const now = seen.get(redis)?.at(-1) ?? '';
              if (!takenAt.has(redis) && leaseHost(now) === other) takenAt.set(redis, Date.now());
            }
            return takenAt.size === held.length;
          },
          `${other} holding ${held.map((h) => h.redis).join(' and ')}`,
          LEASE_TTL_MS + 60_000,
          { pollMs: 100 },
        );
      } finally {
        await farm.network.link(holder, true);
      }
      const upAt = Date.now();
      for (const { redis, value, expiresAfter } of held) {
        const at = takenAt.get(redis) ?? 0;
        const value2 = seen.get(redis)?.find((v) => leaseHost(v) === other) ?? '';
        // A new acquisition (higher fence), made only after the old lease had expired: SET NX
        // cannot succeed before, and a renewal only makes the old lease last longer.
        expect(leaseFence(value2), redis).toBeGreaterThan(leaseFence(value));
        expect(at, redis).toBeGreaterThanOrEqual(expiresAfter);
        process.stdout.write(
          `[rehearsal] ${holder}'s cable pulled: ${other} took the lease of ${redis} ${((at - downAt) / 1000).toFixed(1)} s later (lease TTL ${LEASE_TTL_MS / 1000} s)\n`,
        );
      }
      // The first holder comes back: it finds its lease gone (its renewal fails, the fence having
      // moved on) and never holds the old lease again.
      await until(
        async () => {
          await sample();
          const text = existsSync(chronLog) ? readFileSync(chronLog).subarray(logOffset).toString() : '';
          return /Partition lease lost/.test(text);
        },
        `${holder}'s jobchron noticing its lease is gone`,
        60_000,
        { pollMs: 200 },
      );
      for (const { redis, value } of held) {
        const values = seen.get(redis) ?? [];
        const after = values.slice(values.indexOf(value) + 1);
        expect(after, redis).not.toContain(value);
      }
      process.stdout.write(
        `[rehearsal] ${holder} back; it noticed the lost lease ${((Date.now() - upAt) / 1000).toFixed(1)} s later\n`,
      );
      // The farm runs jobs on every partition afterwards.
      for (const wiki of farm.wikis) await farm.pushJobs(wiki, 5, 'after-lease');
      await until(
        () => farm.ledger().filter((j) => j.split(' ')[1] === 'after-lease').length >= 5 * farm.wikis.length,
        'jobs pushed after the lease test ran',
        120_000,
        { pollMs: 250 },
      );
    },
  );
});
