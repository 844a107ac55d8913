// Queue depth as Prometheus gauges, computed on the server from the cached farm summary. Label
// cardinality is bounded: the `topQueues` deepest queues get their own wiki/type labels, every
// other queue is summed into wiki="_other", type="_other", so a 10,000-queue farm exports a few
// hundred series, not tens of thousands.
import { Gauge, type Registry } from 'prom-client';
import { OTHER_LABEL } from './prometheus-metrics.js';
import type { FarmSummary, QueueRow } from './farm-summary.js';
import type { SnapshotCache } from './snapshot-cache.js';

export const DEFAULT_TOP_QUEUES = 50;
const STATES = ['unclaimed', 'claimed', 'abandoned', 'delayed'] as const;

export interface QueueMetricsOptions {
  readonly topQueues?: number;
}

/** Rows for the gauges: the deepest `top` as they are, the rest merged into one "_other" row. */
export function boundedRows(rows: readonly QueueRow[], top: number): QueueRow[] {
  if (rows.length <= top) return [...rows];
  const byDepth = [...rows].sort(
    (a, b) => b.total - a.total || (b.oldestAgeSeconds ?? -1) - (a.oldestAgeSeconds ?? -1),
  );
  const kept = byDepth.slice(0, top);
  const rest = byDepth.slice(top);
  const other: QueueRow = {
    wiki: OTHER_LABEL,
    domain: OTHER_LABEL,
    type: OTHER_LABEL,
    unclaimed: 0,
    claimed: 0,
    abandoned: 0,
    delayed: 0,
    total: 0,
    oldestAgeSeconds: null,
    partitions: [],
  };
  const merged = rest.reduce<QueueRow>(
    (sum, row) => ({
      ...sum,
      unclaimed: sum.unclaimed + row.unclaimed,
      claimed: sum.claimed + row.claimed,
      abandoned: sum.abandoned + row.abandoned,
      delayed: sum.delayed + row.delayed,
      total: sum.total + row.total,
      oldestAgeSeconds:
        row.oldestAgeSeconds === null
          ? sum.oldestAgeSeconds
          : Math.max(sum.oldestAgeSeconds ?? 0, row.oldestAgeSeconds),
    }),
    other,
  );
  return [...kept, merged];
}

const EMPTY: FarmSummary = {
  generatedAt: 0,
  rows: [],
  totals: { queues: 0, unclaimed: 0, claimed: 0, abandoned: 0, delayed: 0, total: 0, oldestAgeSeconds: null },
  emptyQueues: 0,
  partitions: [],
  errors: [],
};

/** A failed listing must not fail the whole scrape: the daemon's own metrics still matter. */
function latest(cache: SnapshotCache): Promise<FarmSummary> {
  return cache.get().catch(() => EMPTY);
}

/** Registers the queue gauges; each scrape reads the (cached) summary. */
export function registerQueueMetrics(
  registry: Registry,
  cache: SnapshotCache,
  options: QueueMetricsOptions = {},
): void {
  const top = Math.max(0, options.topQueues ?? DEFAULT_TOP_QUEUES);
  const registers = [registry];
  new Gauge({
    name: 'jobqueue_jobs',
    help: `Jobs by state per (wiki, type) queue; the ${top} deepest queues are labelled, the rest summed into wiki/type "_other".`,
    labelNames: ['state', 'wiki', 'type'],
    registers,
    async collect() {
      const summary = await latest(cache);
      this.reset();
      for (const row of boundedRows(summary.rows, top)) {
        for (const state of STATES) this.set({ state, wiki: row.wiki, type: row.type }, row[state]);
      }
    },
  });
  new Gauge({
    name: 'jobqueue_oldest_job_age_seconds',
    help: 'Age of the oldest unclaimed job per queue (same labelling as jobqueue_jobs).',
    labelNames: ['wiki', 'type'],
    registers,
    async collect() {
      const summary = await latest(cache);
      this.reset();
      for (const row of boundedRows(summary.rows, top)) {
        if (row.oldestAgeSeconds !== null) this.set({ wiki: row.wiki, type: row.type }, row.oldestAgeSeconds);
      }
    },
  });
  new Gauge({
    name: 'jobqueue_farm_jobs',
    help: 'Jobs by state over the whole farm.',
    labelNames: ['state'],
    registers,
    async collect() {
      const summary = await latest(cache);
      this.reset();
      for (const state of STATES) this.set({ state }, summary.totals[state]);
    },
  });
  new Gauge({
    name: 'jobqueue_queues',
    help: 'Non-empty (wiki, type) queues in the farm.',
    registers,
    async collect() {
      this.set((await latest(cache)).totals.queues);
    },
  });
  new Gauge({
    name: 'jobqueue_paused_queues',
    help: 'Queues an operator paused (runners start no dispatch for them); 0 where the backend has no pauses.',
    registers,
    async collect() {
      this.set((await latest(cache)).paused?.length ?? 0);
    },
  });
  new Gauge({
    name: 'jobqueue_partition_up',
    help: 'Whether the last queue listing could read the partition (1) or not (0).',
    labelNames: ['partition'],
    registers,
    async collect() {
      const summary = await latest(cache);
      this.reset();
      for (const p of summary.partitions) this.set({ partition: p.name }, p.ok ? 1 : 0);
    },
  });
}
