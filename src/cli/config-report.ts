// One wording for configuration problems in both daemons: at start-up two plain lines on stderr
// (what and FILE:LINE:COL: PATH: MESSAGE with "did you mean"), exit 1; on SIGHUP one error log line
// carrying the same problem lines, and the running configuration stays. A Redis password the
// servers refuse is a configuration problem too: fatal at start-up.
import { ConfigError, formatProblem } from '../config/errors.js';
import type { JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { findAuthFailures, formatAuthFailures } from '../redis/auth-probe.js';
import { DispatchConfigError } from '../runner/dispatch/placeholders.js';
import type { DaemonName } from './daemon-cli.js';

export const RELOAD_FAILED = 'Configuration reload failed; keeping the running configuration';

/** Errors that mean "fix the file" (the config itself, or a dispatch setting it holds). */
function isConfigProblem(error: unknown): error is Error {
  return error instanceof ConfigError || error instanceof DispatchConfigError;
}

/** Prints a start-up configuration error to `err`; returns the exit code, or rethrows other errors. */
export function reportStartupConfigError(
  name: DaemonName,
  error: unknown,
  err: NodeJS.WritableStream,
): number {
  if (!isConfigProblem(error)) throw error;
  err.write(`${name}: invalid configuration:\n${error.message}\n`);
  return 1;
}

/** Logs a refused reload (no stack trace: the problem lines say where to look). */
export function logReloadFailure(logger: Logger, file: string, error: unknown): void {
  if (isConfigProblem(error)) {
    const problems = error instanceof ConfigError ? error.problems.map(formatProblem) : [error.message];
    logger.error(RELOAD_FAILED, { file, problems, error: error.message });
    return;
  }
  logger.error(RELOAD_FAILED, {
    file,
    error: error instanceof Error ? error.message : String(error),
    ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
  });
}

/**
 * Start-up check of redis.password against every configured Redis server: a refused password is
 * printed to `err` and returns exit code 1; null when every server accepted it (or did not answer:
 * an outage is ridden out, not fatal).
 */
export async function refuseBadRedisPassword(
  name: DaemonName,
  config: JobrunnerConfig,
  err: NodeJS.WritableStream,
): Promise<number | null> {
  const failures = await findAuthFailures(
    [...config.redis.queues, ...config.redis.aggregators],
    config.redis,
  );
  if (failures.length === 0) return null;
  err.write(formatAuthFailures(name, failures));
  return 1;
}
