// An in-process JobRunner wired as the jobrunner CLI wires it (Redis backend, the configured
// dispatcher, statsd), with its JSON log lines captured. Not started: the caller calls runner.start().
import { RedisBackend } from '../../src/backend/redis-backend.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { createStatsd } from '../../src/observability/statsd.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import { JobRunner } from '../../src/runner/runner.js';
import { captureLogger, type LogLine } from './log-capture.js';

export interface RunnerHarness {
  readonly runner: JobRunner;
  readonly logs: LogLine[];
  /** Stops the runner (no drain) and closes its dispatcher, backend and metrics. */
  stop(): Promise<void>;
}

export function runnerHarness(
  config: JobrunnerConfig,
  options: { readonly hostname: string; readonly random?: () => number },
): RunnerHarness {
  const { logger, lines: logs } = captureLogger('jobrunner');
  const backend = new RedisBackend(config, logger);
  const metrics = createStatsd(config.statsd, logger);
  const runner = new JobRunner(config, {
    backend,
    dispatcher: createDispatcher(config, { logger }),
    logger,
    metrics,
    hostname: options.hostname,
    ...(options.random ? { random: options.random } : {}),
  });
  return {
    runner,
    logs,
    async stop() {
      await runner.stop(false);
      await runner.currentDispatcher.close();
      await backend.close();
      await metrics.close();
    },
  };
}
