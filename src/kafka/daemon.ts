// `jobrunner` with backend kafka: runs the Kafka consumer runner until SIGTERM/SIGINT.
//   SIGTERM / SIGINT  stop fetching, let running executions finish (runner.drainTimeoutSeconds),
//                     commit, close the consumers, exit 0; a second signal exits at once (events in
//                     flight are then read again after a restart, as after kill -9).
//   SIGHUP            logged; backend kafka applies configuration changes on restart only.
import type { JobrunnerConfig } from '../config/types.js';
import type { DaemonLogger } from '../observability/logger.js';
import { announceReady } from '../observability/daemon-lifecycle.js';
import { exitOnUncaughtErrors } from '../observability/fatal-errors.js';
import { createStatsd } from '../observability/statsd.js';
import { daemonMetrics, startDaemonStatus, type DaemonStatusHandle } from '../status/daemon-status.js';
import { startKafkaRunner, type KafkaRunner } from './runner.js';

function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { error: String(error) };
}

/** Beyond drainTimeoutSeconds: time to commit and close the consumers. */
const DRAIN_MARGIN_MS = 10_000;

export interface KafkaDaemonHooks {
  /** Called with the running runner (e.g. to expose stats() on a status server). */
  readonly onStarted?: (runner: KafkaRunner) => void;
}

/** Starts the runner; resolves null while it runs (the process exits on a signal), or an exit code. */
export async function runKafkaDaemon(
  config: JobrunnerConfig,
  logger: DaemonLogger,
  hooks: KafkaDaemonHooks = {},
): Promise<number | null> {
  // statsd and the status server's Prometheus registry get the same metric calls.
  const observed = daemonMetrics(createStatsd(config.statsd, logger), 'jobrunner');
  const metrics = observed.metrics;
  let runner: KafkaRunner;
  try {
    runner = await startKafkaRunner(config, { logger, metrics });
  } catch (error) {
    logger.error('Cannot start the Kafka runner', errorFields(error));
    await metrics.close();
    return 1;
  }
  hooks.onStarted?.(runner);
  // GET /status shows the Kafka rules with their lag, work in flight and outcome counters.
  let status: DaemonStatusHandle | null = null;
  try {
    status = await startDaemonStatus({
      role: 'jobrunner',
      config,
      logger,
      registry: observed.registry,
      status: () => runner.stats(),
      ready: () => true,
    });
  } catch (error) {
    // Fatal like jobrunner's: a status port answering for another process misleads health checks.
    logger.error('Cannot start: status server', { error: errorFields(error).error });
    await runner.stop(false);
    await metrics.close();
    return 1;
  }
  // An uncaught error leaves a lane in an unknown state (it may never commit its partition again):
  // stop fetching, let running executions finish, commit, and exit 1 for systemd to restart.
  exitOnUncaughtErrors({
    logger,
    drain: async () => {
      await runner.stop(true);
      await status?.close();
      await metrics.close();
    },
    deadlineMs: config.runner.drainTimeoutSeconds * 1000 + DRAIN_MARGIN_MS,
  });
  process.on('SIGHUP', () =>
    logger.warn(
      'SIGHUP: backend kafka does not reload its configuration; restart jobrunner to apply changes',
    ),
  );
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // Like kill -9 for the events in flight: their offsets are not committed, so they are read
      // (and, unless dedup knows they finished, run) again after the restart.
      logger.warn('Second stop signal: exiting now; events in flight will be read again', { signal });
      process.exit(0);
    }
    stopping = true;
    logger.info('Caught signal; draining', { signal });
    void runner.stop(true).then(
      async () => {
        await status?.close();
        await metrics.close();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('Error while stopping', errorFields(error));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  await announceReady(logger);
  return null;
}
