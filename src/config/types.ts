// The validated, defaults-applied shape of jobrunner.conf. The JSON Schema in
// src/config/jobrunner.schema.json is the source of truth for what the file may contain; this is
// what the code sees after loadConfig() has parsed, validated and filled in defaults.

export type BackendKind = 'redis' | 'kafka' | 'memcached';
export type DispatchKind = 'command' | 'http' | 'special-runjobs';

/** Per-job-type map with "*" as the fallback, e.g. {"*": 3600, "webVideoTranscode": 86400}. */
export type PerTypeMap<T> = Readonly<Record<string, T>> & { readonly '*': T };

export interface GroupConfig {
  readonly name: string;
  readonly runners: number;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly lowPriority: readonly string[];
}

export interface LimitsConfig {
  readonly attempts: PerTypeMap<number>;
  readonly claimTTL: PerTypeMap<number>;
  /** Seconds; already raised to runner.minRealSeconds like the original. */
  readonly real: PerTypeMap<number>;
  readonly memory: PerTypeMap<string>;
}

export interface RedisServerAddress {
  /** The string as written in the config, e.g. "rdb1001:6380" or "[::1]:6379". */
  readonly raw: string;
  readonly host: string;
  readonly port: number;
}

export interface RedisConfig {
  readonly aggregators: readonly RedisServerAddress[];
  readonly queues: readonly RedisServerAddress[];
  /** Secret: never log it. */
  readonly password: string | undefined;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

export interface RunnerSettings {
  /** Original lpMaxDelay: longest stay in high-priority mode (s). */
  readonly highPriorityMaxSeconds: number;
  /** Original hpMaxDelay: longest stay in low-priority mode (s). */
  readonly lowPriorityMaxSeconds: number;
  /** %(maxtime) in high mode (original lpMaxTime = 60). */
  readonly highPriorityMaxTime: number;
  /** %(maxtime) in low mode (original hpMaxTime = 30). */
  readonly lowPriorityMaxTime: number;
  /** limits.real values are raised to at least this (original: 120). */
  readonly minRealSeconds: number;
  /** SIGTERM → SIGKILL grace for timed-out children (s). */
  readonly killGraceSeconds: number;
  /** On SIGTERM: how long in-flight children may finish before they are killed (s). */
  readonly drainTimeoutSeconds: number;
  /** How often ready queues are re-discovered (ms). */
  readonly discoveryIntervalMs: number;
  /** With a slot free, wake on keyspace notifications of pushes (idle: rare polls, not 100 ms). */
  readonly wakeOnPush: boolean;
  /** Fallback poll while idle with push notifications working (ms). */
  readonly idleDiscoveryIntervalMs: number;
  /** Max children on one (wiki, type) queue at once. */
  readonly maxPerQueue: number;
  /** Max children on one wiki at once; 0 = no cap. */
  readonly maxPerWiki: number;
  /** Back-off after `none-ready` (s). */
  readonly noneReadyBackoffSeconds: number;
  /** Back-off after `none-possible` (unknown type; s). */
  readonly nonePossibleBackoffSeconds: number;
  /** Back-off of the wiki after `read-only` / `replica-lag-limit` (s). */
  readonly wikiBackoffSeconds: number;
  /** First back-off after a failed dispatch; doubles per consecutive failure (s). */
  readonly failureBackoffSeconds: number;
  readonly maxFailureBackoffSeconds: number;
  /** runJobs --maxjobs / Special:RunJobs maxjobs per dispatch; 0 = unlimited (CLI only). */
  readonly maxJobsPerDispatch: number;
  /** Discovery's paced reconciliation walks every queue once per this many seconds. */
  readonly reconcileSeconds: number;
  /** Different queues of a wiki failing in a row before the wiki is backed off; 0 = off. */
  readonly wikiFailureQueues: number;
  /** Dispatches per second to recently failed queues/wikis; 0 = no cap. */
  readonly maxFailingDispatchesPerSecond: number;
  readonly scheduling: SchedulingSettings;
}

/** runner.scheduling: how free slots are shared (README "Scheduling"). */
export interface SchedulingSettings {
  /** "fair" (slot-time fair share, adaptive slices, express slots) or "legacy" (before issue 14). */
  readonly policy: 'fair' | 'legacy';
  /** maxtime while more queues wait than slots are free (s). */
  readonly sliceSeconds: number;
  /** maxtime while no other queue waits (s; at most the mode's maxtime). */
  readonly longSliceSeconds: number;
  /** Slots per group kept for quiet queues (groups with ≥ 2 runners; never all). */
  readonly expressSlots: number;
  /** Quiet = at most this many ready jobs and no child on the wiki here. */
  readonly expressMaxReady: number;
  /** maxtime of an express dispatch (s). */
  readonly expressSliceSeconds: number;
  /** An express slot lends itself to other work only this long after its last quiet start (s). */
  readonly expressHoldSeconds: number;
  /** Extra dispatches per group standing in for ones stuck in a long job (never more). */
  readonly burstSlots: number;
  /** Extra dispatches per group beyond runners + burstSlots, for quiet queues only. */
  readonly quietBurstSlots: number;
  /** A dispatch this long past its maxtime is stuck in a long job (s). */
  readonly overrunSeconds: number;
  /** Share weight per wiki ID (default 1). */
  readonly wikiWeights: Readonly<Record<string, number>>;
  /** Share weight per job type within a wiki (default 1). */
  readonly typeWeights: Readonly<Record<string, number>>;
}

export interface DispatchConfig {
  readonly kind: DispatchKind;
  /** The original `dispatcher` template (command or http(s) URL). */
  readonly template: string;
  readonly connectTimeoutMs: number;
  /** Special:RunJobs: wiki → base URL of index.php, "*" fallback may contain %(db)u. */
  readonly baseUrls: Readonly<Record<string, string>>;
  /** File holding $wgSecretKey for Special:RunJobs signing. Secret contents never logged. */
  readonly secretKeyFile: string | undefined;
}

export interface ChronSettings {
  /** Target period between pass starts (ms); the original slept 1 s after each pass. */
  readonly intervalMs: number;
  /** Per-category limit per queue per call (original: 500). */
  readonly perCategoryLimit: number;
  /** Abandoned jobs are pruned this long after abandonment (s; original 7 days from last claim). */
  readonly pruneAfterSeconds: number;
  /** Partition lease TTL (ms); a dead instance's partitions are taken over after this. */
  readonly leaseTtlMs: number;
  /** Queues per pipelined round trip. */
  readonly batchSize: number;
  /** Keep jobqueue:aggregator:h-ready-queues:v2 current for older runners. */
  readonly writeReadyHash: boolean;
  /** Every queue is visited at least once per this many seconds by the paced walk. */
  readonly fullWalkSeconds: number;
  /** Learn changed queues from keyspace notifications (else from the walk only). */
  readonly watchChanges: boolean;
}

export interface IntakeConfig {
  readonly address: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  readonly maxEventsPerRequest: number;
  readonly requestTimeoutMs: number;
}

export interface StatusServerConfig {
  readonly enabled: boolean;
  readonly address: string;
  /** Per daemon: the runner and the chron each need a port. */
  readonly runnerPort: number;
  readonly chronPort: number;
  /** File with the admin token; without it the server is read-only. */
  readonly adminTokenFile: string | undefined;
  /** Host header names answered besides IP literals, localhost and os.hostname() (DNS rebinding). */
  readonly allowedHosts: readonly string[];
}

export interface LoggingConfig {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  /** Optional JSON-lines file in addition to stdout; reopened on SIGUSR1 / write failure. */
  readonly file: string | undefined;
}

export interface StatsdConfig {
  readonly host: string;
  readonly port: number;
  readonly prefix: string;
}

export interface JobrunnerConfig {
  /** Absolute path the config was read from (for messages). */
  readonly sourcePath: string;
  readonly backend: BackendKind;
  readonly groups: readonly GroupConfig[];
  readonly limits: LimitsConfig;
  readonly redis: RedisConfig;
  readonly statsd: StatsdConfig | undefined;
  readonly dispatch: DispatchConfig;
  readonly runner: RunnerSettings;
  readonly chron: ChronSettings;
  readonly status: StatusServerConfig;
  readonly logging: LoggingConfig;
  /** The kafka section (backend kafka); absent when the file has none. */
  readonly kafka?: KafkaConfig;
  /** jobrunner-intake (EventGate-compatible event intake); always filled in by the loader. */
  readonly intake?: IntakeConfig;
  /** The memcached section (backend memcached, the legacy JobQueueDB era); absent when the file has none. */
  readonly memcached?: MemcachedConfig;
  /**
   * Non-fatal findings of the loader (legacy `wrapper`, raised limits.real, duplicate keys, ...),
   * each formatted `FILE:LINE:COL: PATH: MESSAGE`; daemons log them at startup. Optional so
   * hand-built configs in tests need not set it.
   */
  readonly warnings?: readonly string[];
}

// ---- backend kafka ----

/** How one rule executes events (kafka.ruleDefaults merged with the rule's own settings). */
export interface KafkaRuleSettings {
  /** RunSingleJob URL. */
  readonly endpoint: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Retries after the first attempt; 0 = exactly one attempt. */
  readonly retryLimit: number;
  readonly retryDelayMs: number;
  readonly retryFactor: number;
  readonly ignoreStatus: readonly number[];
  /** 0 = never abandon. */
  readonly claimTtlSeconds: number;
  readonly rootClaimTtlSeconds: number;
  readonly disableDelayedExecution: boolean;
}

export interface KafkaPartitioningConfig {
  /** What picks the partition: the event's database or its params.jobqueue_partition. */
  readonly key: 'database' | 'params.jobqueue_partition';
  /** key value → partition */
  readonly map: Readonly<Record<string, number>>;
  readonly defaultPartition: number;
  readonly partitions: number;
}

export interface KafkaRuleConfig extends KafkaRuleSettings {
  readonly name: string;
  /** Explicit job types (empty for pattern and low-traffic rules). */
  readonly types: readonly string[];
  /** Regex source matched against job types; undefined for explicit rules. */
  readonly typePattern: string | undefined;
  readonly excludeTypes: readonly string[];
  /** The low-traffic rule: every job topic no other rule claims. */
  readonly lowTraffic: boolean;
  /** Only for single-type rules. */
  readonly partitioned: KafkaPartitioningConfig | undefined;
}

export interface KafkaDedupConfig {
  readonly enabled: boolean;
  readonly prefix: string;
  readonly idWindowSeconds: number;
  readonly sha1WindowSeconds: number;
  readonly rootWindowSeconds: number;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly datacenter: string;
  readonly serviceName: string;
  readonly clientId: string;
  /** Static group membership ID; undefined = the host name. */
  readonly instanceId: string | undefined;
  readonly startFrom: 'earliest' | 'latest';
  readonly sessionTimeoutMs: number;
  readonly commitIntervalMs: number;
  readonly topicRefreshMs: number;
  readonly lagIntervalMs: number;
  readonly createTopics: boolean;
  readonly topicPartitions: number;
  readonly maxMessageBytes: number;
  /** Largest follow-up message produced; error events are trimmed to fit. */
  readonly maxFollowUpBytes: number;
  /** JSON-lines file for follow-ups the broker refuses for good. */
  readonly deadLetterFile: string;
  readonly delayHoldSeconds: number;
  readonly maxHeldEvents: number;
  readonly readonlyRetryDelayMs: number;
  readonly discardCanaryEvents: boolean;
  /** Explicit rules in file order, then the low-traffic rule when enabled. */
  readonly rules: readonly KafkaRuleConfig[];
  readonly dedup: KafkaDedupConfig;
}

// ---- backend memcached (legacy JobQueueDB + memcached registry) ----

export interface MemcachedServerAddress {
  /** As written in the config. */
  readonly raw: string;
  readonly host: string;
  readonly port: number;
}

/** Where one wiki's `job` table lives. */
export interface LegacyWikiConfig {
  /** Wiki ID (also its DB domain: legacy wikis have no schema). */
  readonly wiki: string;
  /** PDO DSN; a relative SQLite path is already resolved against the config file's directory. */
  readonly dsn: string;
  readonly tablePrefix: string;
  readonly user: string | undefined;
  /** Absolute path of the file holding the DB password. Secret contents never logged. */
  readonly passwordFile: string | undefined;
}

export interface MemcachedConfig {
  readonly servers: readonly MemcachedServerAddress[];
  readonly registryKey: string;
  readonly staleAfterSeconds: number;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly php: string;
  /** In file order. */
  readonly wikis: readonly LegacyWikiConfig[];
}

/** limits.<k>[type] if present, otherwise limits.<k>["*"] (original lookup rule). */
export function limitFor<T>(map: PerTypeMap<T>, type: string): T {
  return Object.prototype.hasOwnProperty.call(map, type) ? (map[type] as T) : map['*'];
}
