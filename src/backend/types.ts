// The boundary every queue backend plugs into. The runner and the operator tools speak only these
// types; Redis (MediaWiki's JobQueueRedis layout), the legacy memcached-registry backend and Kafka
// each implement what applies to them.
import type { BackendKind } from '../config/types.js';
import type { Logger } from '../observability/logger.js';

/** A (wiki, type) queue with jobs ready to run. */
export interface ReadyQueue {
  readonly type: string;
  /** DB domain as MediaWiki names the queue. */
  readonly domain: string;
  /** Wiki ID to pass to runJobs --wiki (derived from the domain). */
  readonly wiki: string;
  /** Partition (queue server) the jobs live on, as written in the config. */
  readonly partition: string;
  /** Ready (unclaimed) jobs. */
  readonly ready: number;
}

export interface QueueCounts {
  readonly type: string;
  readonly domain: string;
  readonly wiki: string;
  readonly partition: string;
  readonly unclaimed: number;
  readonly claimed: number;
  readonly abandoned: number;
  readonly delayed: number;
  /** Age in seconds of the oldest unclaimed job, when known. */
  readonly oldestAgeSeconds: number | null;
}

export interface PartitionError {
  readonly partition: string;
  readonly error: string;
  /** Not an outage: the first connection to the partition is still being made (just after start). */
  readonly connecting?: boolean;
}

export interface QueueListing<T> {
  readonly queues: T[];
  /** Partitions that could not be read; the others are still reported. */
  readonly errors: PartitionError[];
}

/** Told when new work may have arrived, so an idle runner need not poll often. */
export interface PushListener {
  /**
   * A job was pushed onto a ready list of this partition; `queue` is null if its key is unusual.
   * `key` is the ready list's key as Redis named it.
   */
  onPush(
    partition: string,
    queue: { readonly wiki: string; readonly type: string } | null,
    key?: string,
  ): void;
  /** Pushes may have been missed (just subscribed, reconnected, flags restored): look again. */
  onResync(partition: string): void;
}

export interface PushWatch {
  /** True while every partition reports its pushes: polling can be rare. */
  readonly watchingAll: boolean;
  /** Start reporting pushes (an onResync per partition follows once it works). */
  resume(): void;
  /** Stop reporting pushes (the caller polls often enough for now). */
  pause(): void;
  close(): Promise<void>;
}

/** One partition's incremental readiness tracking, for /status. */
export interface ReadinessStats {
  readonly partition: string;
  /** Ready queues of types this runner runs, as far as it knows. */
  readonly known: number;
  /** Complete reconciliation walks of s-queuesWithJobs so far, and how long the last one took. */
  readonly reconcileCycles: number;
  readonly lastReconcileMs: number | null;
  /** Members of s-queuesWithJobs that are not a JSON [type, domain] pair, seen by reconciliation. */
  readonly malformed: number;
}

/** What a backend that tracks readiness incrementally needs to know from the runner. */
export interface ReadyPollAsk {
  /** Whether some group of the runner may run the type (in any mode). */
  runs(type: string): boolean;
  /** The finite list of types `runs` accepts, or null when a group runs every type ("*"). */
  readonly types?: readonly string[] | null;
  /** Whether the queue is held (back-off): no use reading it now. */
  held(wiki: string, type: string): boolean;
  /** Time for reconciliation to walk every queue once (ms) while pushes are reported. */
  readonly reconcileMs: number;
  /** Wall clock (ms). */
  readonly now: number;
}

export interface QueueBackend {
  readonly kind: BackendKind;
  /**
   * When the job the next pop takes became ready (UNIX s; release time if delayed, else enqueue
   * time), oldest over `partitions`; null when unknown. Only feeds the pickup-latency metric, so
   * it never throws for a queue's content.
   */
  headJobTimestamp?(
    queue: { readonly type: string; readonly domain: string },
    partitions: readonly string[],
  ): Promise<number | null>;
  /**
   * Takes a short lease on a queue before a dispatch only one runner should make (a quiet queue's
   * express dispatch, policy fair): true when this runner may go ahead. Answers true when no
   * partition of the queue can be asked: the queue's own pop still keeps a job from running twice.
   */
  leaseDispatch?(
    queue: { readonly wiki: string; readonly type: string },
    partitions: readonly string[],
    holder: string,
    ttlMs: number,
  ): Promise<boolean>;
  /** Push notifications, where the backend has them (Redis keyspace events). */
  watchPushes?(listener: PushListener, logger: Logger): PushWatch;
  /** Ready queues across every partition. */
  listReadyQueues(): Promise<QueueListing<ReadyQueue>>;
  /**
   * Ready queues as far as the backend follows them (pushes, dispatch outcomes, a paced
   * reconciliation); cost follows changes, not the number of queues. Preferred over
   * listReadyQueues() by the runner when present.
   */
  pollReady?(ask: ReadyPollAsk): Promise<QueueListing<ReadyQueue>>;
  /** What incremental readiness tracking knows, per partition (status). */
  readinessStats?(): ReadinessStats[];
  /** A dispatch of the queue ended; `drained` when MediaWiki said it found nothing to run. */
  noteDispatchEnd?(
    queue: { readonly type: string; readonly domain: string; readonly wiki: string },
    partitions: readonly string[],
    drained: boolean,
  ): void;
  /** Per-queue counts for operators. */
  queueCounts(filter?: { wiki?: string; type?: string }): Promise<QueueListing<QueueCounts>>;
  /**
   * Queues an operator paused (runners take no new dispatch for them), where the backend keeps
   * such a list (Redis). Rejects when no partition could be read (the caller keeps its last list).
   */
  pausedQueues?(): Promise<{ wiki: string; type: string }[]>;
  close(): Promise<void>;
}
