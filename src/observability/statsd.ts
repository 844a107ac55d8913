// statsd metrics with the original jobrunner's names (prefix "jobrunner.") made safe: every name
// segment is limited to [A-Za-z0-9_-], so a host "rdb1001:6380", an FQDN, or a job type with
// shell or statsd metacharacters cannot break the line format or add hierarchy levels (W28).
import type { StatsdConfig } from '../config/types.js';
import type { Logger } from './logger.js';
import { StatsdClient, type MetricHandle } from './statsd-client.js';

/** Makes one metric name segment safe: anything outside [A-Za-z0-9_-] becomes '_'. */
export function metricSegment(value: string): string {
  const safe = value.replace(/[^A-Za-z0-9_-]/g, '_');
  return safe === '' ? '_' : safe.slice(0, 200);
}

/** Joins segments into a metric name, each made safe. */
export function metricName(...segments: string[]): string {
  return segments.map(metricSegment).join('.');
}

export interface Metrics {
  /** increment("pop", type, "ok") → jobrunner.pop.<type>.ok */
  increment(segments: readonly string[], delta?: number): void;
  timing(segments: readonly string[], ms: number): void;
  gauge(segments: readonly string[], value: number): void;
  close(): Promise<void>;
}

/** A Metrics that drops everything (no statsd configured). */
export const noMetrics: Metrics = {
  increment() {},
  timing() {},
  gauge() {},
  close: () => Promise.resolve(),
};

export function createStatsd(config: StatsdConfig | undefined, logger: Logger): Metrics {
  if (!config) return noMetrics;
  // Sent once a second, aggregated (statsd-client.ts), so nothing piles up and an idle daemon
  // sends nothing (the original's unbounded buffer, W11).
  const client = new StatsdClient({
    host: config.host,
    port: config.port,
    prefix: config.prefix.endsWith('.') ? config.prefix : config.prefix + '.',
    onError: (error) => logger.debug('statsd send failed', { error: error.message }),
  });
  // Hot paths pass the same constant array for a metric every time: its name is made and its
  // handle found once. A handle lives as long as its array.
  const handles = new WeakMap<readonly string[], MetricHandle>();
  const handleOf = (segments: readonly string[]): MetricHandle => {
    let handle = handles.get(segments);
    if (handle === undefined) {
      handle = client.handle(metricName(...segments));
      handles.set(segments, handle);
    }
    return handle;
  };
  return {
    increment(segments, delta = 1) {
      if (delta !== 0) client.count(handleOf(segments), delta);
    },
    timing(segments, ms) {
      client.timing(handleOf(segments), ms);
    },
    gauge(segments, value) {
      client.gauge(handleOf(segments), value);
    },
    close: () => client.close(),
  };
}
