// One set of scheduler settings for the unit and property tests: the schema's defaults, except
// maxPerQueue 2 and maxtimes short enough for fake clocks. Tests override what they exercise.
import type { SchedulingSettings } from '../../src/config/types.js';
import type { SchedulerSettings } from '../../src/runner/scheduler.js';

export const TEST_SCHEDULING: SchedulingSettings = {
  policy: 'fair',
  sliceSeconds: 3,
  longSliceSeconds: 10,
  expressSlots: 1,
  expressMaxReady: 10,
  expressSliceSeconds: 1,
  expressHoldSeconds: 5,
  burstSlots: 2,
  quietBurstSlots: 2,
  overrunSeconds: 1,
  wikiWeights: {},
  typeWeights: {},
};

export function schedulerSettings(
  extra: Partial<SchedulerSettings> = {},
  scheduling: Partial<SchedulingSettings> = {},
): SchedulerSettings {
  return {
    highPriorityMaxSeconds: 600,
    lowPriorityMaxSeconds: 120,
    highPriorityMaxTime: 60,
    lowPriorityMaxTime: 30,
    maxPerQueue: 2,
    maxPerWiki: 0,
    noneReadyBackoffSeconds: 2,
    nonePossibleBackoffSeconds: 600,
    wikiBackoffSeconds: 30,
    failureBackoffSeconds: 1,
    maxFailureBackoffSeconds: 300,
    wikiFailureQueues: 3,
    maxFailingDispatchesPerSecond: 2,
    ...extra,
    scheduling: { ...TEST_SCHEDULING, ...extra.scheduling, ...scheduling },
  };
}
