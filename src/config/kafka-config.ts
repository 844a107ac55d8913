// The kafka section (backend kafka): merges kafka.ruleDefaults into each rule and checks what the
// JSON Schema cannot: rule names, one way of choosing types per rule, no type in two rules, regexes
// that compile, partition maps that fit the partition count.
import { AddressError, parseHostPort } from '../redis/address.js';
import type { ConfigIssue } from './errors.js';
import type { RawKafka, RawKafkaRuleSettings } from './raw-types.js';
import type { KafkaConfig, KafkaPartitioningConfig, KafkaRuleConfig, KafkaRuleSettings } from './types.js';

const RULE_NAME = /^[A-Za-z0-9_-]+$/;

function mergeSettings(raw: RawKafka, own: RawKafkaRuleSettings): KafkaRuleSettings {
  const d = raw.ruleDefaults;
  return {
    endpoint: own.endpoint ?? raw.endpoint,
    concurrency: own.concurrency ?? d.concurrency,
    timeoutMs: own.timeoutMs ?? d.timeoutMs,
    retryLimit: own.retryLimit ?? d.retryLimit,
    retryDelayMs: own.retryDelayMs ?? d.retryDelayMs,
    retryFactor: own.retryFactor ?? d.retryFactor,
    ignoreStatus: [...(own.ignoreStatus ?? d.ignoreStatus)],
    claimTtlSeconds: own.claimTtlSeconds ?? d.claimTtlSeconds,
    rootClaimTtlSeconds: own.rootClaimTtlSeconds ?? d.rootClaimTtlSeconds,
    disableDelayedExecution: own.disableDelayedExecution ?? d.disableDelayedExecution,
  };
}

/** `{database}` may only stand in the path or query: the host never comes from an event. */
function checkEndpoint(endpoint: string | undefined, path: (string | number)[], errors: ConfigIssue[]): void {
  if (endpoint === undefined) return;
  const marker = 'jrdatabasemarker';
  let url: URL | undefined;
  try {
    url = new URL(endpoint.replaceAll('{database}', marker));
  } catch {
    url = undefined;
  }
  if (url === undefined || url.host.includes(marker) || /[{}]/.test(endpoint.replaceAll('{database}', ''))) {
    errors.push({
      path,
      message: `'${endpoint}' is not a usable URL (the only placeholder is {database}, in the path or query)`,
    });
  }
}

function checkPattern(pattern: string, path: (string | number)[], errors: ConfigIssue[]): void {
  try {
    new RegExp(pattern);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    errors.push({ path, message: `not a valid regular expression: ${detail}` });
  }
}

export function buildKafkaConfig(raw: RawKafka, errors: ConfigIssue[]): KafkaConfig {
  raw.brokers.forEach((broker, index) => {
    try {
      parseHostPort(broker, 9092);
    } catch (error) {
      const detail = error instanceof AddressError ? error.message : String(error);
      errors.push({ path: ['kafka', 'brokers', index], message: `expected "host:port", but ${detail}` });
    }
  });
  checkEndpoint(raw.endpoint, ['kafka', 'endpoint'], errors);
  if (!raw.deadLetterFile.startsWith('/')) {
    errors.push({
      path: ['kafka', 'deadLetterFile'],
      message: `'${raw.deadLetterFile}' must be an absolute path`,
    });
  }
  const rules: KafkaRuleConfig[] = [];
  const owner = new Map<string, string>();
  for (const [name, rule] of Object.entries(raw.rules)) {
    const at = ['kafka', 'rules', name];
    if (!RULE_NAME.test(name)) {
      errors.push({
        path: at,
        at: 'key',
        message: `rule name '${name}' may contain only letters, digits, '_' and '-' (it names consumer groups and topics)`,
      });
    }
    const hasTypes = rule.types !== undefined;
    const hasPattern = rule.typePattern !== undefined;
    if (hasTypes === hasPattern) {
      errors.push({
        path: at,
        at: 'key',
        message: hasTypes
          ? "a rule takes either 'types' or 'typePattern', not both"
          : "a rule needs 'types' (a list of job types) or 'typePattern' (a regular expression)",
      });
    }
    checkEndpoint(rule.endpoint, [...at, 'endpoint'], errors);
    if (rule.typePattern !== undefined) checkPattern(rule.typePattern, [...at, 'typePattern'], errors);
    if (rule.excludeTypes !== undefined && !hasPattern) {
      errors.push({ path: [...at, 'excludeTypes'], message: "excludeTypes only applies with 'typePattern'" });
    }
    if (hasTypes && rule.types?.length === 0) {
      errors.push({ path: [...at, 'types'], message: 'expected at least one job type' });
    }
    for (const [index, type] of (rule.types ?? []).entries()) {
      const other = owner.get(type);
      if (other !== undefined) {
        errors.push({
          path: [...at, 'types', index],
          message: `job type '${type}' already belongs to rule '${other}'; a type may belong to one rule only`,
        });
      }
      owner.set(type, name);
    }
    let partitioned: KafkaPartitioningConfig | undefined;
    if (rule.partitioned !== undefined) {
      if (rule.types?.length !== 1) {
        errors.push({
          path: [...at, 'partitioned'],
          message: "a partitioned rule needs exactly one job type in 'types'",
        });
      }
      const used = Math.max(rule.partitioned.default, ...Object.values(rule.partitioned.map));
      const partitions = rule.partitioned.partitions ?? used + 1;
      if (used >= partitions) {
        errors.push({
          path: [...at, 'partitioned', 'partitions'],
          message: `partition ${used} is used but the topic has only ${partitions} partitions (0..${partitions - 1})`,
        });
      }
      partitioned = {
        key: rule.partitioned.key,
        map: { ...rule.partitioned.map },
        defaultPartition: rule.partitioned.default,
        partitions,
      };
    }
    rules.push({
      name,
      ...mergeSettings(raw, rule),
      types: [...(rule.types ?? [])],
      typePattern: rule.typePattern,
      excludeTypes: [...(rule.excludeTypes ?? [])],
      lowTraffic: false,
      partitioned,
    });
  }
  if (raw.lowTraffic.enabled) {
    const name = raw.lowTraffic.name;
    if (Object.prototype.hasOwnProperty.call(raw.rules, name)) {
      errors.push({
        path: ['kafka', 'lowTraffic', 'name'],
        message: `'${name}' is also the name of a rule in kafka.rules; rule names must be unique`,
      });
    }
    rules.push({
      name,
      ...mergeSettings(raw, raw.lowTraffic),
      types: [],
      typePattern: undefined,
      excludeTypes: [...raw.lowTraffic.excludeTypes],
      lowTraffic: true,
      partitioned: undefined,
    });
  }
  if (rules.length === 0) {
    errors.push({
      path: ['kafka', 'rules'],
      message: 'no rules: add kafka.rules or enable kafka.lowTraffic, otherwise no job runs',
    });
  }
  return {
    brokers: [...raw.brokers],
    datacenter: raw.datacenter,
    serviceName: raw.serviceName,
    clientId: raw.clientId,
    instanceId: raw.instanceId,
    startFrom: raw.startFrom,
    sessionTimeoutMs: raw.sessionTimeoutMs,
    commitIntervalMs: raw.commitIntervalMs,
    topicRefreshMs: raw.topicRefreshMs,
    lagIntervalMs: raw.lagIntervalMs,
    createTopics: raw.createTopics,
    topicPartitions: raw.topicPartitions,
    maxMessageBytes: raw.maxMessageBytes,
    maxFollowUpBytes: raw.maxFollowUpBytes,
    deadLetterFile: raw.deadLetterFile,
    delayHoldSeconds: raw.delayHoldSeconds,
    maxHeldEvents: raw.maxHeldEvents,
    readonlyRetryDelayMs: raw.readonlyRetryDelayMs,
    discardCanaryEvents: raw.discardCanaryEvents,
    rules,
    dedup: { ...raw.dedup },
  };
}
