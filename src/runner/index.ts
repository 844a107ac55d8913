// The jobrunner daemon core, for the CLI, the status server and the demo.
export { JobRunner, type JobRunnerDeps } from './runner.js';
export type {
  FailureRecord,
  GroupStats,
  LatencySummary,
  RunnerStats,
  RunnerTotals,
  SlotStats,
} from './stats.js';
export type { BackoffEntry } from './backoff.js';
export type { PartitionState } from './ready-view.js';
export type { PriorityMode } from './priority.js';
export { planReload, type ReloadPlan } from './reload-plan.js';
export { systemClock, type Clock } from './clock.js';
