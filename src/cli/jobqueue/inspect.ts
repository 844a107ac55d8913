// jobqueue inspect: the jobs of one (wiki, type) queue in one state, decoded (title, params,
// attempts, timestamps). Unreadable blobs are shown with the reason and left where they are.
import type { JobState, StoredJob } from '../../redis/queue-store.js';
import type { PartitionQueue } from '../../status/farm-queues.js';
import type { CliIo, FarmContext } from './context.js';
import { EXIT_FAILURE, EXIT_OK } from './errors.js';
import { formatAge, isoSeconds } from './output.js';

export interface InspectArgs {
  readonly wiki: string;
  readonly type: string;
  readonly state: JobState;
  readonly limit: number;
  readonly partition?: string;
  readonly json: boolean;
}

interface Found {
  readonly partition: string;
  readonly job: StoredJob;
}

const SCORE_MEANING: Record<JobState, string | null> = {
  unclaimed: null,
  claimed: 'claimed at',
  abandoned: 'abandoned at',
  delayed: 'release at',
};

function sortTime(found: Found): number {
  if (found.job.score !== null) return found.job.score;
  return found.job.ok ? found.job.job.timestamp : Number.MAX_SAFE_INTEGER;
}

function jobJson(found: Found, now: number): object {
  const { job } = found;
  const base = {
    partition: found.partition,
    id: job.id,
    state: job.state,
    attempts: job.attempts,
    score: job.score,
    scoreIso: job.score === null ? null : isoSeconds(job.score),
  };
  if (!job.ok) return { ...base, ok: false, error: job.error };
  const j = job.job;
  return {
    ...base,
    ok: true,
    job: {
      type: j.type,
      namespace: j.namespace,
      title: j.title,
      params: j.paramsJson,
      rtimestamp: j.rtimestamp,
      uuid: j.uuid,
      sha1: j.sha1,
      timestamp: j.timestamp,
      timestampIso: isoSeconds(j.timestamp),
      ageSeconds: Math.max(0, Math.floor(now - j.timestamp)),
      compression: j.compression,
    },
  };
}

function jobText(found: Found, now: number): string {
  const { job } = found;
  const lines = [`${job.id}  ${job.state}  attempts=${job.attempts}  partition=${found.partition}`];
  const meaning = SCORE_MEANING[job.state];
  if (meaning && job.score !== null) {
    lines.push(
      `  ${meaning}: ${isoSeconds(job.score)} (${formatAge(Math.abs(now - job.score))} ${job.score > now ? 'from now' : 'ago'})`,
    );
  }
  if (!job.ok) {
    lines.push(`  unreadable: ${job.error} (left in place)`);
    return lines.join('\n');
  }
  const j = job.job;
  lines.push(`  title:    ${j.title === '' ? '(none)' : `${j.title} (namespace ${j.namespace})`}`);
  lines.push(`  enqueued: ${isoSeconds(j.timestamp)} (${formatAge(now - j.timestamp)} ago)`);
  if (j.rtimestamp > 0 && job.state !== 'delayed') lines.push(`  release:  ${isoSeconds(j.rtimestamp)}`);
  if (j.sha1 !== '') lines.push(`  sha1:     ${j.sha1}`);
  if (j.compression) lines.push(`  stored:   ${j.compression} envelope`);
  lines.push(`  params:   ${JSON.stringify(j.paramsJson)}`);
  return lines.join('\n');
}

export async function runInspect(ctx: FarmContext, args: InspectArgs, io: CliIo): Promise<number> {
  const now = Date.now() / 1000;
  const listing = await ctx.farm.list({ wiki: args.wiki, type: args.type, partition: args.partition });
  // Read where the queue is listed; if it is listed nowhere, still look under the wiki ID as domain.
  let targets: Pick<PartitionQueue, 'partition' | 'domain'>[] = listing.queues;
  if (targets.length === 0) {
    targets = listing.partitions.filter((p) => p.ok).map((p) => ({ partition: p.name, domain: args.wiki }));
  }
  const errors = [...listing.errors];
  const found: Found[] = [];
  await Promise.all(
    targets.map(async (target) => {
      try {
        const jobs = await ctx.farm
          .store(target.partition)
          .readJobs(args.type, target.domain, args.state, args.limit);
        for (const job of jobs) found.push({ partition: target.partition, job });
      } catch (error) {
        errors.push({
          partition: target.partition,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }),
  );
  // Unclaimed jobs have no score: the oldest enqueue time first, like pop order within a partition.
  found.sort((a, b) => sortTime(a) - sortTime(b));
  const shown = found.slice(0, args.limit);
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ wiki: args.wiki, type: args.type, state: args.state, jobs: shown.map((f) => jobJson(f, now)), errors }, null, 2)}\n`,
    );
  } else if (shown.length === 0) {
    io.stdout.write(`No ${args.state} ${args.type} jobs for ${args.wiki}.\n`);
  } else {
    io.stdout.write(`${shown.map((f) => jobText(f, now)).join('\n\n')}\n`);
  }
  for (const e of errors)
    io.stderr.write(`jobqueue: error: partition ${e.partition} could not be read: ${ctx.mask(e.error)}\n`);
  return errors.length > 0 ? EXIT_FAILURE : EXIT_OK;
}
