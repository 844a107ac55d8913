#!/usr/bin/env node
// @ts-check
// Deploy check (d), first half, after fetch (the old version still runs): watches the runner's
// job failure counters for JOBRUNNER_ERROR_WINDOW seconds and keeps the result for
// check-error-rate.mjs, which compares the new version against it after the restart. Never fails
// the deploy: without a baseline the later check falls back to its absolute limit.
import { CheckSkipped, runCheck } from './lib/check.mjs';
import { statusEndpoints } from './lib/daemons.mjs';
import { describeWindow, forgetBaseline, saveBaseline, watchWindow } from './lib/error-rate.mjs';
import { activeDaemons } from './lib/units.mjs';

await runCheck('error-rate-baseline', import.meta.url, 50, async ({ settings, deadline }) => {
  forgetBaseline(settings);
  const { active, note } = await activeDaemons(settings, ['jobrunner']);
  if (active.length === 0) throw new CheckSkipped(`${note}: no runner here`);
  let counts;
  try {
    counts = await watchWindow(await statusEndpoints(settings), settings.errorWindowSeconds, deadline);
  } catch (error) {
    throw new CheckSkipped(`no baseline taken: ${error instanceof Error ? error.message : String(error)}`);
  }
  const file = saveBaseline(settings, counts);
  return `before the deploy: ${describeWindow(counts)} (kept in ${file})`;
});
