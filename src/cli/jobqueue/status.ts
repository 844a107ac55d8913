// jobqueue status: one table for the whole farm (every wiki, type and partition), most urgent first.
import { summarizeFarm, type FarmSummary, type QueueRow } from '../../status/farm-summary.js';
import { pausedOf, withPaused } from '../../status/pause-actions.js';
import type { CliIo, FarmContext } from './context.js';
import { EXIT_FAILURE, EXIT_OK } from './errors.js';
import { formatAge, formatCount, formatTable, plural, type Column } from './output.js';

export interface StatusArgs {
  readonly wiki?: string;
  readonly type?: string;
  readonly partition?: string;
  readonly byPartition: boolean;
  readonly all: boolean;
  readonly json: boolean;
  /** Table rows to print (0 = all); JSON is always complete. */
  readonly limit: number;
}

/** The --json document; the dashboard's /api/queues carries the same rows and totals. */
export function statusJson(summary: FarmSummary): object {
  return {
    generatedAt: new Date(summary.generatedAt).toISOString(),
    generatedAtMs: summary.generatedAt,
    totals: summary.totals,
    queues: summary.rows,
    emptyQueues: summary.emptyQueues,
    partitions: summary.partitions,
    errors: summary.errors,
    paused: summary.paused ?? [],
  };
}

function columns(byPartition: boolean): Column<QueueRow>[] {
  const count = (key: 'unclaimed' | 'claimed' | 'abandoned' | 'delayed'): Column<QueueRow> => ({
    header: key.toUpperCase(),
    value: (r) => formatCount(r[key]),
    align: 'right',
  });
  return [
    { header: 'WIKI', value: (r) => r.wiki },
    { header: 'TYPE', value: (r) => (r.paused ? `${r.type} (paused)` : r.type) },
    count('unclaimed'),
    count('claimed'),
    count('abandoned'),
    count('delayed'),
    { header: 'OLDEST', value: (r) => formatAge(r.oldestAgeSeconds), align: 'right' },
    { header: byPartition ? 'PARTITION' : 'PARTITIONS', value: (r) => r.partitions.join(',') },
  ];
}

/** What status needs of a context: the redis farm, or the legacy job tables (legacy-status.ts). */
export type StatusContext = Pick<FarmContext, 'mask'> & {
  /** partitions and store: where paused queues are read (the redis farm only). */
  readonly farm: Pick<FarmContext['farm'], 'list'> &
    Partial<Pick<FarmContext['farm'], 'partitions' | 'store'>>;
};

export async function runStatus(ctx: StatusContext, args: StatusArgs, io: CliIo): Promise<number> {
  const listing = await ctx.farm.list({ wiki: args.wiki, type: args.type, partition: args.partition });
  const summary = withPaused(
    summarizeFarm(listing, { byPartition: args.byPartition, includeEmpty: args.all }),
    ctx.farm.partitions && ctx.farm.store
      ? await pausedOf({ partitions: ctx.farm.partitions, store: ctx.farm.store.bind(ctx.farm) })
      : [],
  );
  if (args.json) {
    io.stdout.write(`${JSON.stringify(statusJson(summary))}\n`);
  } else {
    const shown = args.limit > 0 ? summary.rows.slice(0, args.limit) : summary.rows;
    const t = summary.totals;
    const total: QueueRow = {
      wiki: 'TOTAL',
      domain: '',
      type: plural(t.queues, 'queue'),
      unclaimed: t.unclaimed,
      claimed: t.claimed,
      abandoned: t.abandoned,
      delayed: t.delayed,
      total: t.total,
      oldestAgeSeconds: t.oldestAgeSeconds,
      partitions: [
        `${summary.partitions.filter((p) => p.ok).length}/${summary.partitions.length} partitions read`,
      ],
    };
    io.stdout.write(formatTable(columns(args.byPartition), shown, [total]));
    if (shown.length < summary.rows.length) {
      io.stdout.write(`(${summary.rows.length - shown.length} more queues not shown; --limit 0 shows all)\n`);
    }
    if (summary.emptyQueues > 0 && !args.all) {
      io.stdout.write(
        `(${plural(summary.emptyQueues, 'listed queue')} without jobs not shown; --all shows them)\n`,
      );
    }
  }
  for (const p of summary.partitions) {
    if (p.badMembers > 0) {
      io.stderr.write(
        `jobqueue: warning: partition ${p.name} lists ${p.badMembers} malformed queue ID(s) (jobchron moves them to jobrunner:chron:s-queuesQuarantined)\n`,
      );
    }
  }
  for (const e of summary.errors) {
    io.stderr.write(`jobqueue: error: partition ${e.partition} could not be read: ${ctx.mask(e.error)}\n`);
  }
  return summary.errors.length > 0 ? EXIT_FAILURE : EXIT_OK;
}
