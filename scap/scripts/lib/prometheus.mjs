// @ts-check
// Reads the counters the checks need from a Prometheus text exposition (/metrics).

/** @typedef {{ name: string; labels: Record<string, string>; value: number }} Sample */

/** @param {string} text */
function parseLabels(text) {
  /** @type {Record<string, string>} */
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/**
 * @param {string} text
 * @returns {Sample[]}
 */
export function parseMetrics(text) {
  /** @type {Sample[]} */
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (Number.isNaN(value)) continue;
    samples.push({ name: m[1] ?? '', labels: parseLabels(m[2] ?? ''), value });
  }
  return samples;
}

/**
 * Sum of the samples of `name` whose labels satisfy `match`.
 * @param {readonly Sample[]} samples
 * @param {string} name
 * @param {(labels: Record<string, string>) => boolean} [match]
 */
export function sumOf(samples, name, match = () => true) {
  let total = 0;
  for (const s of samples) if (s.name === name && match(s.labels)) total += s.value;
  return total;
}

/** Dispatch problems that mean jobs did not run: the child failed, timed out or was killed. */
const PROBLEM_STATUSES = new Set(['error', 'timeout', 'kill']);

/** Kafka-backend event outcomes that mean the job did not run (error topic, given up). */
const KAFKA_FAILED_OUTCOMES = new Set(['failed', 'abandoned']);

/**
 * The runner's job outcome counters (jobrunner_jobs_total{type,outcome} and
 * jobrunner_dispatch_problems_total{status}); a Kafka-backend runner reports
 * jobrunner_kafka_events_total{rule,outcome} instead, so both are summed.
 * @param {readonly Sample[]} samples
 */
export function jobCounters(samples) {
  return {
    ok:
      sumOf(samples, 'jobrunner_jobs_total', (l) => l.outcome === 'ok') +
      sumOf(samples, 'jobrunner_kafka_events_total', (l) => l.outcome === 'ok'),
    failed:
      sumOf(samples, 'jobrunner_jobs_total', (l) => l.outcome !== 'ok') +
      sumOf(samples, 'jobrunner_kafka_events_total', (l) => KAFKA_FAILED_OUTCOMES.has(l.outcome ?? '')),
    problems: sumOf(samples, 'jobrunner_dispatch_problems_total', (l) =>
      PROBLEM_STATUSES.has(l.status ?? ''),
    ),
  };
}

/** @typedef {ReturnType<typeof jobCounters>} JobCounters */

/**
 * Growth between two readings; a counter that went down was reset (the process restarted), so
 * its new value is the growth, as Prometheus' rate() treats it.
 * @param {number} before
 * @param {number} after
 */
export function growth(before, after) {
  return after >= before ? after - before : after;
}
