// The daemons' way into the status server: the server and Prometheus (prom-client, the registry,
// default process metrics) are loaded only when status.enabled. A daemon without them starts
// about 30 ms sooner and holds ~10 MB less (README "Scale").
import type { JobrunnerConfig } from '../config/types.js';
import type { Metrics } from '../observability/statsd.js';
import type { DaemonStatusHandle, DaemonStatusOptions } from './daemon-status.js';

type ServeOptions = Omit<DaemonStatusOptions, 'registry' | 'config' | 'role'>;

export interface ObservedDaemon {
  /** statsd, and Prometheus when served: give this to the runner / chron. */
  readonly metrics: Metrics;
  /** Starts the status server (null when status.enabled is false). */
  serve(options: ServeOptions): Promise<DaemonStatusHandle | null>;
}

export async function observeDaemon(
  config: JobrunnerConfig,
  statsd: Metrics,
  role: DaemonStatusOptions['role'],
): Promise<ObservedDaemon> {
  if (!config.status.enabled) return { metrics: statsd, serve: () => Promise.resolve(null) };
  const { daemonMetrics, startDaemonStatus } = await import('./daemon-status.js');
  const { metrics, registry } = daemonMetrics(statsd, role);
  return { metrics, serve: (options) => startDaemonStatus({ ...options, role, config, registry }) };
}
