#!/usr/bin/env node
// @ts-check
// Deploy check (b), after the restart: /healthz (alive, Redis reachable) and /readyz of the
// jobrunner and jobchron status servers answer 200. Polls until they do, since a daemon that just
// restarted may still be connecting. Masked units (passive datacenter) are not checked.
import { CheckFailed, CheckSkipped, pause, runCheck } from './lib/check.mjs';
import { statusEndpoints } from './lib/daemons.mjs';
import { describeHttp, httpGet } from './lib/http.mjs';
import { activeDaemons, DAEMONS } from './lib/units.mjs';

const PATHS = ['/healthz', '/readyz'];

await runCheck('check-health', import.meta.url, 60, async ({ settings, deadline, seconds, note }) => {
  const { active, note: maskedNote } = await activeDaemons(settings, DAEMONS);
  if (active.length === 0) throw new CheckSkipped(`${maskedNote}: nothing runs here`);
  if (maskedNote) note(`${maskedNote}: not checked`);
  const endpoints = await statusEndpoints(settings);

  /** @type {Map<string, string>} */
  let problems = new Map();
  for (;;) {
    problems = new Map();
    for (const daemon of active) {
      for (const path of PATHS) {
        const url = `${endpoints.base[daemon]}${path}`;
        const result = await httpGet(url, 3000);
        if ('error' in result || result.status !== 200) {
          const hint =
            'error' in result && result.error === 'connection refused' ? ` (is ${daemon} running?)` : '';
          problems.set(`${daemon} ${url}`, `${describeHttp(result)}${hint}`);
        }
      }
    }
    if (problems.size === 0) break;
    if (Date.now() >= deadline) {
      const lines = [...problems].map(([what, why]) => `  ${what}: ${why}`);
      throw new CheckFailed(`not healthy and ready within ${seconds} s:\n${lines.join('\n')}`);
    }
    await pause(500, deadline);
  }
  const where = active.map((d) => `${d} (${endpoints.base[d]})`).join(' and ');
  return `${where}: /healthz and /readyz answer 200`;
});
