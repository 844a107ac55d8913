// The running jobrunner's own view (GET /status on status.address:status.runnerPort): for backend
// kafka it holds what only the runner knows, the events executing, waiting and held in memory.
// Optional: `jobqueue status` works from Kafka alone when the runner cannot be asked.
import type { JobrunnerConfig } from '../../config/types.js';
import type { KafkaRunnerStats } from '../../kafka/stats.js';

export type RunnerStatus =
  | {
      readonly reachable: true;
      readonly url: string;
      readonly startedAt: string;
      readonly stats: KafkaRunnerStats;
    }
  | { readonly reachable: false; readonly url: string | null; readonly reason: string };

/** http://address:runnerPort/status, or why there is none to ask. */
export function runnerStatusUrl(config: JobrunnerConfig): { url: string } | { reason: string } {
  const { enabled, address, runnerPort } = config.status;
  if (!enabled) return { reason: 'status.enabled is false' };
  if (runnerPort === 0) return { reason: 'status.runnerPort is 0 (a port chosen at start-up)' };
  const wildcard = ['0.0.0.0', '::', '[::]'].includes(address);
  const host = wildcard ? '127.0.0.1' : address;
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { url: `http://${bracketed}:${runnerPort}/status` };
}

function isKafkaStats(value: unknown): value is KafkaRunnerStats {
  if (value === null || typeof value !== 'object') return false;
  const v = value as { backend?: unknown; rules?: unknown };
  return v.backend === 'kafka' && Array.isArray(v.rules);
}

/** Asks the runner; never throws (an unreachable runner is a normal answer here). */
export async function fetchRunnerStatus(config: JobrunnerConfig, timeoutMs = 2000): Promise<RunnerStatus> {
  const target = runnerStatusUrl(config);
  if ('reason' in target) return { reachable: false, url: null, reason: target.reason };
  try {
    const response = await fetch(target.url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return { reachable: false, url: target.url, reason: `HTTP ${response.status}` };
    const body = (await response.json()) as { daemon?: unknown; startedAt?: unknown };
    if (!isKafkaStats(body.daemon)) {
      return {
        reachable: false,
        url: target.url,
        reason: 'the status server there is not a kafka jobrunner',
      };
    }
    const startedAt =
      typeof body.startedAt === 'number' ? new Date(body.startedAt).toISOString() : body.daemon.startedAt;
    return { reachable: true, url: target.url, startedAt, stats: body.daemon };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)));
    return { reachable: false, url: target.url, reason };
  }
}
