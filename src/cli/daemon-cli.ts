// Command line shared by the jobrunner and jobchron daemons: -c/--config-file (both `=PATH` and
// `PATH` forms, unlike the original's getopt; default /etc/jobrunner/jobrunner.conf, as for
// jobqueue), --check-config, --verbose, --help, --version.
// Parsing never exits the process; usage problems and help/version output come back as a
// UsageError that the entry file prints and turns into the exit code.
// node:util parseArgs rather than yargs: six flags do not need a parser that costs a daemon about
// 65 ms of CPU and several MB at every start (README "Scale").
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
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

const OPTIONS = {
  'config-file': { type: 'string', short: 'c' },
  'check-config': { type: 'boolean' },
  verbose: { type: 'boolean' },
  user: { type: 'string' },
  group: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

function usage(name: DaemonName): string {
  return [
    PURPOSE[name],
    '',
    `Usage: ${name} [-c PATH | --config-file=PATH] [--check-config] [--verbose] [--user=U --group=G]`,
    '',
    'Options:',
    `  -c, --config-file  jobrunner.conf to use (JSON with // and /* */ comments) [default: "${DEFAULT_CONFIG_FILE}"]`,
    '      --check-config  Validate the config file (and the secret files it names), print the result and exit',
    '      --verbose       Log at debug level',
    '      --user          Started as root: read the admin token (a root-only file), then run as this user, so job children cannot reach it',
    '      --group         Group to run as, with --user',
    '  -h, --help          Show help',
    '      --version       Show version number',
  ].join('\n');
}

function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
}

function isOption(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

/** @throws UsageError for a bad command line, and (with exitCode 0) for --help / --version */
export function parseDaemonArgs(argv: string[], name: DaemonName): DaemonArgs {
  const hint = `Run '${name} --help' for usage.`;
  const fail = (message: string) => new UsageError(`${name}: ${message}\n${hint}`);
  // Not strict: the tokens let every problem get its own message instead of parseArgs' generic one.
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, strict: false, tokens: true });
  const seen = new Map<OptionName, string | boolean>();
  for (const token of tokens) {
    if (token.kind === 'positional') throw fail(`Unknown argument: ${token.value}`);
    if (token.kind !== 'option') continue;
    if (!isOption(token.name)) throw fail(`Unknown argument: ${token.name}`);
    if (seen.has(token.name)) throw fail(`--${token.name} was given more than once`);
    let value: string | boolean;
    if (OPTIONS[token.name].type === 'string') {
      // "--config-file --verbose" is a forgotten path, not a file named "--verbose".
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
        throw fail(`Not enough arguments following: ${token.name}`);
      }
      value = token.value;
    } else {
      // "--verbose=yes" should not pass silently as something else.
      if (token.value !== undefined && !['true', 'false'].includes(token.value)) {
        throw fail(`--${token.name} takes no value (got '${token.value}')`);
      }
      value = token.value !== 'false';
    }
    seen.set(token.name, value);
  }

  if (seen.get('help') === true) throw new UsageError(usage(name), 0);
  if (seen.get('version') === true) throw new UsageError(packageVersion(), 0);
  const configFile = seen.get('config-file') ?? DEFAULT_CONFIG_FILE;
  if (typeof configFile !== 'string' || configFile.trim() === '') {
    throw fail('--config-file must not be empty (the jobrunner.conf to use)');
  }
  const runAs = runAsOf(seen.get('user'), seen.get('group'), fail);
  return {
    configFile,
    checkConfig: seen.get('check-config') === true,
    verbose: seen.get('verbose') === true,
    ...(runAs ? { runAs } : {}),
  };
}

function runAsOf(
  user: string | boolean | undefined,
  group: string | boolean | undefined,
  fail: (message: string) => UsageError,
): { user: string; group: string } | undefined {
  if (user === undefined && group === undefined) return undefined;
  const valid = (value: unknown): value is string =>
    typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value);
  if (!valid(user) || !valid(group)) throw fail('--user and --group go together, each a user or group name');
  return { user, group };
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
