// The backend-neutral job every migration converts through: a JobQueueDB row, a JobQueueRedis blob
// and a mediawiki/job event all map to and from this. Identity across backends is `id` (32 hex): the
// Redis uuid, the event's meta.id without dashes, and the key under which a job-table row is recorded.
import { createHash } from 'node:crypto';
import { PhpArray, phpSerialize, type PhpString } from '../mediawiki/php-serialize.js';

/** Where the job stood in its source queue. */
export type JobState = 'ready' | 'delayed' | 'claimed' | 'abandoned';

export interface MigratedJob {
  /** 32 lowercase hex. */
  readonly id: string;
  readonly type: string;
  /** Wiki ID; also the DB domain (legacy and plain MySQL/SQLite wikis have no schema). */
  readonly wiki: string;
  /** Top-level namespace/title as the source stored them (Redis blob fields, job row columns). */
  readonly namespace: number;
  readonly title: PhpString;
  /** Params exactly as stored (MediaWiki adds namespace/title from the top level when running). */
  readonly params: PhpArray;
  /** Release UNIX time; 0 = not delayed. */
  readonly releaseTimestamp: number;
  /** Enqueue UNIX time. */
  readonly enqueueTimestamp: number;
  /** 31-char base-36 dedup hash when the job ignores duplicates, else ''. */
  readonly sha1: string;
  /** Pops so far (h-attempts, job_attempts); 0 where the source cannot hold them (Kafka). */
  readonly attempts: number;
  readonly state: JobState;
  /** UNIX time of the last claim for abandoned jobs, else null. */
  readonly claimedAt: number | null;
}

/** A source record that cannot be migrated as it is; it stays in the source. */
export class CorruptJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptJobError';
  }
}

/**
 * The params a job receives when it runs: the stored params plus namespace/title from the top level
 * where params lack them (PHP `$params += [...]`, as JobQueueDB::jobFromRow and JobQueueRedis do).
 */
export function effectiveParams(job: Pick<MigratedJob, 'params' | 'namespace' | 'title'>): PhpArray {
  const params = job.params.clone();
  if (!params.has('namespace')) params.set('namespace', job.namespace);
  if (!params.has('title')) params.set('title', job.title);
  return params;
}

/**
 * What verification compares between source and target: type, wiki, the params the job will run
 * with, release and enqueue time. Not attempts or state (Kafka holds neither) and not the dedup hash
 * (derived from the params).
 */
export function contentHash(job: MigratedJob): string {
  const canonical = PhpArray.list([
    job.type,
    job.wiki,
    effectiveParams(job),
    job.releaseTimestamp,
    job.enqueueTimestamp,
  ]);
  return createHash('sha1').update(phpSerialize(canonical)).digest('hex');
}

const ID_NAMESPACE = 'jobrunner-migrate';

/**
 * A stable 32-hex ID for a source record that has none of its own (a job-table row): a name-based
 * UUID (version 5 layout over SHA-1), so a resumed migration derives the same ID again.
 */
export function stableId(name: string): string {
  const hash = createHash('sha1').update(ID_NAMESPACE).update('\0').update(name, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  return hash.subarray(0, 16).toString('hex');
}

/** 32 hex → 8-4-4-4-12 (event meta.id). */
export function dashedUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** An event's meta.id as a job ID: a UUID loses its dashes; anything else gets a stable ID. */
export function idFromEventId(metaId: string): string {
  const hex = metaId.toLowerCase().replace(/-/g, '');
  return /^[0-9a-f]{32}$/.test(hex) ? hex : stableId(`event:${metaId}`);
}

/** Queue key used in reports and checkpoints. */
export function queueKey(wiki: string, type: string): string {
  return `${wiki}\t${type}`;
}
