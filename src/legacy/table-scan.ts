// One pass over every configured wiki's job table: per-(wiki, type) counts. A wiki whose table
// cannot be read is reported and the others still answer.
import type { LegacyWikiConfig, LimitsConfig } from '../config/types.js';
import type { JobTableClient } from './job-table-client.js';
import { tsMwToUnix } from './mw-timestamp.js';
import { jobTableDb, summaryLimits } from './wiki-tables.js';
import { jobTableLabel } from './dsn.js';

export interface LegacyQueueSummary {
  readonly wiki: string;
  readonly type: string;
  readonly unclaimed: number;
  /** Claimed and still within their attempts (running, or stale and recyclable). */
  readonly claimed: number;
  readonly abandoned: number;
  /** Of `claimed`: older than claimTTL, so MediaWiki releases them on its next pop of the type. */
  readonly recyclable: number;
  /** Enqueue UNIX time of the oldest unclaimed job. */
  readonly oldestTimestamp: number | null;
}

export interface WikiScan {
  readonly queues: LegacyQueueSummary[];
  /** Wikis whose table could not be read; `error` names the wiki and its DSN (password masked). */
  readonly errors: { wiki: string; error: string }[];
}

export async function scanJobTables(
  tables: JobTableClient,
  wikis: readonly LegacyWikiConfig[],
  limits: Pick<LimitsConfig, 'claimTTL' | 'attempts'>,
  now: number,
): Promise<WikiScan> {
  const perTypeLimits = summaryLimits(limits);
  const settled = await Promise.allSettled(
    wikis.map(async (wiki) => ({
      wiki: wiki.wiki,
      types: await tables.summary(jobTableDb(wiki), perTypeLimits, now),
    })),
  );
  const queues: LegacyQueueSummary[] = [];
  const errors: { wiki: string; error: string }[] = [];
  settled.forEach((outcome, i) => {
    const config = wikis[i];
    const wiki = config?.wiki ?? '?';
    if (outcome.status === 'rejected') {
      const reason = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
      errors.push({ wiki, error: config ? `${jobTableLabel(config)}: ${reason}` : reason });
      return;
    }
    for (const t of outcome.value.types) {
      queues.push({
        wiki,
        type: t.type,
        unclaimed: t.unclaimed,
        claimed: t.claimed - t.abandoned,
        abandoned: t.abandoned,
        recyclable: t.recyclable,
        oldestTimestamp: tsMwToUnix(t.oldest),
      });
    }
  });
  return { queues, errors };
}

/** What a runner could pop now: unclaimed jobs plus stale claims MediaWiki will release. */
export function readyJobs(queue: LegacyQueueSummary): number {
  return queue.unclaimed + queue.recyclable;
}
