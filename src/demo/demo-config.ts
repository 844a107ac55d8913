// The sample jobrunner.conf the demo runs with: two groups (everyday jobs, with link and cache
// updates as low-priority types; and a one-slot group for the failing type), and limits that let
// the failing type be retried once and abandoned within seconds instead of hours.
import { writeRunnerConfig, type RunnerConfigSpec } from '../bench/common/runner-config.js';
import { FAILING_TYPE } from './workload.js';

/** Claims of a failing job before the chron abandons it. */
export const FAILING_ATTEMPTS = 2;
/** Seconds a failing job's claim may age before the chron retries or abandons it. */
export const FAILING_CLAIM_TTL = 2;
export const MAIN_RUNNERS = 3;
export const RETRY_RUNNERS = 1;

export function demoConfigSpec(redisAddress: string, dispatcher: string): RunnerConfigSpec {
  return {
    comment: 'written by the jobrunner demo (npm run demo); removed when the demo ends',
    redisAddress,
    dispatcher,
    groups: {
      main: {
        runners: MAIN_RUNNERS,
        include: ['*'],
        exclude: [FAILING_TYPE],
        'low-priority': ['htmlCacheUpdate', 'refreshLinks'],
      },
      retries: { runners: RETRY_RUNNERS, include: [FAILING_TYPE] },
    },
    limits: {
      attempts: { '*': 3, [FAILING_TYPE]: FAILING_ATTEMPTS },
      claimTTL: { '*': 3600, [FAILING_TYPE]: FAILING_CLAIM_TTL },
    },
    runner: { drainTimeoutSeconds: 20 },
    chron: { intervalMs: 500 },
  };
}

export function writeDemoConfig(file: string, redisAddress: string, dispatcher: string): void {
  writeRunnerConfig(file, demoConfigSpec(redisAddress, dispatcher));
}
