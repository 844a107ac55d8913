// statsd metrics with the original jobrunner's names (prefix "jobrunner.") made safe: every name
// segment is limited to [A-Za-z0-9_-], so a host "rdb1001:6380", an FQDN, or a job type with
// shell or statsd metacharacters cannot break the line format or add hierarchy levels (W28).
import { createRequire } from 'node:module';
import type { StatsD as StatsDClient } from 'hot-shots';
import type { StatsdConfig } from '../config/types.js';
import type { Logger } from './logger.js';

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
  // Required here, not imported at the top: a daemon without statsd never loads it (start-up cost).
  const { StatsD } = createRequire(import.meta.url)('hot-shots') as { StatsD: typeof StatsDClient };
  // hot-shots buffers into datagrams of at most 512 bytes and flushes on a timer, so nothing piles
  // up while the daemon is idle (the original's unbounded buffer, W11).
  const client = new StatsD({
    host: config.host,
    port: config.port,
    prefix: config.prefix.endsWith('.') ? config.prefix : config.prefix + '.',
    maxBufferSize: 512,
    bufferFlushInterval: 1000,
    errorHandler: (error) => logger.debug('statsd send failed', { error: error.message }),
  });
  return {
    increment(segments, delta = 1) {
      if (delta !== 0) client.increment(metricName(...segments), delta);
    },
    timing(segments, ms) {
      client.timing(metricName(...segments), ms);
    },
    gauge(segments, value) {
      client.gauge(metricName(...segments), value);
    },
    close: () => new Promise<void>((resolve) => client.close(() => resolve())),
  };
}
