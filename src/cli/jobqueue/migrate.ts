// jobqueue migrate: moves queued jobs between the memcached (legacy JobQueueDB), redis and kafka
// backends: copy, verify, and (only with --delete-source) delete from the source what was verified.
// Checkpointed (--resume), rate-limited (--rate), with a progress line on stderr and a final report
// on stdout (--json for JSON). Exit codes: 0 every job copied and verified; 1 something stayed behind
// (corrupt, unverified or undeletable jobs; an unreachable end); 2 bad command line or configuration.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { readSecretFile } from '../../config/secret-file.js';
import type { BackendKind, JobrunnerConfig } from '../../config/types.js';
import { ConfigError } from '../../config/errors.js';
import { CheckpointError, loadCheckpoint } from '../../migrate/checkpoint.js';
import { KafkaEnd } from '../../migrate/ends/kafka-end.js';
import { RedisEnd } from '../../migrate/ends/redis-end.js';
import { missingSection, openEnd, type MigrationEnd } from '../../migrate/ends/open-end.js';
import { migrate, MigrationRefusedError, preflight, type MigrateOptions } from '../../migrate/migrate.js';
import { LineProgress, noProgress } from '../../migrate/progress.js';
import { formatReport } from '../../migrate/report.js';
import { loadConfig, type CliIo } from './context.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';

const KINDS: readonly BackendKind[] = ['memcached', 'redis', 'kafka'];
import { DEFAULT_CONFIG_FILE } from '../../config/default-path.js';

export interface MigrateArgs {
  readonly from: BackendKind;
  readonly to: BackendKind;
  readonly fromConfig: string;
  readonly toConfig: string;
  /** --allow-live-runners: copy from Redis although runners still take jobs from it. */
  readonly allowLiveRunners: boolean;
  /** --report-file: the JSON report is also written here. */
  readonly reportFile: string | undefined;
  readonly wikis: string[];
  readonly types: string[];
  readonly dryRun: boolean;
  readonly rate: number | undefined;
  readonly resume: boolean;
  readonly deleteSource: boolean;
  readonly checkpoint: string;
  readonly json: boolean;
  readonly progress: boolean;
  readonly batch: number;
  readonly dedupTypes: string[];
  readonly secretKeyFile: string | undefined;
  readonly gzip: boolean;
}

function parser(argv: string[]): Argv {
  return (
    yargs(argv)
      .scriptName('jobqueue migrate')
      .locale('en')
      .usage(
        'Move queued jobs between backends: copy, verify, then (with --delete-source) delete what was verified.\n\n' +
          'Usage: jobqueue migrate --from <memcached|redis|kafka> --to <memcached|redis|kafka> [options]',
      )
      .option('from', { choices: KINDS, demandOption: true, describe: 'Source backend' })
      .option('to', { choices: KINDS, demandOption: true, describe: 'Target backend' })
      .option('config-file', {
        alias: 'c',
        type: 'string',
        requiresArg: true,
        default: DEFAULT_CONFIG_FILE,
        describe: 'jobrunner.conf with the sections of both ends',
      })
      .option('from-config', {
        type: 'string',
        requiresArg: true,
        describe: 'Config of the source (default --config-file)',
      })
      .option('to-config', {
        type: 'string',
        requiresArg: true,
        describe: 'Config of the target (default --config-file)',
      })
      .option('wiki', {
        type: 'string',
        array: true,
        requiresArg: true,
        describe: 'Only these wikis (repeat or comma-separate)',
      })
      .option('type', {
        type: 'string',
        array: true,
        requiresArg: true,
        describe: 'Only these job types (repeat or comma-separate)',
      })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'Read and convert everything, write nothing',
      })
      // Numbers as typed (yargs' number type turns "abc" into NaN); checked in parseMigrateArgs.
      .option('rate', { type: 'string', requiresArg: true, describe: 'At most this many jobs per second' })
      .option('resume', {
        type: 'boolean',
        default: false,
        describe: 'Continue the migration of --checkpoint',
      })
      .option('allow-live-runners', {
        type: 'boolean',
        default: false,
        describe:
          'Copy from Redis even though jobrunner processes still take jobs from it (jobs they take during the copy can run in both backends)',
      })
      .option('delete-source', {
        type: 'boolean',
        default: false,
        describe: 'Delete verified jobs from the source',
      })
      .option('checkpoint', {
        type: 'string',
        requiresArg: true,
        describe: 'Checkpoint file (default ./jobqueue-migrate-<from>-to-<to>.checkpoint)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Final report as JSON' })
      .option('report-file', {
        type: 'string',
        requiresArg: true,
        describe: 'Also write the final report as JSON to this file',
      })
      .option('progress', {
        type: 'boolean',
        default: true,
        describe: 'Progress line on stderr (--no-progress: none)',
      })
      .option('batch', {
        type: 'string',
        requiresArg: true,
        default: 1000,
        describe: 'Jobs per read/write batch',
      })
      .option('dedup-types', {
        type: 'string',
        array: true,
        requiresArg: true,
        describe: 'memcached source: more job types that ignore duplicates',
      })
      .option('secret-key-file', {
        type: 'string',
        requiresArg: true,
        describe:
          "kafka target: $wgSecretKey file, to sign events (default the target config's dispatch.secretKeyFile)",
      })
      .option('gzip', {
        type: 'boolean',
        default: false,
        describe: "redis target: the queues use 'compression' => 'gzip'",
      })
      .strict()
      .help()
      .alias('help', 'h')
      .version(false)
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .exitProcess(false)
  );
}

/**
 * Where the word `migrate` stands when it is the command (the first word that is not an option,
 * `-c PATH` may come before it, as for the other commands); -1 when it is not.
 */
export function migrateAt(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-c' || arg === '--config-file') i++;
    else if (!arg.startsWith('-')) return arg === 'migrate' ? i : -1;
  }
  return -1;
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  return [...new Set(items.map((v) => v.trim()).filter((v) => v !== ''))];
}

/** Parses argv (without the word "migrate"); help text comes back as { help }. */
export function parseMigrateArgs(argv: string[]): MigrateArgs | { help: string } {
  let parsed: Record<string, unknown> = {};
  let output = '';
  parser(argv)
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new CliError(
        `${message ?? error?.message ?? 'bad arguments'}\nRun 'jobqueue migrate --help' for usage.`,
        EXIT_USAGE,
      );
    })
    .parse(argv, {}, (_error: Error | undefined, args: Record<string, unknown>, text: string) => {
      parsed = args;
      output = text;
    });
  if (parsed.help === true) return { help: output };
  const from = parsed.from as BackendKind;
  const to = parsed.to as BackendKind;
  const configFile = String(parsed['config-file'] ?? DEFAULT_CONFIG_FILE);
  const fromConfig = resolve(String(parsed['from-config'] ?? configFile));
  const toConfig = resolve(String(parsed['to-config'] ?? configFile));
  const rate = parsed.rate === undefined ? undefined : Number(parsed.rate);
  if (rate !== undefined && (!Number.isFinite(rate) || rate <= 0)) {
    throw new CliError(
      `--rate must be a number of jobs per second above 0 (got ${String(parsed.rate)})`,
      EXIT_USAGE,
    );
  }
  const batch = Number(parsed.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) {
    throw new CliError(
      `--batch must be a whole number from 1 to 10000 (got ${String(parsed.batch)})`,
      EXIT_USAGE,
    );
  }
  if (from === to && fromConfig === toConfig) {
    throw new CliError(
      `--from and --to are both ${from} with the same configuration: nothing to migrate`,
      EXIT_USAGE,
    );
  }
  const dryRun = parsed['dry-run'] === true;
  const deleteSource = parsed['delete-source'] === true;
  if (dryRun && deleteSource) {
    throw new CliError(
      '--delete-source refused with --dry-run: a dry run copies nothing, so nothing is verified to delete',
      EXIT_USAGE,
    );
  }
  if (dryRun && parsed.resume === true)
    throw new CliError('--resume and --dry-run do not go together', EXIT_USAGE);
  return {
    from,
    to,
    fromConfig,
    toConfig,
    wikis: list(parsed.wiki),
    types: list(parsed.type),
    dryRun,
    rate,
    resume: parsed.resume === true,
    deleteSource,
    allowLiveRunners: parsed['allow-live-runners'] === true,
    checkpoint: resolve(String(parsed.checkpoint ?? `jobqueue-migrate-${from}-to-${to}.checkpoint`)),
    json: parsed.json === true,
    reportFile: parsed['report-file'] === undefined ? undefined : resolve(String(parsed['report-file'])),
    progress: parsed.progress !== false,
    batch,
    dedupTypes: list(parsed['dedup-types']),
    secretKeyFile:
      parsed['secret-key-file'] === undefined ? undefined : resolve(String(parsed['secret-key-file'])),
    gzip: parsed.gzip === true,
  };
}

function configFor(file: string, kind: BackendKind, end: string): JobrunnerConfig {
  const config = loadConfig(file);
  const missing = missingSection(kind, config);
  if (missing) throw new CliError(`${end} (${kind}): ${missing}`, EXIT_USAGE);
  return config;
}

/** The run ID: the checkpoint's when resuming (target markers are per run), else a new one. */
function runIdFor(args: MigrateArgs): string {
  if (!args.resume) return randomBytes(8).toString('hex');
  try {
    const state = loadCheckpoint(args.checkpoint);
    if (!state) throw new CliError(`--resume: no checkpoint at ${args.checkpoint}`, EXIT_USAGE);
    return state.header.runId;
  } catch (error) {
    if (error instanceof CheckpointError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
}

function secretKeyFor(args: MigrateArgs, target: JobrunnerConfig): string | undefined {
  if (args.to !== 'kafka') return undefined;
  const file = args.secretKeyFile ?? target.dispatch.secretKeyFile;
  if (file === undefined) return undefined;
  try {
    return readSecretFile(file, args.secretKeyFile ? '--secret-key-file' : 'dispatch.secretKeyFile');
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
}

/**
 * A Redis runner still popping jobs would run jobs that are also being copied: refuse (or, for a
 * dry run, warn) unless --allow-live-runners. Runners announce themselves (runner/heartbeat.ts).
 */
async function checkLiveRunners(source: RedisEnd, args: MigrateArgs, io: CliIo): Promise<void> {
  const runners = await source.liveRunners();
  if (runners.length === 0 || args.allowLiveRunners) return;
  const list = runners
    .map((r) => `${r.host} pid ${r.pid} (on ${r.partition}, since ${r.startedAt})`)
    .join(', ');
  const what = `${runners.length} jobrunner process(es) still take jobs from the source Redis: ${list}`;
  if (args.dryRun) {
    io.stderr.write(`jobqueue migrate: warning: ${what}; stop them before the real migration\n`);
    return;
  }
  throw new MigrationRefusedError(
    `${what}. Jobs they take while the copy runs would run here and in the target. Stop them first ` +
      '(runbook: stop the Redis runners, then migrate), or pass --allow-live-runners to accept that; nothing was touched',
    1,
  );
}

export async function runMigrateCli(argv: string[], io: CliIo): Promise<number> {
  let source: MigrationEnd | null = null;
  let target: MigrationEnd | null = null;
  try {
    const parsed = parseMigrateArgs(argv);
    if ('help' in parsed) {
      io.stdout.write(`${parsed.help}\n`);
      return EXIT_OK;
    }
    const args = parsed;
    const fromConfig = configFor(args.fromConfig, args.from, 'source');
    const toConfig = configFor(args.toConfig, args.to, 'target');
    const runId = runIdFor(args);
    const secretKey = secretKeyFor(args, toConfig);
    source = openEnd(args.from, fromConfig, {
      runId,
      role: 'source',
      batchSize: args.batch,
      ...(args.dedupTypes.length > 0 ? { dedupTypes: new Set(args.dedupTypes) } : {}),
    });
    target = openEnd(args.to, toConfig, {
      runId,
      role: 'target',
      batchSize: args.batch,
      ...(secretKey !== undefined ? { secretKey } : {}),
      ...(args.gzip ? { gzip: true } : {}),
    });
    await preflight(source, target);
    if (source instanceof RedisEnd) await checkLiveRunners(source, args, io);
    const options: MigrateOptions = {
      from: args.from,
      to: args.to,
      filter: { wikis: args.wikis, types: args.types },
      dryRun: args.dryRun,
      deleteSource: args.deleteSource,
      ...(args.rate !== undefined ? { rate: args.rate } : {}),
      resume: args.resume,
      checkpointFile: args.checkpoint,
      runId,
    };
    const kafkaTarget = target instanceof KafkaEnd ? target : null;
    const report = await migrate(options, {
      source,
      target,
      progress: args.progress ? new LineProgress(io.stderr) : noProgress,
      onCheckpoint: (state, writer) => kafkaTarget?.useCheckpoint(state, writer),
    });
    if (args.reportFile !== undefined) writeFileSync(args.reportFile, `${JSON.stringify(report, null, 2)}\n`);
    io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  } catch (error) {
    if (error instanceof CliError || error instanceof MigrationRefusedError) {
      io.stderr.write(`jobqueue migrate: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr.write(`jobqueue migrate: error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    await Promise.allSettled([source?.close(), target?.close()]);
  }
}
