// The config document after schema validation with defaults filled in by ajv (before the
// merge rules, address parsing and cross-field checks that turn it into a JobrunnerConfig).
// Must stay in step with jobrunner.schema.json.
import type { BackendKind, DispatchKind, LoggingConfig } from './types.js';

export interface RawGroup {
  runners: number;
  include: string[];
  exclude: string[];
  'low-priority': string[];
}

export interface RawLimits {
  attempts: Record<string, number>;
  claimTTL: Record<string, number>;
  real: Record<string, number>;
  memory: Record<string, string>;
}

export interface RawRedis {
  aggregators: string[];
  queues: string[];
  password?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface RawStatsdObject {
  host: string;
  port: number;
  prefix: string;
}

export interface RawDispatch {
  kind?: DispatchKind;
  connectTimeoutMs: number;
  baseUrls: Record<string, string>;
  secretKeyFile?: string;
}

export interface RawRunner {
  highPriorityMaxSeconds: number;
  lowPriorityMaxSeconds: number;
  highPriorityMaxTime: number;
  lowPriorityMaxTime: number;
  minRealSeconds: number;
  killGraceSeconds: number;
  drainTimeoutSeconds: number;
  discoveryIntervalMs: number;
  wakeOnPush: boolean;
  idleDiscoveryIntervalMs: number;
  maxPerQueue: number;
  maxPerWiki: number;
  noneReadyBackoffSeconds: number;
  nonePossibleBackoffSeconds: number;
  wikiBackoffSeconds: number;
  failureBackoffSeconds: number;
  maxFailureBackoffSeconds: number;
  maxJobsPerDispatch: number;
  reconcileSeconds: number;
  wikiFailureQueues: number;
  maxFailingDispatchesPerSecond: number;
  scheduling: RawScheduling;
}

export interface RawScheduling {
  policy: 'fair' | 'legacy';
  sliceSeconds: number;
  longSliceSeconds: number;
  expressSlots: number;
  expressMaxReady: number;
  expressSliceSeconds: number;
  expressHoldSeconds: number;
  burstSlots: number;
  quietBurstSlots: number;
  overrunSeconds: number;
  wikiWeights: Record<string, number>;
  typeWeights: Record<string, number>;
}

export interface RawChron {
  intervalMs: number;
  perCategoryLimit: number;
  pruneAfterSeconds: number;
  leaseTtlMs: number;
  batchSize: number;
  writeReadyHash: boolean;
  fullWalkSeconds: number;
  watchChanges: boolean;
}

export interface RawIntake {
  address: string;
  port: number;
  maxBodyBytes: number;
  maxEventsPerRequest: number;
  requestTimeoutMs: number;
}

export interface RawStatus {
  enabled: boolean;
  address: string;
  runnerPort: number;
  chronPort: number;
  adminTokenFile?: string;
  allowedHosts: string[];
}

export interface RawLogging {
  level: LoggingConfig['level'];
  file?: string;
}

export interface RawConfig {
  backend: BackendKind;
  /** Required unless the file has a kafka section. */
  groups?: Record<string, RawGroup>;
  limits: RawLimits;
  redis: RawRedis;
  statsd?: string | RawStatsdObject;
  dispatcher?: string;
  wrapper?: string;
  dispatch: RawDispatch;
  runner: RawRunner;
  chron: RawChron;
  status: RawStatus;
  intake: RawIntake;
  logging: RawLogging;
  kafka?: RawKafka;
  memcached?: RawMemcached;
}

// ---- kafka section (backend kafka) ----

/** Rule settings; in ruleDefaults every one is filled in by the schema defaults. */
export interface RawKafkaRuleSettings {
  endpoint?: string;
  concurrency?: number;
  timeoutMs?: number;
  retryLimit?: number;
  retryDelayMs?: number;
  retryFactor?: number;
  ignoreStatus?: number[];
  claimTtlSeconds?: number;
  rootClaimTtlSeconds?: number;
  disableDelayedExecution?: boolean;
}

export interface RawKafkaPartitioning {
  key: 'database' | 'params.jobqueue_partition';
  map: Record<string, number>;
  default: number;
  partitions?: number;
}

export interface RawKafkaRule extends RawKafkaRuleSettings {
  types?: string[];
  typePattern?: string;
  excludeTypes?: string[];
  partitioned?: RawKafkaPartitioning;
}

export interface RawKafkaLowTraffic extends RawKafkaRuleSettings {
  enabled: boolean;
  name: string;
  excludeTypes: string[];
}

export interface RawKafkaDedup {
  enabled: boolean;
  prefix: string;
  idWindowSeconds: number;
  sha1WindowSeconds: number;
  rootWindowSeconds: number;
}

export interface RawKafka {
  brokers: string[];
  datacenter: string;
  serviceName: string;
  clientId: string;
  instanceId?: string;
  endpoint: string;
  startFrom: 'earliest' | 'latest';
  sessionTimeoutMs: number;
  commitIntervalMs: number;
  topicRefreshMs: number;
  lagIntervalMs: number;
  createTopics: boolean;
  topicPartitions: number;
  maxMessageBytes: number;
  maxFollowUpBytes: number;
  deadLetterFile: string;
  delayHoldSeconds: number;
  maxHeldEvents: number;
  readonlyRetryDelayMs: number;
  discardCanaryEvents: boolean;
  ruleDefaults: Required<Omit<RawKafkaRuleSettings, 'endpoint'>>;
  rules: Record<string, RawKafkaRule>;
  lowTraffic: RawKafkaLowTraffic;
  dedup: RawKafkaDedup;
}

// ---- memcached section (backend memcached, the legacy JobQueueDB era) ----

export interface RawMemcachedWiki {
  dsn: string;
  tablePrefix: string;
  user?: string;
  passwordFile?: string;
}

export interface RawMemcached {
  servers: string[];
  registryKey: string;
  staleAfterSeconds: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  php: string;
  wikis: Record<string, RawMemcachedWiki>;
}
