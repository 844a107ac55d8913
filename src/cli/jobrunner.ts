#!/usr/bin/env node
// jobrunner: finds ready (wiki, type) queues and has MediaWiki run them.
//   SIGTERM / SIGINT  take no new work, let running children finish (runner.drainTimeoutSeconds),
//                     then stop the rest and exit 0; a second signal stops them at once.
//   SIGHUP            reload the config file; an invalid file is logged and the old config stays.
import { RedisBackend } from '../backend/redis-backend.js';
import type { QueueBackend } from '../backend/types.js';
import { loadConfigFile } from '../config/load.js';
import type { JobrunnerConfig } from '../config/types.js';
import { createLogger } from '../observability/logger.js';
import { createStatsd } from '../observability/statsd.js';
import { observeDaemon } from '../status/lazy-status.js';
import { createDispatcher } from '../runner/dispatch/index.js';
import type { Dispatcher } from '../runner/dispatch/types.js';
import { planReload } from '../runner/reload-plan.js';
import { RunnerHeartbeat } from '../runner/heartbeat.js';
import { JobRunner } from '../runner/runner.js';
import { logReloadFailure, refuseBadRedisPassword, reportStartupConfigError } from './config-report.js';
import { UsageError, parseDaemonArgs, reportUsageError, runCheckConfig } from './daemon-cli.js';
import { dropPrivileges } from './privileges.js';
import { announceReady, announceStopping, setUpLogFile } from '../observability/daemon-lifecycle.js';
import { exitOnUncaughtErrors } from '../observability/fatal-errors.js';

/** Beyond drainTimeoutSeconds: time to kill and reap children still running, and close connections. */
const DRAIN_MARGIN_MS = 10_000;

type JobrunnerLogger = ReturnType<typeof createLogger>;

/** Deletes this runner's heartbeat keys (set once the runner runs). */
let stopHeartbeat: () => Promise<void> = () => Promise.resolve();

function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { error: String(error) };
}

async function main(argv: string[]): Promise<number | null> {
  let args;
  try {
    args = parseDaemonArgs(argv, 'jobrunner');
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error, process.stdout, process.stderr);
    throw error;
  }
  if (args.checkConfig) return runCheckConfig(args.configFile, process.stdout, process.stderr);

  const logger = createLogger({ service: 'jobrunner', level: args.verbose ? 'debug' : 'info' });
  let config: JobrunnerConfig;
  let dispatcher: Dispatcher;
  try {
    config = loadConfigFile(args.configFile);
  } catch (error) {
    return reportStartupConfigError('jobrunner', error, process.stderr);
  }
  // Before anything else opens a file: the log file must belong to the service user.
  if (args.runAs) {
    try {
      dropPrivileges(config, args.runAs);
    } catch (error) {
      process.stderr.write(
        `jobrunner: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 1;
    }
  }
  try {
    logger.addSecrets(config.redis.password ? [config.redis.password] : []);
    if (!args.verbose) logger.setLevel(config.logging.level);
    setUpLogFile(logger, config.logging.file);
    // >>> backend kafka (issue 7): the Kafka consumer runner (src/kafka) runs the jobs; no dispatcher.
    if (config.backend === 'kafka') {
      for (const warning of config.warnings ?? []) logger.warn('Configuration warning', { warning });
      // Loaded only when configured: the Kafka client costs ~0.3 s of start-up for everyone else.
      const { runKafkaDaemon } = await import('../kafka/daemon.js');
      return runKafkaDaemon(config, logger);
    }
    // <<< backend kafka
    dispatcher = createDispatcher(config, { logger });
  } catch (error) {
    return reportStartupConfigError('jobrunner', error, process.stderr);
  }
  for (const warning of config.warnings ?? []) logger.warn('Configuration warning', { warning });

  if (config.backend === 'redis') {
    const refused = await refuseBadRedisPassword('jobrunner', config, process.stderr);
    if (refused !== null) return refused;
  }

  // backend memcached (issue 8): ready queues from the legacy memcached registry.
  const backend: QueueBackend =
    config.backend === 'memcached'
      ? new (await import('../legacy/legacy-backend.js')).LegacyBackend(config, logger)
      : new RedisBackend(config, logger);
  // Status server (issue 4): statsd and Prometheus get the same metric calls.
  const observed = await observeDaemon(config, createStatsd(config.statsd, logger), 'jobrunner');
  const metrics = observed.metrics;
  const runner = new JobRunner(config, { backend, dispatcher, logger, metrics });
  try {
    await observed.serve({
      logger,
      status: () => runner.stats(),
      ready: () => runner.stats().state === 'running',
    });
  } catch (error) {
    logger.error('Cannot start: status server', { error: errorFields(error).error });
    await Promise.allSettled([backend.close(), metrics.close()]);
    return 1;
  }
  // End of status server wiring.

  // An uncaught error leaves the runner in an unknown state: drain and exit 1 (systemd restarts it).
  exitOnUncaughtErrors({
    logger,
    drain: async () => {
      void announceStopping(logger);
      await closeAll(runner, backend, metrics, logger);
    },
    deadlineMs: config.runner.drainTimeoutSeconds * 1000 + DRAIN_MARGIN_MS,
  });

  let current = config;
  process.on('SIGHUP', () => {
    current = reload(args.configFile, current, runner, logger, args.verbose);
  });

  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('Second stop signal: stopping running children now', { signal });
      runner.abortInFlight();
      return;
    }
    stopping = true;
    logger.info('Caught signal; draining', { signal });
    void announceStopping(logger);
    void closeAll(runner, backend, metrics, logger).then((code) => process.exit(code));
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);

  runner.start();
  // Tells `jobqueue migrate` that this runner takes jobs from these partitions (runner/heartbeat.ts).
  const heartbeat =
    backend instanceof RedisBackend ? new RunnerHeartbeat(backend.clients, logger) : undefined;
  heartbeat?.start();
  stopHeartbeat = () => heartbeat?.stop() ?? Promise.resolve();
  await announceReady(logger);
  return null;
}

function reload(
  configFile: string,
  current: JobrunnerConfig,
  runner: JobRunner,
  logger: JobrunnerLogger,
  verbose: boolean,
): JobrunnerConfig {
  let next: JobrunnerConfig;
  let dispatcher: Dispatcher | undefined;
  try {
    next = loadConfigFile(configFile);
    const plan = planReload(current, next);
    if (plan.dispatcherChanged) dispatcher = createDispatcher(next, { logger });
    if (plan.needsRestart.length > 0) {
      logger.warn('Reload: these changes take effect only after a restart', { sections: plan.needsRestart });
    }
  } catch (error) {
    logReloadFailure(logger, configFile, error);
    return current;
  }
  for (const warning of next.warnings ?? []) logger.warn('Configuration warning', { warning });
  logger.addSecrets(next.redis.password ? [next.redis.password] : []);
  if (!verbose) logger.setLevel(next.logging.level);
  logger.setLogFile(next.logging.file);
  runner.reload(next, dispatcher);
  return next;
}

/** Takes no new work, lets children finish (drainTimeoutSeconds), closes everything; the exit code. */
async function closeAll(
  runner: JobRunner,
  backend: QueueBackend,
  metrics: ReturnType<typeof createStatsd>,
  logger: JobrunnerLogger,
): Promise<number> {
  let code = 0;
  try {
    await runner.stop(true);
    await stopHeartbeat();
    await runner.currentDispatcher.close();
  } catch (error) {
    logger.error('Error while stopping', errorFields(error));
    code = 1;
  }
  await Promise.allSettled([backend.close(), metrics.close()]);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'error', msg: 'Fatal startup error', ...errorFields(error) })}\n`,
    );
    process.exit(1);
  },
);
