// Pushes test jobs straight into Redis in MediaWiki's own format (RedisQueueStore, the same Lua
// steps as JobQueueRedis::doBatchPush). 20,000 jobs take well under a second this way; through PHP
// (pushJobs.php) they take several seconds and would dominate set-up time.
import type { JobFields } from '../../mediawiki/job-blob.js';
import { newJobFields } from '../../mediawiki/new-job.js';
import { PhpArray } from '../../mediawiki/php-serialize.js';
import type { RedisQueueStore } from '../../redis/queue-store.js';

export interface PushSpec {
  /** Wiki ID; the farm's DB domains equal their wiki IDs. */
  readonly wiki: string;
  readonly type: string;
  readonly count: number;
  /** Distinguishes otherwise identical runs in job params. */
  readonly tag?: string;
}

const BATCH = 1000;

/** Pushes `count` distinct jobs of `type` (NullJob-compatible params); returns how many were stored. */
export async function pushTestJobs(store: RedisQueueStore, spec: PushSpec): Promise<number> {
  let pushed = 0;
  for (let start = 0; start < spec.count; start += BATCH) {
    const jobs: JobFields[] = [];
    for (let seq = start; seq < Math.min(spec.count, start + BATCH); seq++) {
      const params: [string, string | number][] = [['seq', seq]];
      if (spec.tag !== undefined) params.push(['tag', spec.tag]);
      jobs.push(newJobFields({ type: spec.type, params: PhpArray.from(params) }));
    }
    pushed += (await store.pushJobs(spec.type, spec.wiki, jobs)).pushed;
  }
  if (pushed !== spec.count) {
    throw new Error(`pushed ${pushed} of ${spec.count} ${spec.type} jobs to ${spec.wiki}`);
  }
  return pushed;
}
