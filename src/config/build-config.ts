// Turns the validated document into a JobrunnerConfig: the original's merge rules for limits,
// address parsing, derived settings and the cross-field checks a JSON Schema cannot express.
import { dirname, resolve } from 'node:path';
import { AddressError, parseHostPort, parseRedisAddress } from '../redis/address.js';
import type {
  DispatchConfig,
  GroupConfig,
  JobrunnerConfig,
  LimitsConfig,
  PerTypeMap,
  RedisConfig,
  RedisServerAddress,
  StatsdConfig,
} from './types.js';
import type { ConfigIssue } from './errors.js';
import type { RawConfig, RawDispatch, RawRunner } from './raw-types.js';
import { buildKafkaConfig } from './kafka-config.js';
import { buildMemcachedConfig } from './memcached-config.js';
import { loadSchema, schemaDefault } from './schema.js';

export const DEFAULT_STATSD_PORT = 8125;

export interface BuildResult {
  readonly config: JobrunnerConfig;
  readonly errors: ConfigIssue[];
  readonly warnings: ConfigIssue[];
}

/**
 * @param groupOrder group names in file order (JS objects would move integer-like names first)
 * @param sourcePath absolute path of the config file; relative file settings are resolved against its directory
 */
export function buildConfig(raw: RawConfig, groupOrder: readonly string[], sourcePath: string): BuildResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const baseDir = dirname(sourcePath);
  const fromConfigDir = (file: string | undefined): string | undefined =>
    file === undefined ? undefined : resolve(baseDir, file);

  if (raw.wrapper !== undefined) {
    warnings.push({ path: ['wrapper'], at: 'key', message: "legacy key 'wrapper' is ignored" });
  }
  const groups = buildGroups(raw, groupOrder, warnings);
  const limits = buildLimits(raw, warnings);
  const redis = buildRedis(raw, errors);
  const statsd = buildStatsd(raw, errors);
  // backend kafka runs jobs through kafka.endpoint, so it needs no dispatcher (kafka section).
  const dispatch = buildDispatch(raw.dispatcher, raw.dispatch, raw.backend === 'kafka' ? [] : errors);
  const kafka = raw.kafka === undefined ? undefined : buildKafkaConfig(raw.kafka, errors);
  if (raw.backend === 'kafka' && raw.kafka === undefined) {
    errors.push({
      path: ['kafka'],
      message: "backend is 'kafka', so a kafka section (brokers, datacenter, endpoint) is required",
    });
  }
  const memcached =
    raw.memcached === undefined ? undefined : buildMemcachedConfig(raw.memcached, baseDir, errors);
  if (raw.backend === 'memcached' && raw.memcached === undefined) {
    errors.push({
      path: ['memcached'],
      message: "backend is 'memcached', so a memcached section (servers, wikis) is required",
    });
  }
  checkRunner(raw.runner, limits, errors, warnings);
  if (raw.status.enabled && raw.status.runnerPort !== 0 && raw.status.runnerPort === raw.status.chronPort) {
    errors.push({
      path: ['status', 'chronPort'],
      message: `jobrunner and jobchron cannot both listen on port ${raw.status.runnerPort}; expected different runnerPort and chronPort`,
    });
  }

  const config: JobrunnerConfig = {
    sourcePath,
    backend: raw.backend,
    groups,
    limits,
    redis,
    statsd,
    dispatch: { ...dispatch, secretKeyFile: fromConfigDir(dispatch.secretKeyFile) },
    runner: { ...raw.runner },
    chron: { ...raw.chron },
    status: {
      enabled: raw.status.enabled,
      address: raw.status.address,
      runnerPort: raw.status.runnerPort,
      chronPort: raw.status.chronPort,
      adminTokenFile: fromConfigDir(raw.status.adminTokenFile),
      allowedHosts: raw.status.allowedHosts,
    },
    logging: { level: raw.logging.level, file: fromConfigDir(raw.logging.file) },
    intake: { ...raw.intake },
    ...(kafka === undefined ? {} : { kafka }),
    ...(memcached === undefined ? {} : { memcached }),
  };
  return { config, errors, warnings };
}

function buildGroups(raw: RawConfig, groupOrder: readonly string[], warnings: ConfigIssue[]): GroupConfig[] {
  const groups: GroupConfig[] = [];
  for (const name of groupOrder) {
    const group = raw.groups?.[name];
    if (group === undefined) continue;
    groups.push({
      name,
      runners: group.runners,
      include: [...group.include],
      exclude: [...group.exclude],
      lowPriority: [...group['low-priority']],
    });
    if (group.runners > 0 && group.include.length === 0) {
      warnings.push({
        path: ['groups', name],
        at: 'key',
        message: `group '${name}' has an empty include list and runs no jobs`,
      });
    }
  }
  if (groups.length > 0 && groups.every((group) => group.runners === 0)) {
    warnings.push({
      path: ['groups'],
      at: 'key',
      message: 'every group has runners 0; jobrunner will run no jobs',
    });
  }
  return groups;
}

/** Original rule: configured keys win, built-in defaults fill the missing keys (PHP `config + defaults`). */
function mergeWithDefault<T>(
  key: keyof LimitsConfig,
  configured: Readonly<Record<string, T>>,
): PerTypeMap<T> {
  const defaults = schemaDefault(['limits', key]) as PerTypeMap<T>;
  return { ...defaults, ...configured };
}

function buildLimits(raw: RawConfig, warnings: ConfigIssue[]): LimitsConfig {
  const minReal = raw.runner.minRealSeconds;
  const real: Record<string, number> = { ...mergeWithDefault('real', raw.limits.real) };
  for (const [type, seconds] of Object.entries(real)) {
    if (seconds >= minReal) continue;
    real[type] = minReal;
    if (Object.prototype.hasOwnProperty.call(raw.limits.real, type)) {
      warnings.push({
        path: ['limits', 'real', type],
        message: `${seconds} s is raised to runner.minRealSeconds (${minReal} s)`,
      });
    }
  }
  return {
    attempts: mergeWithDefault('attempts', raw.limits.attempts),
    claimTTL: mergeWithDefault('claimTTL', raw.limits.claimTTL),
    real: real as PerTypeMap<number>,
    memory: mergeWithDefault('memory', raw.limits.memory),
  };
}

function buildRedis(raw: RawConfig, errors: ConfigIssue[]): RedisConfig {
  const parseList = (key: 'aggregators' | 'queues'): RedisServerAddress[] => {
    const addresses: RedisServerAddress[] = [];
    const seen = new Map<string, number>();
    raw.redis[key].forEach((text, index) => {
      try {
        const address = parseRedisAddress(text);
        const id = `${address.host}:${address.port}`;
        const earlier = seen.get(id);
        if (earlier !== undefined) {
          errors.push({
            path: ['redis', key, index],
            message: `the same server is already listed as redis.${key}[${earlier}]`,
          });
        }
        seen.set(id, index);
        addresses.push(address);
      } catch (error) {
        errors.push({ path: ['redis', key, index], message: addressMessage(error, '[::1]:6380') });
      }
    });
    return addresses;
  };
  return {
    aggregators: parseList('aggregators'),
    queues: parseList('queues'),
    // An empty password in the file means "no AUTH".
    password: raw.redis.password === '' ? undefined : raw.redis.password,
    connectTimeoutMs: raw.redis.connectTimeoutMs,
    commandTimeoutMs: raw.redis.commandTimeoutMs,
  };
}

function addressMessage(error: unknown, example: string): string {
  const detail = error instanceof AddressError ? error.message : String(error);
  return `expected "host[:port]" (IPv6 as "${example}"), but ${detail}`;
}

function buildStatsd(raw: RawConfig, errors: ConfigIssue[]): StatsdConfig | undefined {
  if (raw.statsd === undefined) return undefined;
  if (typeof raw.statsd !== 'string') return { ...raw.statsd };
  const prefix = loadSchema().$defs?.statsdObject?.properties?.prefix?.default;
  try {
    const { host, port } = parseHostPort(raw.statsd, DEFAULT_STATSD_PORT);
    return { host, port, prefix: String(prefix) };
  } catch (error) {
    errors.push({ path: ['statsd'], message: addressMessage(error, '[::1]:8125') });
    return undefined;
  }
}

const HTTP_URL = /^https?:\/\//i;

function buildDispatch(
  dispatcher: string | undefined,
  raw: RawDispatch,
  errors: ConfigIssue[],
): DispatchConfig {
  const kind = raw.kind ?? (dispatcher !== undefined && HTTP_URL.test(dispatcher) ? 'http' : 'command');
  if (dispatcher === undefined && kind !== 'special-runjobs') {
    errors.push({
      path: ['dispatcher'],
      message:
        "missing required key 'dispatcher' (the command or URL template that runs jobs); only dispatch.kind 'special-runjobs' works without it",
    });
  }
  if (kind === 'http' && dispatcher !== undefined && !HTTP_URL.test(dispatcher)) {
    errors.push({
      path: ['dispatcher'],
      message: "dispatch.kind is 'http', so expected an http:// or https:// URL template",
    });
  }
  if (kind === 'special-runjobs') {
    if (Object.keys(raw.baseUrls).length === 0) {
      errors.push({
        path: ['dispatch', 'baseUrls'],
        message: 'dispatch.kind \'special-runjobs\' needs baseUrls: wiki ID (or "*") → base URL of index.php',
      });
    }
    if (raw.secretKeyFile === undefined) {
      errors.push({
        path: ['dispatch', 'secretKeyFile'],
        message: "dispatch.kind 'special-runjobs' needs secretKeyFile: a file holding $wgSecretKey",
      });
    }
  }
  return {
    kind,
    template: dispatcher ?? '',
    connectTimeoutMs: raw.connectTimeoutMs,
    baseUrls: { ...raw.baseUrls },
    secretKeyFile: raw.secretKeyFile,
  };
}

function checkRunner(
  runner: RawRunner,
  limits: LimitsConfig,
  errors: ConfigIssue[],
  warnings: ConfigIssue[],
): void {
  if (runner.maxFailureBackoffSeconds < runner.failureBackoffSeconds) {
    errors.push({
      path: ['runner', 'maxFailureBackoffSeconds'],
      message: `expected at least runner.failureBackoffSeconds (${runner.failureBackoffSeconds}), got ${runner.maxFailureBackoffSeconds}`,
    });
  }
  // The original kept real ≥ 2 × the longest maxtime so a child is not killed inside its budget.
  const needed = 2 * Math.max(runner.highPriorityMaxTime, runner.lowPriorityMaxTime);
  for (const [type, seconds] of Object.entries(limits.real)) {
    if (seconds < needed) {
      warnings.push({
        path: ['limits', 'real', type],
        message: `${seconds} s is less than twice the longest maxtime (${needed} s); children may be killed before their time budget is up`,
      });
    }
  }
}
