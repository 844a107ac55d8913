#!/usr/bin/env node
// jobchron: the periodic Redis upkeep daemonized MediaWiki JobQueueRedis needs (recycle or abandon
// stale claims, undelay due jobs, prune abandoned jobs, keep s-queuesWithJobs and the ready hash).
//   SIGTERM/SIGINT  finish the batch in hand, release partition leases, exit 0 (within 5 s)
//   SIGHUP          reload the config file; an invalid file is logged and the running config kept
import { Chron } from '../chron/chron.js';
import { loadConfigFile } from '../config/load.js';
import { dropPrivileges } from './privileges.js';
import type { JobrunnerConfig } from '../config/types.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createStatsd } from '../observability/statsd.js';
import { observeDaemon } from '../status/lazy-status.js';
import { logReloadFailure, refuseBadRedisPassword, reportStartupConfigError } from './config-report.js';
import {
  parseDaemonArgs,
  reportUsageError,
  runCheckConfig,
  UsageError,
  type DaemonArgs,
} from './daemon-cli.js';
import { announceReady, announceStopping, setUpLogFile } from '../observability/daemon-lifecycle.js';
import { exitOnUncaughtErrors } from '../observability/fatal-errors.js';

/** Exit anyway if a clean stop takes longer than this (systemd's stop timeout is larger). */
const HARD_EXIT_MS = 4500;

function secretsOf(config: JobrunnerConfig): string[] {
  return config.redis.password ? [config.redis.password] : [];
}

function logWarnings(logger: Logger, config: JobrunnerConfig): void {
  for (const warning of config.warnings ?? []) logger.warn('Configuration warning', { warning });
}

async function main(argv: string[]): Promise<number> {
  let args: DaemonArgs;
  try {
    args = parseDaemonArgs(argv, 'jobchron');
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error, process.stdout, process.stderr);
    throw error;
  }
  if (args.checkConfig) return runCheckConfig(args.configFile, process.stdout, process.stderr);

  let config: JobrunnerConfig;
  try {
    config = loadConfigFile(args.configFile);
  } catch (error) {
    return reportStartupConfigError('jobchron', error, process.stderr);
  }
  if (args.runAs) {
    try {
      dropPrivileges(config, args.runAs);
    } catch (error) {
      process.stderr.write(
        `jobchron: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 1;
    }
  }
  if (config.backend === 'redis') {
    const refused = await refuseBadRedisPassword('jobchron', config, process.stderr);
    if (refused !== null) return refused;
  }
  const level = (c: JobrunnerConfig) => (args.verbose ? 'debug' : c.logging.level);
  const logger = createLogger({ service: 'jobchron', level: level(config), secrets: secretsOf(config) });
  setUpLogFile(logger, config.logging.file);
  logWarnings(logger, config);
  // Status server (issue 4): statsd and Prometheus get the same metric calls.
  const observed = await observeDaemon(config, createStatsd(config.statsd, logger), 'jobchron');
  const metrics = observed.metrics;
  // backend memcached (issue 8): keep the legacy memcached registry instead of Redis upkeep.
  const chron =
    config.backend === 'memcached'
      ? new (await import('../legacy/registry-chron.js')).LegacyChron(config, { logger, metrics })
      : new Chron(config, { logger, metrics });
  try {
    await observed.serve({
      logger,
      status: () => chron.getStats(),
      ready: () => chron.getStats().running,
    });
  } catch (error) {
    logger.error('Cannot start: status server', {
      error: error instanceof Error ? error.message : String(error),
    });
    await metrics.close();
    return 1;
  }
  // End of status server wiring.

  // Same as jobrunner: after an uncaught error, finish the batch in hand, release leases, exit 1.
  exitOnUncaughtErrors({
    logger,
    drain: () => chron.stop().then(() => metrics.close()),
    deadlineMs: HARD_EXIT_MS,
  });

  process.on('SIGHUP', () => {
    try {
      const next = loadConfigFile(args.configFile);
      logger.addSecrets(secretsOf(next));
      logger.setLevel(level(next));
      logger.setLogFile(next.logging.file);
      logWarnings(logger, next);
      chron.reload(next);
      if (JSON.stringify(next.statsd) !== JSON.stringify(config.statsd)) {
        logger.warn('statsd settings changed; they take effect after a restart');
      }
      config = next;
      logger.info('Configuration reloaded', { file: args.configFile });
    } catch (error) {
      logReloadFailure(logger, args.configFile, error);
    }
  });

  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info('Caught signal; finishing the batch in hand and releasing leases', { signal });
      void announceStopping(logger);
      setTimeout(() => {
        logger.warn('Clean stop took too long; exiting anyway');
        resolve(0);
      }, HARD_EXIT_MS).unref();
      chron
        .stop()
        .catch((error: unknown) => logger.error('Error while stopping', { error: String(error) }))
        .then(() => metrics.close())
        .then(
          () => resolve(0),
          () => resolve(0),
        );
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });

  await chron.start();
  await announceReady(logger);
  return stopped;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `jobchron: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
