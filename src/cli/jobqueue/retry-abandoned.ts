// jobqueue retry-abandoned: puts abandoned jobs back in their queue (in place, attempts reset),
// after showing what matches and asking (unless --yes); --dry-run only shows.
import type { PartitionQueue } from '../../status/farm-queues.js';
import { retryAbandoned } from '../../status/queue-actions.js';
import { confirm } from './confirm.js';
import type { CliIo, FarmContext } from './context.js';
import { EXIT_FAILURE, EXIT_OK } from './errors.js';
import { formatCount, formatTable, plural } from './output.js';

export interface ActionFilterArgs {
  readonly wiki?: string;
  readonly type?: string;
  readonly partition?: string;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
}

export interface RetryArgs extends ActionFilterArgs {
  /** Jobs per queue at most (all when undefined). */
  readonly limit?: number;
}

export function planTable(
  queues: readonly PartitionQueue[],
  count: (q: PartitionQueue) => number,
  header: string,
): string {
  return formatTable(
    [
      { header: 'WIKI', value: (q: PartitionQueue) => q.wiki },
      { header: 'TYPE', value: (q) => q.type },
      { header: 'PARTITION', value: (q) => q.partition },
      { header, value: (q) => formatCount(count(q)), align: 'right' },
    ],
    queues,
  );
}

export function reportListingErrors(
  ctx: FarmContext,
  errors: readonly { partition: string; error: string }[],
  io: CliIo,
): void {
  for (const e of errors) {
    io.stderr.write(
      `jobqueue: error: partition ${e.partition} could not be read (skipped): ${ctx.mask(e.error)}\n`,
    );
  }
}

export async function runRetryAbandoned(ctx: FarmContext, args: RetryArgs, io: CliIo): Promise<number> {
  const listing = await ctx.farm.list({ wiki: args.wiki, type: args.type, partition: args.partition });
  reportListingErrors(ctx, listing.errors, io);
  const failed = listing.errors.length > 0 ? EXIT_FAILURE : EXIT_OK;
  const queues = listing.queues.filter((q) => q.abandoned > 0);
  const wanted = (q: PartitionQueue) => Math.min(q.abandoned, args.limit ?? Infinity);
  const jobs = queues.reduce((n, q) => n + wanted(q), 0);
  const out = args.json ? io.stderr : io.stdout;
  if (queues.length === 0) {
    if (args.json)
      io.stdout.write(
        `${JSON.stringify({ dryRun: args.dryRun, queues: 0, moved: 0, noData: 0, errors: listing.errors })}\n`,
      );
    else io.stdout.write('No abandoned jobs match.\n');
    return failed;
  }
  out.write(planTable(queues, wanted, 'TO RETRY'));
  if (args.dryRun) {
    if (args.json)
      io.stdout.write(
        `${JSON.stringify({ dryRun: true, queues: queues.length, jobs, errors: listing.errors })}\n`,
      );
    else
      io.stdout.write(
        `Dry run: would retry ${plural(jobs, 'abandoned job')} in ${plural(queues.length, 'queue')}.\n`,
      );
    return failed;
  }
  if (
    !args.yes &&
    !(await confirm(
      `Retry ${plural(jobs, 'abandoned job')} in ${plural(queues.length, 'queue')}?`,
      io.stdin,
      io.stderr,
    ))
  ) {
    io.stderr.write('Aborted; nothing was changed.\n');
    return EXIT_FAILURE;
  }
  const report = await retryAbandoned(ctx.farm, queues, { limit: args.limit });
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ dryRun: false, ...report, errors: [...listing.errors, ...report.errors] })}\n`,
    );
  } else {
    io.stdout.write(
      `Retried ${plural(report.moved, 'abandoned job')} in ${plural(report.queues, 'queue')}.\n`,
    );
    if (report.noData > 0) {
      io.stdout.write(`${plural(report.noData, 'abandoned job')} without job data left in place.\n`);
    }
  }
  for (const e of report.errors) {
    io.stderr.write(
      `jobqueue: error: ${e.type} on ${e.wiki} (partition ${e.partition}): ${ctx.mask(e.error)}\n`,
    );
  }
  return report.errors.length > 0 ? EXIT_FAILURE : failed;
}
