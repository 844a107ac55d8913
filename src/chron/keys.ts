// jobchron's own Redis keys. MediaWiki's keys come only from src/mediawiki/queue-keys.ts; these are
// ours, all under "jobrunner:chron:" so they can never collide with a wiki's "<wikiId>:jobqueue:…".
import { rawurlencode } from '../mediawiki/php-encoding.js';

/** On each partition: the partition's lease, "<fence> <instance ID>" with a PX expiry. */
export const LEASE_KEY = 'jobrunner:chron:lease';
/** On each partition: the fencing counter behind LEASE_KEY. */
export const LEASE_FENCE_KEY = 'jobrunner:chron:lease-fence';
/** On each partition: ZSET of live jobchron instances (for sharding partitions between them). */
export const INSTANCES_KEY = 'jobrunner:chron:z-instances';
/**
 * On each partition: queue IDs (same strings as s-queuesWithJobs) whose only jobs are abandoned
 * ones. They are not runnable, so they leave s-queuesWithJobs, but the chron still has to prune them
 * (the original never did: W12).
 */
export const QUEUES_WITH_ABANDONED_KEY = 'jobrunner:chron:s-queuesWithAbandoned';

/**
 * On each partition: members of s-queuesWithJobs that are not a JSON [type, domain] pair, moved
 * aside (SMOVE) by the chron so no reader trips over them again; never deleted, an operator
 * inspects them (`SMEMBERS jobrunner:chron:s-queuesQuarantined`).
 */
export const QUARANTINE_KEY = 'jobrunner:chron:s-queuesQuarantined';

/** On each aggregator: the ready queues one partition contributes to the shared ready hash. */
export function readyContributionKey(partition: string): string {
  return `jobrunner:chron:h-ready-queues:v2:partition:${rawurlencode(partition)}`;
}
