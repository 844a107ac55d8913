// Builds a job's fields the way JobQueueRedis::getNewJobFields() does in MediaWiki 1.39, so jobs we
// push are indistinguishable from MediaWiki's own (same blob layout, same dedup sha1).
import { createHash } from 'node:crypto';
import { dedupSha1, type DedupOptions } from './dedup-sha1.js';
import { JobBlobError, newJobUuid, type JobFields } from './job-blob.js';
import { PhpArray, PhpFloat, type PhpValue } from './php-serialize.js';

export interface NewJobSpec {
  readonly type: string;
  readonly params: PhpArray;
  /** The job's removeDuplicates option (Job::ignoreDuplicates()); adds the dedup sha1. */
  readonly removeDuplicates?: boolean;
  /** Which getDeduplicationInfo() to mimic; default 'job'. */
  readonly dedup?: DedupOptions;
  /** Job ID; default a fresh UUIDv4 without dashes. */
  readonly uuid?: string;
  /** Enqueue UNIX time; default now. */
  readonly now?: number;
}

/**
 * wfTimestamp(TS_UNIX, $value) for the forms job params use: UNIX seconds (int or digit string),
 * TS_MW (14 digits, UTC) and ISO 8601. Returns the digit string MediaWiki returns, or null.
 */
export function releaseTimestampToUnix(value: PhpValue | undefined): string | null {
  if (value === undefined || value === null || value === false) return null;
  let seconds: number;
  if (typeof value === 'number') seconds = Math.trunc(value);
  else if (value instanceof PhpFloat) seconds = Math.trunc(value.value);
  else if (typeof value === 'string' && /^-?[0-9]{1,13}$/.test(value)) seconds = Number(value);
  else if (typeof value === 'string' && /^[0-9]{14}$/.test(value)) {
    const iso = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(8, 10)}:${value.slice(10, 12)}:${value.slice(12, 14)}Z`;
    seconds = Date.parse(iso) / 1000;
  } else if (typeof value === 'string' && /^[0-9]{4}-[0-9]{2}-[0-9]{2}T/.test(value)) {
    seconds = Math.trunc(Date.parse(value) / 1000);
  } else {
    seconds = NaN;
  }
  if (!Number.isFinite(seconds)) {
    throw new JobBlobError(`params.jobReleaseTimestamp ${JSON.stringify(String(value))} is not a timestamp`);
  }
  return String(seconds);
}

/** getNewJobFields(): namespace/title from params, rtimestamp from jobReleaseTimestamp, sha1. */
export function newJobFields(spec: NewJobSpec): JobFields {
  if (spec.type === '') throw new JobBlobError('job type is empty');
  const namespace = spec.params.get('namespace');
  const title = spec.params.get('title');
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'number') {
    throw new JobBlobError(`params.namespace must be an integer`);
  }
  if (title !== undefined && title !== null && typeof title !== 'string') {
    throw new JobBlobError(`params.title must be a string`);
  }
  const release = releaseTimestampToUnix(spec.params.get('jobReleaseTimestamp'));
  return {
    type: spec.type,
    namespace: namespace ?? -1,
    title: title ?? '',
    params: spec.params,
    // `getReleaseTimestamp() ?: 0`: PHP's "0" is falsy too.
    rtimestamp: release === null || release === '0' ? 0 : release,
    uuid: spec.uuid ?? newJobUuid(),
    sha1: spec.removeDuplicates ? dedupSha1(spec.type, spec.params, spec.dedup).base36 : '',
    timestamp: spec.now ?? Math.floor(Date.now() / 1000),
  };
}

/** Job::newRootJobParams($key): {rootJobIsSelf, rootJobSignature = sha1($key), rootJobTimestamp = TS_MW now}. */
export function rootJobParams(key: string, now: Date = new Date()): PhpArray {
  const ts = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return PhpArray.from([
    ['rootJobIsSelf', true],
    ['rootJobSignature', createHash('sha1').update(key, 'utf8').digest('hex')],
    ['rootJobTimestamp', ts],
  ]);
}
