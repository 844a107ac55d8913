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
  maxPerQueue: number;
  maxPerWiki: number;
  noneReadyBackoffSeconds: number;
  nonePossibleBackoffSeconds: number;
  wikiBackoffSeconds: number;
  failureBackoffSeconds: number;
  maxFailureBackoffSeconds: number;
  maxJobsPerDispatch: number;
}

export interface RawChron {
  intervalMs: number;
  perCategoryLimit: number;
  pruneAfterSeconds: number;
  leaseTtlMs: number;
  batchSize: number;
  writeReadyHash: boolean;
}

export interface RawStatus {
  enabled: boolean;
  address: string;
  runnerPort: number;
  chronPort: number;
  adminTokenFile?: string;
}

export interface RawLogging {
  level: LoggingConfig['level'];
  file?: string;
}

export interface RawConfig {
  backend: BackendKind;
  groups: Record<string, RawGroup>;
  limits: RawLimits;
  redis: RawRedis;
  statsd?: string | RawStatsdObject;
  dispatcher?: string;
  wrapper?: string;
  dispatch: RawDispatch;
  runner: RawRunner;
  chron: RawChron;
  status: RawStatus;
  logging: RawLogging;
}
