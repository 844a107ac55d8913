// One pipelined round trip of upkeep: a lease renewal followed by chron-maintain-queue for each queue
// of the batch (no per-queue sleep or round trip; the original slept 5 ms per queue, B5).
import type { ChainableCommander, Redis } from 'ioredis';
import { limitFor, type LimitsConfig } from '../config/types.js';
import {
  QUEUES_WITH_JOBS_KEY,
  makeQueueId,
  parseQueueId,
  parseQueueKeyName,
  queueKeyPrefix,
  type QueueRef,
} from '../mediawiki/queue-keys.js';
import { LeaseLostError, ScriptReplyError } from './errors.js';
import { LEASE_KEY, QUEUES_WITH_ABANDONED_KEY } from './keys.js';
import type { HeldLease } from './lease.js';
import { isNoScript, NOSCRIPT_ATTEMPTS, queueScript } from './lua.js';

export interface QueueResult {
  readonly queue: QueueRef;
  /** How the caller knows the queue (its due-time index key). */
  readonly indexKey: string;
  readonly released: number;
  readonly abandoned: number;
  readonly pruned: number;
  readonly undelayed: number;
  /** Jobs in l-unclaimed after the step. */
  readonly ready: number;
  /** A category hit the per-call limit: the queue needs another step. */
  readonly more: boolean;
  /** UNIX s at which something in the queue falls due next; null when nothing will. */
  readonly nextDue: number | null;
}

/**
 * How the caller came to visit a queue, which decides the set upkeep of the step (see the script):
 * `full` as always, `listed` just read from s-queuesWithJobs, `guess` an ID rebuilt from a key name.
 */
export type FoundBy = 'full' | 'listed' | 'guess';

/** One queue to visit. */
export interface Visit {
  readonly queue: QueueRef;
  /** "<wikiId>:jobqueue:<type>", rawurlencoded as MediaWiki builds it. */
  readonly keyPrefix: string;
  readonly foundBy: FoundBy;
  /** The set member for queues known from a set, else the key prefix. */
  readonly indexKey: string;
}

/** A visit of a set member; null when it is not a JSON [type, domain] pair. */
export function visitOfMember(member: string, foundBy: FoundBy): Visit | null {
  const queue = parseQueueId(member);
  if (queue === null) return null;
  return { queue, keyPrefix: queueKeyPrefix(queue.type, queue.domain), foundBy, indexKey: member };
}

/**
 * A visit of the queue whose keys start with `prefix`, known only from a key name (a keyspace
 * notification). The set member is rebuilt as MediaWiki writes it when the wiki ID is its own
 * domain (no table prefix, the usual case); otherwise the step leaves set membership to the walk.
 */
export function visitOfPrefix(prefix: string): Visit | null {
  const parsed = parseQueueKeyName(`${prefix}:h-data`);
  if (parsed === null || parsed.prefix !== prefix) return null;
  const sameKeys = queueKeyPrefix(parsed.type, parsed.wiki) === prefix;
  const queueId = sameKeys ? makeQueueId(parsed.type, parsed.wiki) : '';
  return {
    queue: { type: parsed.type, domain: parsed.wiki, queueId },
    keyPrefix: prefix,
    foundBy: 'guess',
    indexKey: prefix,
  };
}

export interface BatchContext {
  readonly partition: string;
  readonly lease: HeldLease;
  readonly leaseTtlMs: number;
  readonly limits: Pick<LimitsConfig, 'claimTTL' | 'attempts'>;
  readonly pruneAfterSeconds: number;
  readonly perCategoryLimit: number;
  /** The pass's clock reading, UNIX seconds. */
  readonly nowSeconds: number;
}

export interface BatchOutcome {
  readonly results: QueueResult[];
  /** Set members that are not a JSON [type, domain] pair; left untouched. */
  readonly malformed: string[];
  /** Queues whose step failed with a Redis error reply (e.g. WRONGTYPE on a damaged key). */
  readonly failed: { readonly member: string; readonly message: string }[];
}

const REPLY_LENGTH = 7;

function isReplyError(error: Error): boolean {
  return error.name === 'ReplyError';
}

/**
 * Queues per script call: one EVALSHA and one lease check for all of them, while a call stays
 * short enough (a few hundred Redis operations when nothing is due) not to hold other clients up.
 */
export const QUEUES_PER_CALL = 25;

/**
 * One pipelined round trip over `visits` (plus NOSCRIPT retries), QUEUES_PER_CALL queues per call.
 * A damaged queue (e.g. WRONGTYPE) is reported by the script on its own; the others are maintained.
 */
export async function maintainVisits(
  redis: Redis,
  visits: readonly Visit[],
  ctx: BatchContext,
): Promise<BatchOutcome> {
  if (visits.length === 0) return { results: [], malformed: [], failed: [] };
  const results: QueueResult[] = [];
  const failed: { member: string; message: string }[] = [];
  let pending: Visit[][] = [];
  for (let i = 0; i < visits.length; i += QUEUES_PER_CALL) pending.push(visits.slice(i, i + QUEUES_PER_CALL));
  for (let attempt = 1; pending.length > 0; attempt++) {
    const pipeline = redis.pipeline();
    queueScript(pipeline, 'lease-renew', [LEASE_KEY], [ctx.lease.value, ctx.leaseTtlMs]);
    for (const chunk of pending) queueCall(pipeline, chunk, ctx);
    const replies = (await pipeline.exec()) ?? [];

    const [renewError, renewed] = replies[0] ?? [new Error('missing pipeline reply'), null];
    // A renewal lost to NOSCRIPT is harmless: every call below checks the lease itself.
    if (renewError && !isNoScript(renewError)) throw renewError;
    if (!renewError && renewed !== 1) throw new LeaseLostError(ctx.partition);

    const retry: Visit[][] = [];
    pending.forEach((chunk, i) => {
      const [error, reply] = replies[i + 1] ?? [new Error('missing pipeline reply'), null];
      if (!error) {
        for (const outcome of parseReplies(chunk, reply)) {
          if ('message' in outcome) failed.push(outcome);
          else results.push(outcome);
        }
      } else if (error.message.startsWith('LEASE_LOST')) {
        throw new LeaseLostError(ctx.partition);
      } else if (isNoScript(error) && attempt < NOSCRIPT_ATTEMPTS) {
        retry.push(chunk); // the call never ran
      } else if (isReplyError(error)) {
        for (const visit of chunk) failed.push({ member: visit.indexKey, message: error.message });
      } else {
        // Not a Redis error reply (connection closed, timeout): the whole partition has failed.
        throw error;
      }
    });
    pending = retry;
  }
  return { results, malformed: [], failed };
}

function queueCall(pipeline: ChainableCommander, chunk: readonly Visit[], ctx: BatchContext): void {
  // The queue's key prefix stands for its 8 keys (the script derives them): ~5× fewer bytes to
  // encode and send than the key names, for the ~fullWalkSeconds⁻¹ × queues visited a second.
  const args: (string | number)[] = [
    ctx.lease.value,
    ctx.nowSeconds,
    ctx.nowSeconds - ctx.pruneAfterSeconds,
    ctx.perCategoryLimit,
  ];
  for (const { queue, keyPrefix, foundBy } of chunk) {
    args.push(
      keyPrefix,
      ctx.nowSeconds - limitFor(ctx.limits.claimTTL, queue.type),
      limitFor(ctx.limits.attempts, queue.type),
      queue.queueId,
      foundBy,
    );
  }
  queueScript(pipeline, 'chron-maintain-queue', MAINTAIN_KEYS, args);
}

const MAINTAIN_KEYS = [QUEUES_WITH_JOBS_KEY, QUEUES_WITH_ABANDONED_KEY, LEASE_KEY] as const;

/** Each queue's result, or why its step failed (a damaged key: the others still ran). */
function parseReplies(
  chunk: readonly Visit[],
  reply: unknown,
): (QueueResult | { member: string; message: string })[] {
  if (!Array.isArray(reply) || reply.length !== REPLY_LENGTH * chunk.length) {
    throw new ScriptReplyError('chron-maintain-queue', reply);
  }
  const values = reply as unknown[];
  return chunk.map((visit, i) => {
    const at = i * REPLY_LENGTH;
    if (values[at] === 'ERR') return { member: visit.indexKey, message: String(values[at + 1]) };
    return parseReply(visit, values, at);
  });
}

/** The 7 numbers of one queue, read in place from the call's flat reply. */
function parseReply(visit: Visit, values: readonly unknown[], at: number): QueueResult {
  const n = (j: number): number => {
    const v = values[at + j];
    if (typeof v !== 'number')
      throw new ScriptReplyError('chron-maintain-queue', values.slice(at, at + REPLY_LENGTH));
    return v;
  };
  const nextDue = n(6);
  return {
    queue: visit.queue,
    indexKey: visit.indexKey,
    released: n(0),
    abandoned: n(1),
    pruned: n(2),
    undelayed: n(3),
    ready: n(4),
    more: n(5) === 1,
    nextDue: nextDue < 0 ? null : nextDue,
  };
}
