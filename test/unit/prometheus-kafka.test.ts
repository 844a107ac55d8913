// The Prometheus translation of the Kafka backend's statsd names (src/kafka/rule-runner.ts and
// outbox.ts build them; the names below are written the same way): outcomes, lag per rule, the
// delay / total delay / exec histograms, dequeues per type with a capped label, produce counts.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseEventStat } from '../../src/status/kafka-prometheus.js';
import { OTHER_LABEL, createPrometheusMetrics } from '../../src/status/prometheus-metrics.js';

/** `<rule>-<stream with . → _>[_retry]`, as RuleRunner.statName() builds it. */
function stat(rule: string, type: string, retry = false): string {
  return `${rule}-${`mediawiki.job.${type}`.replace(/\./g, '_')}${retry ? '_retry' : ''}`;
}

/** The value of the series with exactly these labels (NaN when there is none). */
async function sample(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const match = (await metric.get()).values.find(
    (v) => JSON.stringify(Object.entries(v.labels).sort()) === wanted,
  );
  return match?.value ?? NaN;
}

describe('parseEventStat', () => {
  it('splits rule, type and attempt; rule names may contain dashes and underscores', () => {
    expect(parseEventStat(`${stat('cirrus-search_x', 'cirrusSearchLinksUpdate')}_dequeue`)).toEqual({
      rule: 'cirrus-search_x',
      type: 'cirrusSearchLinksUpdate',
      attempt: 'first',
      suffix: 'dequeue',
    });
    expect(parseEventStat(`${stat('refreshLinks', 'refreshLinks', true)}_totaldelay`)).toEqual({
      rule: 'refreshLinks',
      type: 'refreshLinks',
      attempt: 'retry',
      suffix: 'totaldelay',
    });
    expect(parseEventStat('refreshLinks_lag')).toBeUndefined();
    expect(parseEventStat('rule-other_stream_exec')).toBeUndefined();
    expect(parseEventStat('-mediawiki_job_x_exec')).toBeUndefined();
  });
});

describe('createPrometheusMetrics with Kafka names', () => {
  it('exposes outcomes, lag per rule and the delay histograms; nothing is left unmapped', async () => {
    const registry = new Registry();
    const metrics = createPrometheusMetrics(registry, { role: 'jobrunner' });
    // No Kafka family until a Kafka name is seen (a Redis runner's /metrics stays as it was).
    expect(await registry.metrics()).not.toContain('jobrunner_kafka_');

    const s = stat('basic', 'refreshLinks');
    metrics.increment([`${s}_dequeue`]);
    metrics.increment([`${s}_dequeue`]);
    metrics.increment([`${stat('basic', 'refreshLinks', true)}_dequeue`]);
    metrics.increment(['basic_outcome', 'ok'], 2);
    metrics.increment(['basic_outcome', 'retry']);
    metrics.increment(['basic_outcome', 'readonly']);
    metrics.increment(['basic_error']);
    metrics.increment(['basic_dedupe']);
    metrics.increment(['basic_dedupe_wait'], 3);
    metrics.increment(['basic_dedupe_wait_overdue']);
    metrics.increment([`${s}_abandoned`]);
    metrics.increment(['produce_jobrunner_retry_basic', 'any']);
    metrics.increment(['produce_jobrunner_partitioned_mediawiki_job_refreshLinks', '3']);
    metrics.gauge(['basic_lag'], 42);
    metrics.gauge(['low_traffic-jobs_lag'], 7);
    metrics.timing([`${s}_delay`], 1500);
    metrics.timing([`${stat('basic', 'refreshLinks', true)}_delay`], 90_000);
    metrics.timing([`${s}_totaldelay`], 4000);
    metrics.timing([`${s}_exec`], 250);

    const events = 'jobrunner_kafka_events_total';
    expect(await sample(registry, events, { rule: 'basic', outcome: 'ok' })).toBe(2);
    expect(await sample(registry, events, { rule: 'basic', outcome: 'retry' })).toBe(1);
    expect(await sample(registry, events, { rule: 'basic', outcome: 'readonly' })).toBe(1);
    expect(await sample(registry, events, { rule: 'basic', outcome: 'failed' })).toBe(1);
    expect(await sample(registry, events, { rule: 'basic', outcome: 'duplicate' })).toBe(1);
    expect(await sample(registry, events, { rule: 'basic', outcome: 'abandoned' })).toBe(1);
    expect(await sample(registry, 'jobrunner_kafka_dedup_waits_total', { rule: 'basic' })).toBe(3);
    expect(await sample(registry, 'jobrunner_kafka_dedup_wait_overdue_total', { rule: 'basic' })).toBe(1);
    const dequeued = 'jobrunner_kafka_dequeued_total';
    expect(await sample(registry, dequeued, { rule: 'basic', type: 'refreshLinks', attempt: 'first' })).toBe(
      2,
    );
    expect(await sample(registry, dequeued, { rule: 'basic', type: 'refreshLinks', attempt: 'retry' })).toBe(
      1,
    );
    expect(await sample(registry, 'jobrunner_kafka_lag', { rule: 'basic' })).toBe(42);
    expect(await sample(registry, 'jobrunner_kafka_lag', { rule: 'low_traffic-jobs' })).toBe(7);
    const produced = 'jobrunner_kafka_produced_total';
    expect(await sample(registry, produced, { stream: 'jobrunner_retry_basic' })).toBe(1);

    const text = await registry.metrics();
    // Histograms: cumulative buckets in seconds, by rule and attempt.
    expect(text).toContain('jobrunner_kafka_delay_seconds_bucket{le="1",rule="basic",attempt="first"} 0');
    expect(text).toContain('jobrunner_kafka_delay_seconds_bucket{le="5",rule="basic",attempt="first"} 1');
    expect(text).toContain('jobrunner_kafka_delay_seconds_bucket{le="60",rule="basic",attempt="retry"} 0');
    expect(text).toContain('jobrunner_kafka_delay_seconds_bucket{le="300",rule="basic",attempt="retry"} 1');
    expect(text).toContain('jobrunner_kafka_total_delay_seconds_sum{rule="basic"} 4');
    expect(text).toContain('jobrunner_kafka_exec_duration_seconds_count{rule="basic",attempt="first"} 1');
    expect(text).not.toContain('jobqueue_unmapped_metrics_total{');
  });

  it('caps data-driven labels: a flood of job types or streams ends up in "_other"', async () => {
    const registry = new Registry();
    const metrics = createPrometheusMetrics(registry, { role: 'jobrunner', maxLabelValues: 3 });
    for (let i = 0; i < 10; i++) {
      metrics.increment([`${stat('basic', `type${i}`)}_dequeue`]);
      metrics.increment([`produce_jobrunner_retry_rule${i}`, 'any']);
    }
    const dequeued = await registry.getSingleMetric('jobrunner_kafka_dequeued_total')?.get();
    const types = new Set(dequeued?.values.map((v) => v.labels.type));
    expect(types).toEqual(new Set(['type0', 'type1', 'type2', OTHER_LABEL]));
    expect(
      await sample(registry, 'jobrunner_kafka_dequeued_total', {
        rule: 'basic',
        type: OTHER_LABEL,
        attempt: 'first',
      }),
    ).toBe(7);
    const produced = await registry.getSingleMetric('jobrunner_kafka_produced_total')?.get();
    expect(produced?.values).toHaveLength(4);
  });

  it('counts unknown outcome kinds and malformed names as unmapped instead of guessing', async () => {
    const registry = new Registry();
    const metrics = createPrometheusMetrics(registry, { role: 'jobrunner' });
    metrics.increment(['basic_outcome', 'exploded']);
    metrics.timing(['basic-other_stream_delay'], 5);
    metrics.gauge(['_lag'], 1);
    const text = await registry.metrics();
    expect(text).toContain('jobqueue_unmapped_metrics_total{name="basic_outcome"} 1');
    expect(text).toContain('jobqueue_unmapped_metrics_total{name="basic-other_stream_delay"} 1');
    expect(text).toContain('jobqueue_unmapped_metrics_total{name="_lag"} 1');
    expect(text).not.toContain('jobrunner_kafka_events_total{');
  });
});
