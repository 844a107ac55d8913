// Where an accepted event goes: <dc>.mediawiki.job.<type>, as EventGate writes it; or, for a type
// the runner's rules partition, straight to the rule's partitioned topic and partition (the same
// choice the runner's partitioner makes), saving a copy through Kafka.
import type { KafkaConfig, KafkaPartitioningConfig } from '../config/types.js';
import { partitionFor } from '../kafka/partition.js';
import { jobTopic, partitionedTopic, type TopicNaming } from '../kafka/topics.js';
import type { ValidEvent } from './validate-event.js';

export interface Route {
  readonly topic: string;
  readonly partition?: number;
}

export class EventRoutes {
  private readonly naming: TopicNaming;
  private readonly partitioned = new Map<string, KafkaPartitioningConfig>();

  constructor(kafka: KafkaConfig) {
    this.naming = { datacenter: kafka.datacenter, serviceName: kafka.serviceName };
    for (const rule of kafka.rules) {
      const type = rule.types[0];
      if (rule.partitioned !== undefined && type !== undefined) this.partitioned.set(type, rule.partitioned);
    }
  }

  route(event: ValidEvent): Route {
    const partitioning = this.partitioned.get(event.type);
    if (partitioning === undefined) return { topic: jobTopic(this.naming, event.type) };
    return { topic: partitionedTopic(this.naming, event.type), partition: partitionFor(partitioning, event) };
  }
}
