// jobqueue delete: deletes whole (wiki, type) queues like MediaWiki's JobQueue::delete(), after
// showing what matches and asking (unless --yes); --dry-run only shows. At least one of --wiki and
// --type is required so a slip cannot empty the whole farm.
import { deleteQueues } from '../../status/queue-actions.js';
import { confirm } from './confirm.js';
import type { CliIo, FarmContext } from './context.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';
import { plural } from './output.js';
import { planTable, reportListingErrors, type ActionFilterArgs } from './retry-abandoned.js';

export async function runDelete(ctx: FarmContext, args: ActionFilterArgs, io: CliIo): Promise<number> {
  if (args.wiki === undefined && args.type === undefined) {
    throw new CliError(
      'delete needs --wiki and/or --type (it will not delete every queue of the farm)',
      EXIT_USAGE,
    );
  }
  const listing = await ctx.farm.list({ wiki: args.wiki, type: args.type, partition: args.partition });
  reportListingErrors(ctx, listing.errors, io);
  const failed = listing.errors.length > 0 ? EXIT_FAILURE : EXIT_OK;
  const queues = listing.queues;
  const total = (q: (typeof queues)[number]) => q.unclaimed + q.claimed + q.abandoned + q.delayed;
  const jobs = queues.reduce((n, q) => n + total(q), 0);
  const out = args.json ? io.stderr : io.stdout;
  if (queues.length === 0) {
    if (args.json)
      io.stdout.write(
        `${JSON.stringify({ dryRun: args.dryRun, queues: 0, jobs: 0, errors: listing.errors })}\n`,
      );
    else io.stdout.write('No queues match.\n');
    return failed;
  }
  out.write(planTable(queues, total, 'JOBS'));
  if (args.dryRun) {
    if (args.json)
      io.stdout.write(
        `${JSON.stringify({ dryRun: true, queues: queues.length, jobs, errors: listing.errors })}\n`,
      );
    else
      io.stdout.write(
        `Dry run: would delete ${plural(queues.length, 'queue')} holding ${plural(jobs, 'job')}.\n`,
      );
    return failed;
  }
  const question = `Delete ${plural(queues.length, 'queue')} holding ${plural(jobs, 'job')}? This cannot be undone.`;
  if (!args.yes && !(await confirm(question, io.stdin, io.stderr))) {
    io.stderr.write('Aborted; nothing was deleted.\n');
    return EXIT_FAILURE;
  }
  const report = await deleteQueues(ctx.farm, queues);
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ dryRun: false, ...report, errors: [...listing.errors, ...report.errors] })}\n`,
    );
  } else {
    io.stdout.write(`Deleted ${plural(report.queues, 'queue')} holding ${plural(report.jobs, 'job')}.\n`);
  }
  for (const e of report.errors) {
    io.stderr.write(
      `jobqueue: error: ${e.type} on ${e.wiki} (partition ${e.partition}): ${ctx.mask(e.error)}\n`,
    );
  }
  return report.errors.length > 0 ? EXIT_FAILURE : failed;
}
