#!/usr/bin/env node
// jobrunner-intake: EventGate-compatible intake for MediaWiki's EventBus job events (see
// src/intake/). Reads the same jobrunner.conf: the kafka section and the intake section.
//   SIGTERM / SIGINT  stop taking requests, finish the open ones, exit 0.
import { loadConfigFile } from '../config/load.js';
import type { JobrunnerConfig } from '../config/types.js';
import { setUpLogFile } from '../observability/daemon-lifecycle.js';
import { createLogger } from '../observability/logger.js';
import { UsageError, parseDaemonArgs, reportUsageError, runCheckConfig } from './daemon-cli.js';
import { dropPrivileges } from './privileges.js';

async function main(argv: string[]): Promise<number | null> {
  let args;
  try {
    args = parseDaemonArgs(argv, 'jobrunner-intake');
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error, process.stdout, process.stderr);
    throw error;
  }
  if (args.checkConfig) return runCheckConfig(args.configFile, process.stdout, process.stderr);
  const logger = createLogger({ service: 'jobrunner-intake', level: args.verbose ? 'debug' : 'info' });
  let config: JobrunnerConfig;
  try {
    config = loadConfigFile(args.configFile);
    if (!args.verbose) logger.setLevel(config.logging.level);
    setUpLogFile(logger, config.logging.file);
  } catch (error) {
    logger.error('Cannot start: invalid configuration', {
      configFile: args.configFile,
      error: error instanceof Error ? error.message : String(error),
    });
    return 1;
  }
  // The shared unit starts daemons as root with --user/--group (puppet daemon.service.erb).
  if (args.runAs) {
    try {
      dropPrivileges(config, args.runAs);
    } catch (error) {
      logger.error('Cannot start', { error: error instanceof Error ? error.message : String(error) });
      return 1;
    }
  }
  for (const warning of config.warnings ?? []) logger.warn('Configuration warning', { warning });
  const { runIntakeDaemon } = await import('../intake/daemon.js');
  return runIntakeDaemon(config, logger);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'error', msg: 'Fatal startup error', error: error instanceof Error ? error.message : String(error) })}\n`,
    );
    process.exit(1);
  },
);
