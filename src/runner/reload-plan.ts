// What a SIGHUP reload can apply live. Groups, limits and runner tunables go straight into the
// running JobRunner; a changed dispatch section needs a new dispatcher (built before anything is
// switched, so a broken one leaves the old config in place); connections (Redis, statsd, status
// server, log file) are fixed at startup and only reported.
import type { JobrunnerConfig } from '../config/types.js';

export interface ReloadPlan {
  /** A new dispatcher must be built for the new config. */
  readonly dispatcherChanged: boolean;
  /** Config sections that changed but take effect only after a restart. */
  readonly needsRestart: readonly string[];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function planReload(current: JobrunnerConfig, next: JobrunnerConfig): ReloadPlan {
  const dispatcherChanged =
    !same(current.dispatch, next.dispatch) ||
    current.runner.killGraceSeconds !== next.runner.killGraceSeconds ||
    // The dispatcher masks the Redis password in what it reports.
    current.redis.password !== next.redis.password;
  const needsRestart: string[] = [];
  if (current.backend !== next.backend) needsRestart.push('backend');
  if (!same(current.redis, next.redis)) needsRestart.push('redis');
  if (!same(current.statsd, next.statsd)) needsRestart.push('statsd');
  if (!same(current.status, next.status)) needsRestart.push('status');
  if (current.logging.file !== next.logging.file) needsRestart.push('logging.file');
  return { dispatcherChanged, needsRestart };
}
