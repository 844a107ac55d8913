// jobqueue push: enqueues jobs exactly as MediaWiki's JobQueueGroup::push(new JobSpecification(...))
// does (same blob, same dedup hash, same keys and set member), for smoke tests and canaries.
import { JobBlobError } from '../../mediawiki/job-blob.js';
import { newJobFields } from '../../mediawiki/new-job.js';
import { jsonToPhp } from '../../mediawiki/php-json.js';
import { PhpArray, PhpSerializeError } from '../../mediawiki/php-serialize.js';
import type { CliIo, FarmContext } from './context.js';
import { CliError, EXIT_OK, EXIT_USAGE } from './errors.js';
import { isoSeconds, plural } from './output.js';

export const MAX_PUSH_COUNT = 100_000;

export interface PushArgs {
  readonly wiki: string;
  readonly type: string;
  readonly count: number;
  /** Seconds from now; sets params.jobReleaseTimestamp like pushJobs.php. */
  readonly delay?: number;
  /** JSON object of job params. */
  readonly params?: string;
  /** removeDuplicates: identical pending jobs are stored once. */
  readonly dedupe: boolean;
  readonly title?: string;
  readonly namespace?: number;
  readonly partition?: string;
  readonly gzip: boolean;
  readonly json: boolean;
}

/** Params from --params/--title/--namespace/--delay, in the order MediaWiki would hold them. */
export function buildParams(
  args: Pick<PushArgs, 'params' | 'title' | 'namespace' | 'delay'>,
  nowSeconds: number,
): PhpArray {
  let params = new PhpArray();
  if (args.params !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(args.params);
    } catch (error) {
      throw new CliError(`--params is not valid JSON: ${(error as Error).message}`, EXIT_USAGE);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CliError('--params must be a JSON object, e.g. \'{"lives":1}\'', EXIT_USAGE);
    }
    try {
      params = jsonToPhp(parsed, '--params') as PhpArray;
    } catch (error) {
      if (error instanceof PhpSerializeError) throw new CliError(error.message, EXIT_USAGE);
      throw error;
    }
  }
  if (args.title !== undefined) {
    params.set('namespace', args.namespace ?? 0);
    params.set('title', args.title.replace(/ /g, '_'));
  }
  if (args.delay !== undefined) params.set('jobReleaseTimestamp', nowSeconds + Math.ceil(args.delay));
  return params;
}

function choosePartition(ctx: FarmContext, args: PushArgs): string {
  if (args.partition !== undefined) {
    const down = ctx.unreachable.get(args.partition);
    if (down !== undefined) throw new CliError(`partition ${args.partition} is unreachable: ${down}`);
    return args.partition;
  }
  const reachable = ctx.farm.partitions.filter((p) => !ctx.unreachable.has(p));
  if (ctx.farm.partitions.length > 1 && args.dedupe) {
    // MediaWiki places de-duplicatable jobs on a HashRing partition; pushing elsewhere defeats dedup.
    throw new CliError(
      `--dedupe with ${ctx.farm.partitions.length} partitions needs --partition (the one MediaWiki's HashRing would choose)`,
      EXIT_USAGE,
    );
  }
  const [first] = reachable;
  if (first === undefined) {
    const reasons = [...ctx.unreachable].map(([p, e]) => `${p}: ${e}`).join('; ');
    throw new CliError(`no queue partition is reachable (${reasons})`);
  }
  // Like JobQueueFederated for ordinary jobs: any live partition (uniform here; weights are MediaWiki's).
  return reachable[Math.floor(Math.random() * reachable.length)] ?? first;
}

export async function runPush(ctx: FarmContext, args: PushArgs, io: CliIo): Promise<number> {
  if (!Number.isInteger(args.count) || args.count < 1 || args.count > MAX_PUSH_COUNT) {
    throw new CliError(`--count must be a whole number from 1 to ${MAX_PUSH_COUNT}`, EXIT_USAGE);
  }
  if (args.delay !== undefined && (!Number.isFinite(args.delay) || args.delay < 0)) {
    throw new CliError('--delay must be a number of seconds >= 0', EXIT_USAGE);
  }
  const now = Math.floor(Date.now() / 1000);
  const params = buildParams(args, now);
  const partition = choosePartition(ctx, args);
  let jobs;
  try {
    jobs = Array.from({ length: args.count }, () =>
      newJobFields({
        type: args.type,
        params: params.clone(),
        removeDuplicates: args.dedupe,
        dedup: { variant: 'jobSpecification' },
        now,
      }),
    );
  } catch (error) {
    if (error instanceof JobBlobError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
  const result = await ctx.farm
    .store(partition)
    .pushJobs(args.type, args.wiki, jobs, { compression: args.gzip ? 'gzip' : null });
  const release = jobs[0]?.rtimestamp ?? 0;
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ wiki: args.wiki, type: args.type, partition, ...result, releaseAt: release ? Number(release) : null, ids: jobs.map((j) => j.uuid) })}\n`,
    );
  } else {
    const delayed = release ? `, released at ${isoSeconds(Number(release))}` : '';
    const dupes = result.requested - result.pushed;
    io.stdout.write(
      `Pushed ${plural(result.pushed, 'job')} of type ${args.type} for ${args.wiki} to ${partition}${delayed}` +
        (dupes > 0 ? ` (${dupes} skipped as duplicates)` : '') +
        '.\n',
    );
  }
  return EXIT_OK;
}
