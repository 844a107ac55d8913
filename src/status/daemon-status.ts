// Wiring of the status server into a daemon (jobrunner, jobchron) from its config: a Prometheus
// registry fed through the statsd Metrics calls, the farm's queues (over the daemon's own Redis
// connections, or from the wikis' job tables under backend memcached), the admin token from
// status.adminTokenFile, and every secret the daemon knows kept out of responses. The daemons only
// call daemonMetrics() and startDaemonStatus().
import { readFileSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { RedisBackend } from '../backend/redis-backend.js';
import { readAdminToken } from '../config/admin-token.js';
import { readSecretFile } from '../config/secret-file.js';
import type { JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/statsd.js';
import { FarmQueues, type PartitionReport } from './farm-queues.js';
import { summarizeFarm, type FarmSummary } from './farm-summary.js';
import { createPrometheusMetrics, teeMetrics } from './prometheus-metrics.js';
import { pausedOf, setPaused, withPaused } from './pause-actions.js';
import { deleteQueues, retryAbandoned } from './queue-actions.js';
import { deleteJob, queueDetail, retryJob } from './queue-detail.js';
import {
  startStatusServer,
  type AdminActions,
  type DaemonRole,
  type StatusServerHandle,
  type StatusServerOptions,
} from './server.js';

export interface DaemonMetrics {
  /** statsd and Prometheus together: give this to the runner / chron. */
  readonly metrics: Metrics;
  readonly registry: Registry;
}

/** A registry with process metrics and the daemon's statsd names as Prometheus metrics. */
export function daemonMetrics(statsd: Metrics, role: DaemonRole): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return { metrics: teeMetrics(statsd, createPrometheusMetrics(registry, { role })), registry };
}

export interface DaemonStatusOptions {
  readonly role: DaemonRole;
  readonly config: JobrunnerConfig;
  readonly logger: Logger & { addSecrets?(secrets: readonly string[]): void };
  readonly registry: Registry;
  readonly status: () => object;
  readonly ready: () => boolean;
  /** Sampling interval of the dashboard history (tests); default the server's. */
  readonly historyIntervalMs?: number;
}

export interface DaemonStatusHandle extends StatusServerHandle {
  readonly adminEnabled: boolean;
}

function packageVersion(): string | undefined {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** Secret values that must never be served: redis password, admin token, $wgSecretKey. */
function knownSecrets(config: JobrunnerConfig, adminToken: string | undefined): string[] {
  const secrets: string[] = [];
  if (config.redis.password) secrets.push(config.redis.password);
  if (adminToken) secrets.push(adminToken);
  if (config.dispatch.secretKeyFile) {
    try {
      secrets.push(readSecretFile(config.dispatch.secretKeyFile, 'dispatch.secretKeyFile'));
    } catch {
      // the dispatcher reports an unreadable secret file itself
    }
  }
  return secrets;
}

function peerOf(role: DaemonRole, config: JobrunnerConfig): { role: DaemonRole; url: string } | undefined {
  const peerRole: DaemonRole = role === 'jobrunner' ? 'jobchron' : 'jobrunner';
  const port = peerRole === 'jobrunner' ? config.status.runnerPort : config.status.chronPort;
  if (port === 0) return undefined;
  const wildcard = ['0.0.0.0', '::', '[::]'].includes(config.status.address);
  const host = wildcard ? '127.0.0.1' : config.status.address;
  return {
    role: peerRole,
    url: `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`,
  };
}

/** The status port cannot be listened on (taken by another process, not permitted). */
export class StatusListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusListenError';
  }
}

/**
 * Starts the status server when config.status.enabled (else resolves null).
 * @throws ConfigError when status.adminTokenFile cannot be read or holds a weak token
 * @throws StatusListenError when it cannot listen: fatal at start-up, since a port answering for
 *   another process would make deploy health checks test the wrong daemon
 */
export async function startDaemonStatus(options: DaemonStatusOptions): Promise<DaemonStatusHandle | null> {
  const { config, logger, role } = options;
  if (!config.status.enabled) return null;
  const adminToken = config.status.adminTokenFile ? readAdminToken(config.status.adminTokenFile) : undefined;
  const secrets = knownSecrets(config, adminToken);
  logger.addSecrets?.(secrets);
  const source = await queueSource(config, logger.child({ component: 'status-server' }));
  if (adminToken !== undefined && !source.actions) {
    logger.info('Status server admin actions are not available with this backend; read-only', {
      backend: config.backend,
    });
  }
  let server: StatusServerHandle;
  try {
    server = await startStatusServer({
      role,
      address: config.status.address,
      port: role === 'jobrunner' ? config.status.runnerPort : config.status.chronPort,
      logger,
      registry: options.registry,
      queues: { summary: source.summary },
      ...(source.health ? { health: source.health } : {}),
      ...(source.inspect ? { inspect: source.inspect } : {}),
      status: options.status,
      ready: options.ready,
      ...(adminToken !== undefined && source.actions ? { adminToken, actions: source.actions } : {}),
      secrets,
      allowedHosts: config.status.allowedHosts,
      peer: peerOf(role, config),
      ...(options.historyIntervalMs !== undefined ? { historyIntervalMs: options.historyIntervalMs } : {}),
      version: packageVersion(),
    });
  } catch (error) {
    await source.close();
    const setting = role === 'jobrunner' ? 'status.runnerPort' : 'status.chronPort';
    const port = role === 'jobrunner' ? config.status.runnerPort : config.status.chronPort;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StatusListenError(
      `status server cannot listen on ${config.status.address}:${port} (${setting}): ${reason}`,
    );
  }
  return {
    ...server,
    adminEnabled: adminToken !== undefined && source.actions !== undefined,
    close: async () => {
      await server.close();
      await source.close();
    },
  };
}

/** Where the status server's queue listing, liveness check and admin actions come from. */
interface QueueSource {
  summary(): Promise<FarmSummary>;
  health?: () => Promise<readonly PartitionReport[]>;
  actions?: AdminActions;
  inspect?: StatusServerOptions['inspect'];
  close(): Promise<void>;
}

async function queueSource(config: JobrunnerConfig, logger: Logger): Promise<QueueSource> {
  if (config.backend === 'memcached' && config.memcached) {
    // The jobs live in the wikis' job tables; the Redis section is not this farm's queue.
    const [{ LegacyBackend }, { legacyFarmListing }] = await Promise.all([
      import('../legacy/legacy-backend.js'),
      import('./legacy-farm.js'),
    ]);
    const backend = new LegacyBackend(config, logger);
    const wikis = config.memcached.wikis.map((w) => w.wiki);
    return {
      summary: async () => summarizeFarm(await legacyFarmListing(backend, wikis)),
      close: () => backend.close(),
    };
  }
  const backend = new RedisBackend(config, logger);
  const farm = new FarmQueues(backend);
  return {
    summary: async () => {
      const [listing, paused] = await Promise.all([farm.list(), pausedOf(farm)]);
      return withPaused(summarizeFarm(listing), paused);
    },
    health: () => farm.ping(),
    actions: {
      retryAbandoned: async (target) => retryAbandoned(farm, (await farm.list(target)).queues),
      deleteQueue: async (target) => deleteQueues(farm, (await farm.list(target)).queues),
      pauseQueue: (target) => setPaused(farm, target, true),
      resumeQueue: (target) => setPaused(farm, target, false),
      retryJob: (target) => retryJob(farm, target, target.id),
      deleteJob: (target) => deleteJob(farm, target, target.id),
    },
    inspect: (target, state, limit) => queueDetail(farm, target, state, limit),
    close: () => backend.close(),
  };
}
