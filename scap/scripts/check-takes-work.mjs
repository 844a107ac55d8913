#!/usr/bin/env node
// @ts-check
// Deploy check (c), after the restart: the runner on this host actually runs jobs. Pushes a few
// MediaWiki null jobs to the canary wiki (JOBRUNNER_CANARY_WIKI) with the bundle's `jobqueue push`
// and waits for this runner's ok-job counter (jobrunner_jobs_total{outcome="ok"}) to rise. The
// queues are shared by every runner, so on an idle farm other hosts may take the jobs first: while
// the counter stands still, twice as many are pushed every few seconds (null jobs cost next to
// nothing) until the time limit. On a busy farm the counter rises from real work at once. Skipped
// when no canary wiki is configured or the unit is masked (passive datacenter).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CheckFailed, CheckSkipped, pause, runCheck } from './lib/check.mjs';
import { readJobCounters, readRunnerSlots, statusEndpoints } from './lib/daemons.mjs';
import { describeExit, runProcess, tail } from './lib/process.mjs';
import { growth } from './lib/prometheus.mjs';
import { activeDaemons } from './lib/units.mjs';

/** Seconds between pushes while this runner's ok counter has not moved. */
const REPUSH_SECONDS = 8;

/** Most null jobs one push adds. */
const MAX_PUSH = 100;

/**
 * @param {import('./lib/settings.mjs').Settings} settings
 * @param {string} wiki
 * @param {number} count
 * @param {number} deadline
 */
async function pushNullJobs(settings, wiki, count, deadline) {
  const cli = join(settings.codeDir, 'dist', 'cli', 'jobqueue.js');
  if (!existsSync(cli)) throw new CheckFailed(`${cli} is missing: the deployed bundle is incomplete`);
  const args = [cli, 'push', '--wiki', wiki, '--type', 'null', '--count', String(count)];
  const timeoutMs = Math.max(1000, Math.min(30_000, deadline - Date.now()));
  const result = await runProcess(settings.node, [...args, '--config-file', settings.configFile], {
    timeoutMs,
    cwd: settings.codeDir,
  });
  if (result.code !== 0) {
    throw new CheckFailed(
      `could not push null jobs to ${wiki} (${describeExit(result, timeoutMs)}):\n${tail(`${result.stderr}\n${result.stdout}`)}`,
    );
  }
}

await runCheck('check-takes-work', import.meta.url, 90, async ({ settings, deadline, seconds, note }) => {
  const wiki = settings.canaryWiki;
  if (!wiki) throw new CheckSkipped('no canary wiki configured (JOBRUNNER_CANARY_WIKI)');
  const { active, note: maskedNote } = await activeDaemons(settings, ['jobrunner']);
  if (active.length === 0) throw new CheckSkipped(`${maskedNote}: no runner here`);

  const endpoints = await statusEndpoints(settings);
  const before = await readJobCounters(endpoints);
  const started = Date.now();
  let pushes = 0;
  let pushedJobs = 0;
  let lastPush = 0;
  let now = before;
  for (;;) {
    if (pushes === 0 || Date.now() - lastPush >= REPUSH_SECONDS * 1000) {
      const count = Math.min(MAX_PUSH, settings.canaryJobs * 2 ** pushes);
      await pushNullJobs(settings, wiki, count, deadline);
      pushes += 1;
      pushedJobs += count;
      lastPush = Date.now();
      note(`pushed ${count} null job(s) to ${wiki} (push ${pushes})`);
    }
    now = await readJobCounters(endpoints);
    const ok = growth(before.ok, now.ok);
    if (ok > 0) {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      return `jobrunner ran ${ok} job(s) OK within ${secs} s of pushing null jobs to ${wiki}`;
    }
    if (Date.now() >= deadline) break;
    await pause(250, deadline);
  }

  const failed = growth(before.failed, now.failed);
  const problems = growth(before.problems, now.problems);
  let why;
  if ((await readRunnerSlots(endpoints)) === 0) why = 'it has no runner slots (every group has runners: 0)';
  else if (failed > 0 || problems > 0) {
    why = `meanwhile ${failed} job(s) failed and ${problems} dispatch(es) errored or timed out`;
  } else why = 'it ran nothing at all';
  throw new CheckFailed(
    `jobrunner on this host ran no job OK within ${seconds} s of pushing ${pushedJobs} null job(s) ` +
      `to ${wiki} in ${pushes} push(es): ${why} (see journalctl -u jobrunner)`,
  );
});
