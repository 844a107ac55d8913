// Topic and consumer-group names. MediaWiki's EventBus streams are mediawiki.job.<type>, written by
// EventGate to <dc>.mediawiki.job.<type>; every other topic and group belongs to jobrunner and starts
// with its service name, like change-propagation's cpjobqueue.* topics.

export const JOB_STREAM_PREFIX = 'mediawiki.job.';

export interface TopicNaming {
  readonly datacenter: string;
  readonly serviceName: string;
}

/** <dc>.mediawiki.job.<type> */
export function jobTopic(naming: TopicNaming, type: string): string {
  return `${naming.datacenter}.${JOB_STREAM_PREFIX}${type}`;
}

/** The job type of a <dc>.mediawiki.job.<type> topic, or undefined for any other topic. */
export function jobTypeOfTopic(naming: TopicNaming, topic: string): string | undefined {
  const prefix = `${naming.datacenter}.${JOB_STREAM_PREFIX}`;
  if (!topic.startsWith(prefix)) return undefined;
  const type = topic.slice(prefix.length);
  return type === '' ? undefined : type;
}

/** Retry events of one rule. */
export function retryTopic(naming: TopicNaming, rule: string): string {
  return `${naming.datacenter}.${naming.serviceName}.retry.${rule}`;
}

/** Delayed events (delay_until in the future) of one rule, held until they are due. */
export function delayedTopic(naming: TopicNaming, rule: string): string {
  return `${naming.datacenter}.${naming.serviceName}.delayed.${rule}`;
}

/** Events that will never run: bad input, a 4xx, retries used up. */
export function errorTopic(naming: TopicNaming): string {
  return `${naming.datacenter}.${naming.serviceName}.error`;
}

/** The partitioned copy of a job topic: one partition per database section. */
export function partitionedTopic(naming: TopicNaming, type: string): string {
  return `${naming.datacenter}.${naming.serviceName}.partitioned.${JOB_STREAM_PREFIX}${type}`;
}

/** Consumer group of a rule's main consumers (change-propagation: <service>-<rule>). */
export function ruleGroup(naming: TopicNaming, rule: string): string {
  return `${naming.serviceName}-${rule}`;
}

/** Consumer group of a rule's retry + delayed consumer. */
export function timedGroup(naming: TopicNaming, rule: string): string {
  return `${naming.serviceName}-${rule}-retry`;
}

/** Consumer group of a partitioned rule's partitioner. */
export function partitionerGroup(naming: TopicNaming, rule: string): string {
  return `${naming.serviceName}-${rule}-partitioner`;
}
