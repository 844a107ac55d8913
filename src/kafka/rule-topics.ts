// Which job topics each rule consumes, from the list of topics Kafka has. Explicit types are claimed
// first, then typePattern rules in file order, then the low-traffic rule takes every job topic left.
import type { KafkaRuleConfig } from '../config/types.js';
import { jobTypeOfTopic, type TopicNaming } from './topics.js';

/** rule name → job topics it consumes (for a partitioned rule: its one source topic). */
export function assignJobTopics(
  rules: readonly KafkaRuleConfig[],
  topics: Iterable<string>,
  naming: TopicNaming,
): Map<string, string[]> {
  const byType = new Map<string, string>();
  for (const topic of topics) {
    const type = jobTypeOfTopic(naming, topic);
    if (type !== undefined) byType.set(type, topic);
  }
  const claimed = new Set<string>();
  const result = new Map<string, string[]>(rules.map((rule) => [rule.name, []]));
  const take = (rule: KafkaRuleConfig, type: string): void => {
    const topic = byType.get(type);
    if (topic === undefined || claimed.has(type)) return;
    claimed.add(type);
    result.get(rule.name)?.push(topic);
  };
  for (const rule of rules) {
    for (const type of rule.types) take(rule, type);
  }
  // Types named by an explicit rule belong to it even before their topic exists.
  for (const rule of rules) for (const type of rule.types) claimed.add(type);
  const sortedTypes = [...byType.keys()].sort();
  for (const rule of rules) {
    if (rule.typePattern === undefined) continue;
    const pattern = new RegExp(rule.typePattern);
    for (const type of sortedTypes) {
      if (pattern.test(type) && !rule.excludeTypes.includes(type)) take(rule, type);
    }
  }
  for (const rule of rules) {
    if (!rule.lowTraffic) continue;
    for (const type of sortedTypes) if (!rule.excludeTypes.includes(type)) take(rule, type);
  }
  for (const list of result.values()) list.sort();
  return result;
}
