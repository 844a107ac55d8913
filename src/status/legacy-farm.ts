// Backend memcached: the status server's queue listing comes from the wikis' job tables (JobQueueDB),
// not from Redis. Each wiki's job table is reported as one "partition", so a wiki whose database
// cannot be read is named while the others are still listed.
import type { QueueBackend } from '../backend/types.js';
import { tablePartition } from '../legacy/legacy-backend.js';
import { makeQueueId } from '../mediawiki/queue-keys.js';
import type { FarmListing, PartitionQueue, PartitionReport } from './farm-queues.js';

export async function legacyFarmListing(
  backend: Pick<QueueBackend, 'queueCounts'>,
  wikis: readonly string[],
): Promise<FarmListing> {
  const started = Date.now();
  const { queues, errors } = await backend.queueCounts();
  const ms = Date.now() - started;
  const failed = new Map(errors.map((e) => [e.partition, e.error]));
  const listed = new Map<string, number>();
  const rows: PartitionQueue[] = queues.map((q) => {
    listed.set(q.partition, (listed.get(q.partition) ?? 0) + 1);
    return {
      partition: q.partition,
      wiki: q.wiki,
      domain: q.domain,
      type: q.type,
      queueId: makeQueueId(q.type, q.domain),
      unclaimed: q.unclaimed,
      claimed: q.claimed,
      abandoned: q.abandoned,
      delayed: q.delayed,
      oldestAgeSeconds: q.oldestAgeSeconds,
    };
  });
  const partitions: PartitionReport[] = wikis.map((wiki) => {
    const name = tablePartition(wiki);
    const error = failed.get(name) ?? null;
    return { name, ok: error === null, error, listed: listed.get(name) ?? 0, badMembers: 0, ms };
  });
  return { at: started, queues: rows, partitions, errors };
}
