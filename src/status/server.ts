// The status server of jobrunner and jobchron: /healthz, /readyz, /metrics (Prometheus), /status
// (JSON), the dashboard and its JSON API, and token-guarded admin actions. Binds 127.0.0.1 unless
// configured otherwise. Queue numbers come from one cached farm summary (see SnapshotCache), so a
// 10,000-queue farm costs one Redis listing per interval however often it is scraped or viewed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { QueueBackend } from '../backend/types.js';
import { makeQueueId } from '../mediawiki/queue-keys.js';
import { maskSecrets, type Logger } from '../observability/logger.js';
import { checkAdmin } from './admin-auth.js';
import { AuthThrottle } from './auth-throttle.js';
import { hostChecker } from './host-check.js';
import { loadDashboardAssets } from './dashboard-assets.js';
import type { FarmListing, PartitionReport } from './farm-queues.js';
import {
  queryQueues,
  summarizeFarm,
  SORT_KEYS,
  MAX_QUERY_LIMIT,
  DEFAULT_QUERY_LIMIT,
} from './farm-summary.js';
import {
  HttpError,
  enumParam,
  intParam,
  optionalString,
  readJsonBody,
  requiredString,
  send,
  sendJson,
  stringParam,
  type Masker,
} from './http-util.js';
import type { PauseReport } from './pause-actions.js';
import type { DeleteReport, RetryReport } from './queue-actions.js';
import { History, HISTORY_INTERVAL_MS, sampleOf } from './history.js';
import { JOB_STATES, MAX_DETAIL_JOBS, type JobActionReport } from './queue-detail.js';
import type { JobState } from '../redis/queue-store.js';
import { registerQueueMetrics } from './queue-metrics.js';
import { SnapshotCache, type QueueSnapshotSource } from './snapshot-cache.js';

export type DaemonRole = 'jobrunner' | 'jobchron';

/** One (wiki, type) queue, optionally on one partition only. */
export interface AdminTarget {
  readonly wiki: string;
  readonly type: string;
  readonly partition?: string;
  /** One job (retry-job, delete-job). */
  readonly id?: string;
}

export interface AdminActions {
  retryAbandoned(target: AdminTarget): Promise<RetryReport>;
  deleteQueue(target: AdminTarget): Promise<DeleteReport>;
  /** Runners take no new dispatch for a paused queue (Redis backend). */
  pauseQueue?(target: AdminTarget): Promise<PauseReport>;
  resumeQueue?(target: AdminTarget): Promise<PauseReport>;
  /** One job of the queue page: retry an abandoned one, delete one (needs `id`). */
  retryJob?(target: AdminTarget & { id: string }): Promise<JobActionReport>;
  deleteJob?(target: AdminTarget & { id: string }): Promise<JobActionReport>;
}

/** Admin routes (POST /api/admin/NAME) and what runs them; `check` only validates the token. */
const ADMIN_ROUTES = {
  'retry-abandoned': (a: AdminActions, t: AdminTarget) => a.retryAbandoned(t),
  'delete-queue': (a: AdminActions, t: AdminTarget) => a.deleteQueue(t),
  'pause-queue': (a: AdminActions, t: AdminTarget) => a.pauseQueue?.(t),
  'resume-queue': (a: AdminActions, t: AdminTarget) => a.resumeQueue?.(t),
  'retry-job': (a: AdminActions, t: AdminTarget) => a.retryJob?.({ ...t, id: t.id ?? '' }),
  'delete-job': (a: AdminActions, t: AdminTarget) => a.deleteJob?.({ ...t, id: t.id ?? '' }),
} as const;

export interface StatusServerOptions {
  readonly role: DaemonRole;
  readonly address: string;
  /** 0 picks a free port (read it from the returned handle). */
  readonly port: number;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Where queue numbers come from: a FarmQueues-based source, or any QueueBackend. */
  readonly queues?: QueueSnapshotSource;
  readonly backend?: Pick<QueueBackend, 'queueCounts'>;
  /** The daemon's own state for /status and the dashboard (JobRunner.stats(), Chron.getStats()). */
  readonly status: () => object;
  readonly ready: () => boolean;
  /** One queue's jobs of one state, for the dashboard's queue panel (Redis backend). */
  readonly inspect?: (target: AdminTarget, state: JobState, limit: number) => Promise<object>;
  /** Liveness of each partition (PING); without it /healthz uses the queue listing. */
  readonly health?: () => Promise<readonly PartitionReport[]>;
  /** Enables the admin routes; without it they answer 403. */
  readonly adminToken?: string;
  readonly actions?: AdminActions;
  /** Limits wrong admin tokens per client address; default 10 in a row, then one per 6 s. */
  readonly adminThrottle?: AuthThrottle;
  /** Host names answered besides IP literals, localhost, os.hostname() and `address` (DNS rebinding). */
  readonly allowedHosts?: readonly string[];
  /** Strings that must never appear in a response (the admin token is always added). */
  readonly secrets?: readonly string[];
  /** The other daemon's status server, shown on the dashboard next to this one. */
  readonly peer?: { readonly role: DaemonRole; readonly url: string };
  /** How long one farm listing is reused (ms); default 2000. */
  readonly queueCacheMs?: number;
  /** Sampling interval of the dashboard's last-hour history (ms); default 10 s. */
  readonly historyIntervalMs?: number;
  /** Queues labelled individually in jobqueue_jobs; default 50. */
  readonly topQueues?: number;
  readonly version?: string;
}

export interface StatusServerHandle {
  readonly port: number;
  readonly address: string;
  /** http://address:port */
  readonly url: string;
  close(): Promise<void>;
}

const PEER_TIMEOUT_MS = 800;

/** Queue source over the generic QueueBackend boundary (per-partition counts, errors by partition). */
export function backendQueueSource(backend: Pick<QueueBackend, 'queueCounts'>): QueueSnapshotSource {
  return {
    async summary() {
      const at = Date.now();
      const listing = await backend.queueCounts();
      const names = new Set([
        ...listing.queues.map((q) => q.partition),
        ...listing.errors.map((e) => e.partition),
      ]);
      const failed = new Map(listing.errors.map((e) => [e.partition, e.error]));
      const farm: FarmListing = {
        at,
        queues: listing.queues.map((q) => ({ ...q, queueId: makeQueueId(q.type, q.domain) })),
        partitions: [...names].map((name) => ({
          name,
          ok: !failed.has(name),
          error: failed.get(name) ?? null,
          listed: listing.queues.filter((q) => q.partition === name).length,
          badMembers: 0,
          ms: 0,
        })),
        errors: listing.errors,
      };
      return summarizeFarm(farm);
    },
  };
}

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServerHandle> {
  const log = options.logger.child({ component: 'status-server' });
  const source = options.queues ?? (options.backend ? backendQueueSource(options.backend) : null);
  if (!source) throw new Error('startStatusServer: give `queues` or `backend`');
  const cache = new SnapshotCache(source, options.queueCacheMs ?? 2000);
  registerQueueMetrics(options.registry, cache, { topQueues: options.topQueues });
  const secrets = [...(options.secrets ?? []), ...(options.adminToken ? [options.adminToken] : [])].filter(
    (s) => s !== '',
  );
  const mask: Masker = (text) => maskSecrets(text, secrets);
  // The dashboard's charts: one sample of the cached summary per interval, kept for an hour.
  const history = new History(
    async () => sampleOf(await cache.get().catch(() => null), options.status(), Date.now()),
    options.historyIntervalMs ?? HISTORY_INTERVAL_MS,
  );
  const { assets, problems } = loadDashboardAssets();
  for (const problem of problems) log.warn('Dashboard unavailable', { problem });
  const startedAt = Date.now();
  const adminEnabled =
    options.adminToken !== undefined && options.adminToken !== '' && options.actions !== undefined;

  const ownStatus = () => ({
    role: options.role,
    version: options.version ?? null,
    pid: process.pid,
    startedAt,
    uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
    ready: options.ready(),
    admin: { enabled: adminEnabled },
    daemon: options.status(),
  });

  const peerStatus = async () => {
    if (!options.peer) return null;
    try {
      const response = await fetch(`${options.peer.url}/status`, {
        signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
      });
      if (!response.ok)
        return { role: options.peer.role, reachable: false, error: `HTTP ${response.status}` };
      return { role: options.peer.role, reachable: true, status: (await response.json()) as unknown };
    } catch (error) {
      return {
        role: options.peer.role,
        reachable: false,
        error: error instanceof Error ? error.message : String(error),
      };
    }
  };

  // The listen address may be a name too (status.address): clients then use it as Host.
  const knownHost = hostChecker([hostname(), options.address, ...(options.allowedHosts ?? [])]);
  const throttle = options.adminThrottle ?? new AuthThrottle({ burst: 10, refillSeconds: 6 });

  const admin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const remote = req.socket.remoteAddress ?? '?';
    const wait = adminEnabled ? throttle.retryAfterSeconds(remote) : 0;
    if (wait > 0) {
      throw new HttpError(429, `too many wrong admin tokens; try again in ${wait} s`, {
        'Retry-After': String(wait),
      });
    }
    const check = checkAdmin(req.headers.authorization, adminEnabled ? options.adminToken : undefined);
    if (!check.ok) {
      if (check.status === 401) throttle.failed(remote);
      log.warn('Admin request refused', { path, status: check.status, remote: req.socket.remoteAddress });
      const headers: Record<string, string> =
        check.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="jobrunner status"' } : {};
      throw new HttpError(check.status, check.message, headers);
    }
    if (req.method !== 'POST') throw new HttpError(405, 'admin actions are POST requests', { Allow: 'POST' });
    const actions = options.actions as AdminActions;
    const name = path.slice('/api/admin/'.length);
    if (name === 'check') return sendJson(res, 200, { ok: true }, mask);
    if (!Object.hasOwn(ADMIN_ROUTES, name)) throw new HttpError(404, `no admin action ${path}`);
    const body = await readJsonBody(req);
    const target: AdminTarget = {
      wiki: requiredString(body, 'wiki'),
      type: requiredString(body, 'type'),
      ...(optionalString(body, 'partition') !== undefined
        ? { partition: optionalString(body, 'partition') }
        : {}),
      ...(name === 'retry-job' || name === 'delete-job' ? { id: requiredString(body, 'id') } : {}),
    };
    const result = await ADMIN_ROUTES[name as keyof typeof ADMIN_ROUTES](actions, target);
    if (result === undefined) throw new HttpError(501, `${name} is not available with this backend`);
    cache.invalidate();
    log.info('Admin action', { action: name, ...target, result });
    sendJson(res, result.errors.length > 0 ? 502 : 200, { action: name, target, result }, mask);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!knownHost(req.headers.host)) {
      throw new HttpError(
        421,
        'unknown Host: add the name to status.allowedHosts to reach this server by it (DNS rebinding guard)',
      );
    }
    const url = new URL(req.url ?? '/', 'http://status.invalid');
    const path = url.pathname;
    if (path.startsWith('/api/admin/') || path === '/api/admin') return admin(req, res, path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(405, `${req.method ?? '?'} is not allowed here`, { Allow: 'GET, HEAD' });
    }
    const asset = assets.get(path);
    if (asset) return send(res, 200, asset.body, asset.contentType, mask);
    switch (path) {
      case '/':
        throw new HttpError(503, problems.join('; ') || 'dashboard unavailable');
      case '/healthz': {
        const partitions = options.health ? await options.health() : (await cache.get()).partitions;
        const up = partitions.filter((p) => p.ok).length;
        const state = up === partitions.length ? 'ok' : up === 0 ? 'unavailable' : 'degraded';
        const body = {
          status: state,
          role: options.role,
          redis: partitions.map((p) => ({ partition: p.name, ok: p.ok, error: p.error })),
        };
        return sendJson(res, state === 'unavailable' ? 503 : 200, body, mask);
      }
      case '/readyz': {
        const ready = options.ready();
        return sendJson(res, ready ? 200 : 503, { ready, role: options.role }, mask);
      }
      case '/metrics': {
        const text = await options.registry.metrics();
        return send(res, 200, text, options.registry.contentType, mask);
      }
      case '/status': {
        const summary = await cache.get();
        const { rows: _rows, ...queues } = summary;
        return sendJson(res, 200, { ...ownStatus(), queues }, mask);
      }
      case '/api/queue': {
        if (!options.inspect) throw new HttpError(501, 'queue details are not available with this backend');
        const params = url.searchParams;
        const wiki = stringParam(params, 'wiki');
        const type = stringParam(params, 'type');
        if (wiki === undefined || type === undefined) throw new HttpError(400, 'give ?wiki=…&type=…');
        const target = { wiki, type };
        const state = enumParam(params, 'state', JOB_STATES) ?? 'unclaimed';
        const limit = intParam(params, 'limit', 50, 1, MAX_DETAIL_JOBS);
        return sendJson(res, 200, await options.inspect(target, state, limit), mask);
      }
      case '/api/history':
        return sendJson(res, 200, history.columns(), mask);
      case '/api/overview':
        return sendJson(res, 200, { self: ownStatus(), peer: await peerStatus() }, mask);
      case '/api/queues': {
        const params = url.searchParams;
        const result = queryQueues(await cache.get(), {
          wiki: stringParam(params, 'wiki'),
          type: stringParam(params, 'type'),
          search: stringParam(params, 'q'),
          abandonedOnly: params.get('abandoned') === '1',
          sort: enumParam(params, 'sort', SORT_KEYS),
          dir: enumParam(params, 'dir', ['asc', 'desc'] as const),
          limit: intParam(params, 'limit', DEFAULT_QUERY_LIMIT, 0, MAX_QUERY_LIMIT),
          offset: intParam(params, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
        });
        return sendJson(res, 200, result, mask);
      }
      default:
        throw new HttpError(404, `no such page: ${path}`);
    }
  };

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        sendJson(res, error.status, { error: error.message }, mask, error.headers);
        return;
      }
      log.error('Status request failed', {
        path: req.url,
        error: error instanceof Error ? error.message : String(error),
      });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error; see the daemon log' }, mask);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.address, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  history.start();
  const bound = server.address() as AddressInfo;
  const url = `http://${urlHost(bound.address)}:${bound.port}`;
  log.info('Status server listening', { address: bound.address, port: bound.port, admin: adminEnabled });
  return {
    port: bound.port,
    address: bound.address,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        history.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
