// Which consumer group reads which topics for one rule, as RuleRunner sets its lanes up: the main
// group on the job topics (partitioned rules: a partitioner on the job topic and the main group on
// the partitioned copy) and the retry group on the rule's retry and delayed topics.
import type { KafkaRuleConfig } from '../config/types.js';
import {
  delayedTopic,
  partitionedTopic,
  partitionerGroup,
  retryTopic,
  ruleGroup,
  timedGroup,
  type TopicNaming,
} from './topics.js';

export type ConsumerRole = 'main' | 'partitioner' | 'partitions' | 'retry';

export interface RuleConsumer {
  readonly role: ConsumerRole;
  readonly groupId: string;
  readonly topics: readonly string[];
}

/** @param jobTopics the rule's job topics (assignJobTopics) */
export function ruleConsumers(
  rule: KafkaRuleConfig,
  jobTopics: readonly string[],
  naming: TopicNaming,
): RuleConsumer[] {
  const timed: RuleConsumer = {
    role: 'retry',
    groupId: timedGroup(naming, rule.name),
    topics: [retryTopic(naming, rule.name), delayedTopic(naming, rule.name)],
  };
  if (rule.partitioned === undefined) {
    return [{ role: 'main', groupId: ruleGroup(naming, rule.name), topics: [...jobTopics] }, timed];
  }
  return [
    { role: 'partitioner', groupId: partitionerGroup(naming, rule.name), topics: [...jobTopics] },
    {
      role: 'partitions',
      groupId: ruleGroup(naming, rule.name),
      topics: [partitionedTopic(naming, rule.types[0] ?? '')],
    },
    timed,
  ];
}
