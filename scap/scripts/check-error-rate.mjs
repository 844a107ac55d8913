#!/usr/bin/env node
// @ts-check
// Deploy check (d), after the restart: watches the new runner's job failure counters
// (jobrunner_jobs_total{outcome="failed"} plus failed, timed-out or killed dispatches) for
// JOBRUNNER_ERROR_WINDOW seconds and fails when the failed share exceeds
// max(JOBRUNNER_ERROR_MAX_RATIO, JOBRUNNER_ERROR_FACTOR × the share before the deploy), once there
// are at least JOBRUNNER_ERROR_MIN_FAILURES failures. The "before" share comes from
// error-rate-baseline.mjs (after fetch). Skipped when the unit is masked.
import { CheckFailed, CheckSkipped, runCheck } from './lib/check.mjs';
import { statusEndpoints } from './lib/daemons.mjs';
import { forgetBaseline, judge, loadBaseline, watchWindow } from './lib/error-rate.mjs';
import { activeDaemons } from './lib/units.mjs';

await runCheck('check-error-rate', import.meta.url, 50, async ({ settings, deadline, note }) => {
  const { active, note: maskedNote } = await activeDaemons(settings, ['jobrunner']);
  if (active.length === 0) throw new CheckSkipped(`${maskedNote}: no runner here`);
  const baseline = loadBaseline(settings);
  note(baseline.why);
  const endpoints = await statusEndpoints(settings);
  const after = await watchWindow(endpoints, settings.errorWindowSeconds, deadline);
  const verdict = judge(after, baseline.counts, settings);
  if (!verdict.pass) throw new CheckFailed(verdict.message);
  forgetBaseline(settings);
  return verdict.message;
});
