// jobqueue's command line: parses with yargs (never exiting the process), loads jobrunner.conf,
// connects to the partitions and runs one command. Returns the exit code:
// 0 success, 1 failure (unreachable partition, Redis error, declined prompt), 2 bad usage/config.
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { DEFAULT_CONFIG_FILE } from '../../config/default-path.js';
import type { JobrunnerConfig } from '../../config/types.js';
import { maskSecrets } from '../../observability/logger.js';
import type { JobState } from '../../redis/queue-store.js';
import { loadConfig, openFarm, type CliIo, type FarmContext } from './context.js';
import { runDelete } from './delete.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';
import { runInspect } from './inspect.js';
import { runKafkaPush } from './kafka-push.js';
import { runKafkaStatus } from './kafka-status.js';
import { runPause } from './pause.js';
import { runPush } from './push.js';
import { runRetryAbandoned } from './retry-abandoned.js';
import { runStatus } from './status.js';
import { openLegacyStatus } from './legacy-status.js';

export type { CliIo } from './context.js';

const STATES: readonly JobState[] = ['unclaimed', 'claimed', 'abandoned', 'delayed'];
const BACKENDS = ['redis', 'kafka'] as const;
type CliBackend = (typeof BACKENDS)[number];
const COMMANDS = ['status', 'inspect', 'retry-abandoned', 'delete', 'push', 'pause', 'resume'] as const;
type CommandName = (typeof COMMANDS)[number];

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** Numbers are read as typed and checked by num(): yargs' own number type turns "abc" into NaN. */
const numeric = { type: 'string', requiresArg: true } as const;

const filters = (y: Argv) =>
  y
    .option('wiki', { type: 'string', requiresArg: true, describe: 'Only this wiki (wiki ID or DB domain)' })
    .option('type', { type: 'string', requiresArg: true, describe: 'Only this job type' })
    .option('partition', {
      type: 'string',
      requiresArg: true,
      describe: 'Only this queue partition (as in redis.queues)',
    });

const json = (y: Argv) =>
  y.option('json', { type: 'boolean', default: false, describe: 'Machine-readable JSON output' });

const backend = (y: Argv) =>
  y.option('backend', {
    choices: BACKENDS,
    describe: "Queue backend (default: the config's backend)",
  });

const guarded = (y: Argv) =>
  json(filters(y))
    .option('dry-run', { type: 'boolean', default: false, describe: 'Only show what would be done' })
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' });

function buildParser(argv: string[]): Argv {
  return (
    yargs(argv)
      .scriptName('jobqueue')
      .locale('en')
      .usage("Operator tool for a MediaWiki farm's Redis job queues.\n\nUsage: $0 <command> [options]")
      .option('config-file', {
        alias: 'c',
        type: 'string',
        requiresArg: true,
        default: DEFAULT_CONFIG_FILE,
        describe: 'jobrunner.conf shared with the daemons',
      })
      .command('status', 'Queue depths of the whole farm, most urgent first (kafka: rules and lag)', (y) =>
        backend(json(filters(y)))
          .option('by-partition', { type: 'boolean', default: false, describe: 'One row per partition' })
          .option('all', { type: 'boolean', default: false, describe: 'Include listed queues without jobs' })
          .option('limit', { ...numeric, default: 0, describe: 'Table rows to print (0 = all)' }),
      )
      .command('inspect', 'Show the jobs of one queue, decoded', (y) =>
        json(filters(y))
          .demandOption(['wiki', 'type'])
          .option('state', { choices: STATES, default: 'unclaimed', describe: 'Which jobs' })
          .option('limit', { ...numeric, default: 10, describe: 'Jobs to show (at most 1000)' }),
      )
      .command('retry-abandoned', 'Put abandoned jobs back in their queues', (y) =>
        guarded(y).option('limit', { ...numeric, describe: 'At most this many jobs per queue' }),
      )
      .command('delete', 'Delete whole queues (needs --wiki and/or --type)', (y) => guarded(y))
      .command('pause', 'Pause one queue: no runner starts it until resumed (kept in Redis)', (y) =>
        json(y)
          .option('wiki', { type: 'string', requiresArg: true, describe: 'Wiki ID' })
          .option('type', { type: 'string', requiresArg: true, describe: 'Job type' })
          .demandOption(['wiki', 'type']),
      )
      .command('resume', 'Resume a paused queue', (y) =>
        json(y)
          .option('wiki', { type: 'string', requiresArg: true, describe: 'Wiki ID' })
          .option('type', { type: 'string', requiresArg: true, describe: 'Job type' })
          .demandOption(['wiki', 'type']),
      )
      // Listed for --help only: src/cli/jobqueue.ts hands `migrate` to its own parser before this one.
      .command(
        'migrate',
        'Move queued jobs between backends (memcached, redis, kafka); see `jobqueue migrate --help`',
      )
      .command('push', "Enqueue jobs in MediaWiki's own format (smoke tests, canaries)", (y) =>
        backend(json(y))
          .option('wiki', { type: 'string', requiresArg: true, describe: 'Wiki (DB domain) to push to' })
          .option('type', { type: 'string', requiresArg: true, describe: 'Job type' })
          .demandOption(['wiki', 'type'])
          .option('count', { ...numeric, default: 1, describe: 'Number of jobs' })
          .option('delay', { ...numeric, describe: 'Release the jobs this many seconds from now' })
          .option('params', { type: 'string', requiresArg: true, describe: 'Job params as a JSON object' })
          .option('dedupe', {
            type: 'boolean',
            default: false,
            describe: 'removeDuplicates: identical pending jobs stored once',
          })
          .option('title', { type: 'string', requiresArg: true, describe: 'Page title (params.title)' })
          .option('namespace', { ...numeric, describe: 'Namespace number of --title (default 0)' })
          .option('partition', { type: 'string', requiresArg: true, describe: 'Partition to push to' })
          .option('gzip', { type: 'boolean', default: false, describe: "Queue uses 'compression' => 'gzip'" })
          .option('secret-key-file', {
            type: 'string',
            requiresArg: true,
            describe: 'kafka: file with $wgSecretKey to sign events (default: dispatch.secretKeyFile)',
          }),
      )
      .demandCommand(
        1,
        'Name a command: status, inspect, retry-abandoned, delete, pause, resume, migrate or push.',
      )
      .recommendCommands()
      .epilog(
        'Exit codes: 0 success; 1 failure (unreachable partition, Redis error, declined prompt); 2 bad usage or config.',
      )
      .strict()
      .help()
      .alias('help', 'h')
      .version(packageVersion())
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .exitProcess(false)
  );
}

type Args = Record<string, unknown>;

function str(args: Args, name: string): string | undefined {
  const value = args[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new CliError(`--${name} was given more than once`, EXIT_USAGE);
  const text = String(value);
  if (text.trim() === '') throw new CliError(`--${name} must not be empty`, EXIT_USAGE);
  return text;
}

function num(
  args: Args,
  name: string,
  options: { min: number; max: number; integer: boolean },
): number | undefined {
  const value = args[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new CliError(`--${name} was given more than once`, EXIT_USAGE);
  const text = String(value).trim();
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
  if (
    !Number.isFinite(n) ||
    (options.integer && !Number.isInteger(n)) ||
    n < options.min ||
    n > options.max
  ) {
    const kind = options.integer ? 'a whole number' : 'a number';
    throw new CliError(
      `--${name} must be ${kind} from ${options.min} to ${options.max} (got ${JSON.stringify(String(value))})`,
      EXIT_USAGE,
    );
  }
  return n;
}

function bool(args: Args, name: string): boolean {
  return args[name] === true;
}

/** Parses argv; --help/--version text comes back as { output }. */
function parse(argv: string[]): { args: Args; output: string } {
  let args: Args = {};
  let output = '';
  buildParser(argv)
    .fail((message: string | undefined, error: Error | undefined) => {
      let text = message ?? error?.message ?? 'bad arguments';
      // yargs says only "Did you mean status?"; name what was typed too.
      const typed = argv.find(
        (a, i) => !a.startsWith('-') && argv[i - 1] !== '-c' && argv[i - 1] !== '--config-file',
      );
      if (text.startsWith('Did you mean') && typed !== undefined)
        text = `unknown command "${typed}". ${text}`;
      throw new CliError(`${text}\nRun 'jobqueue --help' for usage.`, EXIT_USAGE);
    })
    .parse(argv, {}, (_error: Error | undefined, parsed: Args, text: string) => {
      args = parsed;
      output = text;
    });
  return { args, output };
}

type Prepared = (ctx: FarmContext, io: CliIo) => Promise<number>;

/** Reads and checks every option of the command before anything connects; returns the run. */
function prepare(command: CommandName, args: Args): Prepared {
  const wiki = str(args, 'wiki');
  const type = str(args, 'type');
  const partition = str(args, 'partition');
  const common = {
    ...(wiki !== undefined ? { wiki } : {}),
    ...(type !== undefined ? { type } : {}),
    partition,
  };
  switch (command) {
    case 'status': {
      const options = {
        ...common,
        byPartition: bool(args, 'by-partition'),
        all: bool(args, 'all'),
        json: bool(args, 'json'),
        limit: num(args, 'limit', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }) ?? 0,
      };
      return (ctx, io) => runStatus(ctx, options, io);
    }
    case 'inspect': {
      const options = {
        wiki: wiki as string,
        type: type as string,
        partition,
        state: (str(args, 'state') ?? 'unclaimed') as JobState,
        limit: num(args, 'limit', { min: 1, max: 1000, integer: true }) ?? 10,
        json: bool(args, 'json'),
      };
      return (ctx, io) => runInspect(ctx, options, io);
    }
    case 'retry-abandoned':
    case 'delete': {
      const guard = {
        ...common,
        dryRun: bool(args, 'dry-run'),
        yes: bool(args, 'yes'),
        json: bool(args, 'json'),
      };
      if (command === 'delete') return (ctx, io) => runDelete(ctx, guard, io);
      const limit = num(args, 'limit', { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
      return (ctx, io) => runRetryAbandoned(ctx, { ...guard, ...(limit !== undefined ? { limit } : {}) }, io);
    }
    case 'pause':
    case 'resume': {
      const target = { wiki: wiki as string, type: type as string };
      const asJson = bool(args, 'json');
      return (ctx, io) => runPause(ctx, target, command === 'pause', asJson, io);
    }
    case 'push': {
      const options = {
        wiki: wiki as string,
        type: type as string,
        partition,
        ...pushedJobArgs(args),
        gzip: bool(args, 'gzip'),
        json: bool(args, 'json'),
      };
      return (ctx, io) => runPush(ctx, options, io);
    }
  }
}

/** What `push` says about the jobs to make, with its limits; the same for every backend. */
function pushedJobArgs(args: Args) {
  return {
    count: num(args, 'count', { min: 1, max: 100_000, integer: true }) ?? 1,
    delay: num(args, 'delay', { min: 0, max: 10 * 365 * 86400, integer: false }),
    params: str(args, 'params'),
    dedupe: bool(args, 'dedupe'),
    title: str(args, 'title'),
    namespace: num(args, 'namespace', { min: -2, max: 2 ** 31 - 1, integer: true }),
  };
}

/** The backend a command works on: --backend, else the config's (memcached: status only, see legacyStatus). */
function chooseBackend(config: JobrunnerConfig, flag: string | undefined): CliBackend {
  if (flag === 'redis' || flag === 'kafka') return flag;
  if (config.backend === 'memcached') {
    throw new CliError(
      `${config.sourcePath} has backend "memcached" (the legacy job tables); give --backend redis or --backend kafka`,
      EXIT_USAGE,
    );
  }
  return config.backend;
}

/** status of a backend memcached farm: the counts of the wikis' job tables. */
async function legacyStatus(config: JobrunnerConfig, args: Args, io: CliIo): Promise<number> {
  const legacy = openLegacyStatus(config);
  try {
    const wiki = str(args, 'wiki');
    const type = str(args, 'type');
    return await runStatus(
      legacy,
      {
        ...(wiki !== undefined ? { wiki } : {}),
        ...(type !== undefined ? { type } : {}),
        partition: str(args, 'partition'),
        byPartition: bool(args, 'by-partition'),
        all: bool(args, 'all'),
        json: bool(args, 'json'),
        limit: num(args, 'limit', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }) ?? 0,
      },
      io,
    );
  } finally {
    await legacy.close();
  }
}

/** Options that only mean something for the redis backend. */
function rejectRedisOnly(args: Args, names: readonly string[]): void {
  for (const name of names) {
    const value = args[name];
    if (value !== undefined && value !== false && value !== 0) {
      throw new CliError(
        `--${name} is for the redis backend; it has no meaning with --backend kafka`,
        EXIT_USAGE,
      );
    }
  }
}

async function dispatchKafka(
  command: 'status' | 'push',
  args: Args,
  config: JobrunnerConfig,
  io: CliIo,
  addSecret: (secret: string) => void,
  mask: (text: string) => string,
): Promise<number> {
  if (command === 'status') {
    rejectRedisOnly(args, ['wiki', 'partition', 'by-partition', 'all', 'limit']);
    const type = str(args, 'type');
    return runKafkaStatus(
      config,
      { ...(type !== undefined ? { type } : {}), json: bool(args, 'json') },
      io,
      mask,
    );
  }
  rejectRedisOnly(args, ['partition', 'gzip']);
  const secretKeyFile = str(args, 'secret-key-file');
  return runKafkaPush(
    config,
    {
      wiki: str(args, 'wiki') as string,
      type: str(args, 'type') as string,
      ...pushedJobArgs(args),
      json: bool(args, 'json'),
      ...(secretKeyFile !== undefined ? { secretKeyFile } : {}),
    },
    io,
    addSecret,
  );
}

/** Runs one jobqueue command line; resolves to the exit code (never throws, never exits). */
export async function runJobqueue(argv: string[], io: CliIo): Promise<number> {
  let ctx: FarmContext | null = null;
  // Secrets known before a farm context exists (kafka commands): redis password, $wgSecretKey.
  const secrets: string[] = [];
  const mask = (text: string) => (ctx ? ctx.mask(maskSecrets(text, secrets)) : maskSecrets(text, secrets));
  try {
    const { args, output } = parse(argv);
    if (args.help === true || args.version === true) {
      io.stdout.write(`${output}\n`);
      return EXIT_OK;
    }
    const command = String((args._ as unknown[] | undefined)?.[0] ?? '') as CommandName;
    if (!COMMANDS.includes(command)) throw new CliError(`unknown command "${command}"`, EXIT_USAGE);
    if (command === 'delete' && args.wiki === undefined && args.type === undefined) {
      throw new CliError(
        'delete needs --wiki and/or --type (it will not delete every queue of the farm)',
        EXIT_USAGE,
      );
    }
    const configFile = str(args, 'config-file') ?? DEFAULT_CONFIG_FILE;
    if (command === 'status' || command === 'push') {
      const config = loadConfig(configFile);
      if (config.redis.password) secrets.push(config.redis.password);
      if (command === 'status' && config.backend === 'memcached' && str(args, 'backend') === undefined) {
        return await legacyStatus(config, args, io);
      }
      if (chooseBackend(config, str(args, 'backend')) === 'kafka') {
        return await dispatchKafka(command, args, config, io, (secret) => secrets.push(secret), mask);
      }
      if (args['secret-key-file'] !== undefined) {
        throw new CliError(
          '--secret-key-file signs Kafka events; it has no meaning with the redis backend',
          EXIT_USAGE,
        );
      }
      const run = prepare(command, args);
      ctx = await openFarm(configFile, { partition: str(args, 'partition'), config, redisChosen: true });
      return await run(ctx, io);
    }
    const run = prepare(command, args);
    ctx = await openFarm(configFile, { partition: str(args, 'partition') });
    return await run(ctx, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr.write(`jobqueue: ${mask(error.message)}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`jobqueue: error: ${mask(message)}\n`);
    return EXIT_FAILURE;
  } finally {
    await ctx?.close();
  }
}
