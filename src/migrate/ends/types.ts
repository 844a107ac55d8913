// What a migration needs from each backend. A source lists queues, reads them in batches and
// deletes what was verified; a target writes idempotently (a job ID already there is not written
// again, which is what makes --resume exact) and reads jobs back for verification.
import type { BackendKind } from '../../config/types.js';
import type { MigratedJob } from '../job.js';

export interface MigrationFilter {
  /** Wiki IDs; empty = all. */
  readonly wikis: readonly string[];
  /** Job types; empty = all. */
  readonly types: readonly string[];
}

export interface SourceQueue {
  readonly wiki: string;
  readonly type: string;
  /** Records expected (for progress; may be approximate). */
  readonly size: number;
}

/**
 * One source record: a job to copy, one to leave (skip, with why) or an unreadable one (corrupt).
 * A job's `digest` identifies the record exactly as the source stores it; deleteVerified() deletes
 * only records that still have the digest they had when copied.
 */
export type SourceRecord =
  | { readonly kind: 'job'; readonly job: MigratedJob; readonly digest: string }
  | { readonly kind: 'skip'; readonly ref: string; readonly reason: string }
  | { readonly kind: 'corrupt'; readonly ref: string; readonly reason: string };

/** Problems found by a preflight: exit code 2 for configuration, 1 for reachability. */
export interface PreflightProblem {
  readonly kind: 'config' | 'unreachable';
  readonly message: string;
}

export interface DeleteResult {
  readonly deleted: number;
  /** Verified jobs the source would not give up (changed or claimed since), with why. */
  readonly kept: { readonly ref: string; readonly reason: string }[];
}

export interface MigrationSource {
  readonly kind: BackendKind;
  /** Human name of the source for messages ("redis 127.0.0.1:6379", ...). */
  readonly name: string;
  preflight(): Promise<PreflightProblem[]>;
  listQueues(filter: MigrationFilter): Promise<SourceQueue[]>;
  /** Every record of the queue, in batches (pop order where the backend has one). */
  read(queue: SourceQueue): AsyncIterable<SourceRecord[]>;
  /**
   * Deletes the jobs of `queue` whose ID is in `verified` (ID → source digest), and only while each
   * still has that digest.
   */
  deleteVerified(queue: SourceQueue, verified: ReadonlyMap<string, string>): Promise<DeleteResult>;
  /**
   * All queues at once, for sources where queues share storage (Kafka partitions hold several
   * wikis): queue key (wiki TAB type) → verified ID → source digest. Used instead of deleteVerified.
   */
  deleteAll?(
    verifiedByQueue: ReadonlyMap<string, ReadonlyMap<string, string>>,
  ): Promise<Map<string, DeleteResult>>;
  close(): Promise<void>;
}

export interface WriteResult {
  /** IDs written now. */
  readonly written: readonly string[];
  /** IDs that were already on the target (an earlier, interrupted run). */
  readonly present: readonly string[];
}

/**
 * A job read back from the target: the fingerprint of what the target holds; or `ran` when this
 * migration wrote it and it is gone because a target runner already ran it (the write was recorded
 * atomically with the job, so the copy was complete).
 */
export type ReadBack = string | { readonly ran: true };

export interface MigrationTarget {
  readonly kind: BackendKind;
  readonly name: string;
  preflight(): Promise<PreflightProblem[]>;
  /** Why the target cannot hold this job (it then stays in the source), or null. */
  cannotHold(job: MigratedJob): string | null;
  /**
   * SHA-1 of exactly what the target stores for this job (the blob, the event bytes, the row). The
   * conversion is deterministic, so a resumed run computes the same; verification compares it with
   * what readBack() finds.
   */
  fingerprint(job: MigratedJob): string;
  write(jobs: readonly MigratedJob[]): Promise<WriteResult>;
  /** Fingerprints of what the target holds under these IDs; absent IDs are missing from the map. */
  readBack(wiki: string, type: string, ids: readonly string[]): Promise<Map<string, ReadBack>>;
  close(): Promise<void>;
}
