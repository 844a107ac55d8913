// JobQueueDB `job` row ⇄ MigratedJob (MediaWiki 1.39 JobQueueDB::insertFields / jobFromRow).
//
// Row → job: params are job_params unserialized ('' = no params); namespace/title come from the
// columns; the enqueue time is job_timestamp (TS_MW). A claimed row whose attempts are used up is
// abandoned; one claimed longer ago than claimTTL is a dead claim and moves as ready with its
// attempts; a fresher claim may be running right now and is skipped (left in place).
// Job → row: what insertFields() would write, plus the attempts and, for abandoned jobs, a claim.
import { dedupSha1 } from '../../mediawiki/dedup-sha1.js';
import { JobBlobError } from '../../mediawiki/job-blob.js';
import { releaseTimestampToUnix } from '../../mediawiki/new-job.js';
import {
  PhpArray,
  phpSerialize,
  phpUnserialize,
  PhpUnserializeError,
} from '../../mediawiki/php-serialize.js';
import type { JobRow, NewJobRow } from '../../legacy/job-table-client.js';
import { tsMwToUnix, unixToTsMw } from '../../legacy/mw-timestamp.js';
import { CorruptJobError, stableId, type MigratedJob } from '../job.js';
import { ignoresDuplicates } from './dedup-rules.js';

export interface RowContext {
  readonly wiki: string;
  /** UNIX seconds. */
  readonly now: number;
  /** Per type (limits.claimTTL / limits.attempts of the config). */
  readonly claimTTL: (type: string) => number;
  readonly maxAttempts: (type: string) => number;
  /** Types to treat as de-duplicating besides the core ones. */
  readonly dedupTypes?: ReadonlySet<string>;
}

export type RowOutcome = { readonly job: MigratedJob } | { readonly skip: string };

/** The ID of a row: the key it was inserted under by a migration, else one derived from the row. */
export function rowId(wiki: string, row: JobRow, mappedKey?: string): string {
  return mappedKey ?? stableId(`${wiki}/job/${row.id}/${row.timestamp ?? ''}`);
}

/** @throws CorruptJobError when the row cannot be turned into a job (left in place by callers) */
export function rowToJob(row: JobRow, ctx: RowContext, mappedKey?: string): RowOutcome {
  if (typeof row.cmd !== 'string' || row.cmd === '')
    throw new CorruptJobError('job_cmd is empty or not UTF-8');
  const type = row.cmd;
  let params: PhpArray;
  if (row.params.length === 0) {
    params = new PhpArray();
  } else {
    let value;
    try {
      value = phpUnserialize(row.params);
    } catch (error) {
      const detail = error instanceof PhpUnserializeError ? error.message : String(error);
      throw new CorruptJobError(`job_params does not unserialize (${detail})`);
    }
    if (!(value instanceof PhpArray)) throw new CorruptJobError('job_params is not a serialized array');
    params = value;
  }
  let release: number;
  try {
    release = Number(releaseTimestampToUnix(params.get('jobReleaseTimestamp')) ?? 0);
  } catch (error) {
    throw new CorruptJobError(error instanceof JobBlobError ? error.message : String(error));
  }
  const token = typeof row.token === 'string' ? row.token : row.token.toString('latin1');
  let state: MigratedJob['state'] = release > ctx.now ? 'delayed' : 'ready';
  let claimedAt: number | null = null;
  if (token !== '') {
    const claimed = tsMwToUnix(row.tokenTimestamp);
    if (row.attempts >= ctx.maxAttempts(type)) {
      state = 'abandoned';
      claimedAt = claimed;
    } else {
      const ttl = ctx.claimTTL(type);
      const age = claimed === null ? Infinity : ctx.now - claimed;
      if (ttl <= 0 || age < ttl) {
        return {
          skip: `claimed ${claimed === null ? 'at an unknown time' : `${Math.round(age)} s ago`} and may be running (claimTTL ${ttl} s); stop the runners, or wait for the claim to expire`,
        };
      }
    }
  }
  const sha1 = typeof row.sha1 === 'string' ? row.sha1 : '';
  return {
    job: {
      id: rowId(ctx.wiki, row, mappedKey),
      type,
      wiki: ctx.wiki,
      namespace: row.namespace,
      title: row.title,
      params,
      releaseTimestamp: release,
      enqueueTimestamp: tsMwToUnix(row.timestamp) ?? 0,
      sha1: /^[0-9a-z]{31}$/.test(sha1) && ignoresDuplicates(type, params, ctx.dedupTypes) ? sha1 : '',
      attempts: row.attempts,
      state,
      claimedAt,
    },
  };
}

/** 0 … 2^31-1 from the ID, so a resumed insert writes the same job_random. */
function randomFromId(id: string): number {
  return parseInt(id.slice(0, 8), 16) & 0x7fffffff;
}

/** The row to insert (recorded in the map table under the job's ID). Delayed jobs cannot be rows. */
export function jobToRow(job: MigratedJob): NewJobRow {
  const abandoned = job.state === 'abandoned';
  return {
    key: job.id,
    cmd: job.type,
    namespace: job.namespace,
    title: job.title,
    timestamp: unixToTsMw(job.enqueueTimestamp),
    params: phpSerialize(job.params),
    random: randomFromId(job.id),
    attempts: job.attempts,
    // An abandoned job keeps a claim (JobQueueDB's "abandoned" = claimed with attempts used up).
    token: abandoned ? job.id : '',
    tokenTimestamp: abandoned ? unixToTsMw(job.claimedAt ?? job.enqueueTimestamp) : null,
    // JobQueueDB writes the dedup hash of every job, de-duplicating or not.
    sha1: job.sha1 !== '' ? job.sha1 : dedupSha1(job.type, job.params).base36,
  };
}
