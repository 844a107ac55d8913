// Which partition of a partitioned rule's topic an event goes to: change-propagation's
// mediawiki_database partitioner (by `database`) or its cirrussearch_cluster partitioner (by
// `params.jobqueue_partition`); values missing from the map go to the default partition.
import type { KafkaPartitioningConfig } from '../config/types.js';
import type { JobEventView } from './job-event.js';

export function partitionFor(
  partitioning: KafkaPartitioningConfig,
  event: Pick<JobEventView, 'database' | 'jobqueuePartition'>,
): number {
  const value = partitioning.key === 'database' ? event.database : event.jobqueuePartition;
  // hasOwn: a value from the event must not reach Object.prototype ("constructor", "__proto__").
  if (value !== undefined && Object.hasOwn(partitioning.map, value)) {
    return partitioning.map[value] as number;
  }
  return partitioning.defaultPartition;
}
