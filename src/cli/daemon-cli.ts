// Command line shared by the jobrunner and jobchron daemons: -c/--config-file (both `=PATH` and
// `PATH` forms, unlike the original's getopt; default /etc/jobrunner/jobrunner.conf, as for
// jobqueue), --check-config, --verbose, --help, --version.
// Parsing never exits the process; usage problems and help/version output come back as a
// UsageError that the entry file prints and turns into the exit code.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { DEFAULT_CONFIG_FILE } from '../config/default-path.js';
import { loadConfigFile } from '../config/load.js';
import { startupProblems } from './startup-checks.js';

export type DaemonName = 'jobrunner' | 'jobchron' | 'jobrunner-intake';

export interface DaemonArgs {
  readonly configFile: string;
  readonly checkConfig: boolean;
  readonly verbose: boolean;
  /** --user / --group: started as root, drop to these after reading the secrets (together). */
  readonly runAs?: { readonly user: string; readonly group: string };
}

/** A bad command line (exitCode 1, for stderr) or a --help/--version request (exitCode 0, for stdout). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: 0 | 1 = 1,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const PURPOSE: Record<DaemonName, string> = {
  jobrunner: 'Runs the ready (wiki, job type) queues of a MediaWiki farm.',
  jobchron: "Does the periodic upkeep of MediaWiki's Redis job queues (recycle, abandon, undelay, prune).",
  'jobrunner-intake':
    "Takes MediaWiki EventBus job events over HTTP (EventGate's /v1/events) and produces them to Kafka.",
};

const BOOLEAN_FLAGS = ['check-config', 'verbose'];

function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
}

/** @throws UsageError for a bad command line, and (with exitCode 0) for --help / --version */
export function parseDaemonArgs(argv: string[], name: DaemonName): DaemonArgs {
  const hint = `Run '${name} --help' for usage.`;
  // yargs reads "--verbose=yes" as false without complaint; a typo there should not pass silently.
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (match && BOOLEAN_FLAGS.includes(match[1] ?? '') && !['true', 'false'].includes(match[2] ?? '')) {
      throw new UsageError(`${name}: --${match[1]} takes no value (got '${match[2]}')\n${hint}`);
    }
  }
  let parsed: Record<string, unknown> = {};
  let output = '';
  yargs(argv)
    .scriptName(name)
    .locale('en')
    .usage(
      `${PURPOSE[name]}\n\nUsage: $0 [-c PATH | --config-file=PATH] [--check-config] [--verbose] [--user=U --group=G]`,
    )
    .option('config-file', {
      alias: 'c',
      type: 'string',
      requiresArg: true,
      default: DEFAULT_CONFIG_FILE,
      describe: 'jobrunner.conf to use (JSON with // and /* */ comments)',
    })
    .option('check-config', {
      type: 'boolean',
      default: false,
      describe: 'Validate the config file (and the secret files it names), print the result and exit',
    })
    .option('verbose', { type: 'boolean', default: false, describe: 'Log at debug level' })
    .option('user', {
      type: 'string',
      requiresArg: true,
      describe:
        'Started as root: read the admin token (a root-only file), then run as this user, so job children cannot reach it',
    })
    .option('group', { type: 'string', requiresArg: true, describe: 'Group to run as, with --user' })
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .wrap(null)
    .exitProcess(false)
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new UsageError(`${name}: ${message ?? error?.message ?? 'bad arguments'}\n${hint}`);
    })
    .parse(argv, {}, (_error: Error | undefined, args: Record<string, unknown>, text: string) => {
      parsed = args;
      output = text;
    });

  if (parsed.help === true || parsed.version === true) throw new UsageError(output, 0);
  const configFile = parsed['config-file'];
  if (Array.isArray(configFile))
    throw new UsageError(`${name}: --config-file was given more than once\n${hint}`);
  if (typeof configFile !== 'string' || configFile.trim() === '') {
    throw new UsageError(`${name}: --config-file must not be empty (the jobrunner.conf to use)\n${hint}`);
  }
  const runAs = runAsOf(parsed, name, hint);
  return {
    configFile,
    checkConfig: parsed['check-config'] === true,
    verbose: parsed.verbose === true,
    ...(runAs ? { runAs } : {}),
  };
}

function runAsOf(
  parsed: Record<string, unknown>,
  name: DaemonName,
  hint: string,
): { user: string; group: string } | undefined {
  const { user, group } = parsed;
  if (user === undefined && group === undefined) return undefined;
  for (const [flag, value] of [
    ['user', user],
    ['group', group],
  ] as const) {
    if (typeof value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) {
      throw new UsageError(`${name}: --user and --group go together, each a user or group name\n${hint}`);
    }
    void flag;
  }
  return { user: user as string, group: group as string };
}

/** Prints a UsageError where it belongs and returns the process exit code. */
export function reportUsageError(
  error: UsageError,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): number {
  (error.exitCode === 0 ? out : err).write(`${error.message}\n`);
  return error.exitCode;
}

/**
 * --check-config: loads and validates the file and runs every check the daemons make at start
 * (dispatcher, secret files, admin token strength), prints warnings to `err`. Returns the exit
 * code (0 valid, 1 not).
 */
export function runCheckConfig(
  configFile: string,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): number {
  try {
    const config = loadConfigFile(configFile);
    for (const warning of config.warnings ?? []) err.write(`warning: ${warning}\n`);
    const { problems, warnings } = startupProblems(config);
    for (const warning of warnings) err.write(`warning: ${warning}\n`);
    if (problems.length > 0) {
      err.write(`${problems.join('\n')}\n`);
      return 1;
    }
    const groups = config.groups.length;
    const partitions = config.redis.queues.length;
    out.write(
      `config OK: ${configFile} (${groups} groups, ${partitions} queue partitions, backend ${config.backend})\n`,
    );
    return 0;
  } catch (error) {
    err.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
