// bench:runner's report: each figure next to the original service's measurement and our target.
import { formatMs, medianBy } from './percentiles.js';
import type { CeilingResult } from './ceiling.js';
import type { IdleResult } from './idle-load.js';
import type { PickupResult } from './pickup.js';
import { formatTable } from './table.js';
import type { ThroughputResult, WarmThroughputResult } from './throughput.js';
import type { DispatchKind } from './bench-farm.js';

/** The original jobrunner on the same kind of farm (original-jobrunner.md, "Measured on a real farm"). */
export const ORIGINAL = {
  pickupIdleP50Ms: 1530,
  pickupIdleP90Ms: 1840,
  pickupParkedP50Ms: 8560,
  pickupParkedP90Ms: 10340,
  startToDoneJobsPerSecond: 3194,
  startToDoneSeconds: 6.26,
  drainJobsPerSecond: 3982,
  drainSeconds: 5.02,
  redisCpuSeconds20k: 1.46,
  idleCommandsPerSecond: 6.99,
} as const;

export const TARGETS = {
  pickupP50Ms: { command: 150, http: 30 } as Record<DispatchKind, number>,
  jobsPerSecond: 4800,
  idleCommandsPerSecondPerPartition: 20,
} as const;

export interface BenchResults {
  readonly pickup: { kind: DispatchKind; mode: 'idle' | 'parked' | 'back-to-back'; result: PickupResult }[];
  readonly throughput: { kind: DispatchKind; runs: ThroughputResult[] }[];
  /** The same batch pushed to daemons that are already running. */
  readonly warm: { kind: DispatchKind; runs: WarmThroughputResult[] }[];
  /** The same jobs run by MediaWiki without the runner (the executor's ceiling). */
  readonly ceiling: { kind: DispatchKind; runs: CeilingResult[] }[];
  readonly small: { kind: DispatchKind; runs: ThroughputResult[] }[];
  readonly idle: IdleResult[];
}

/** The run with the median start→done rate (the lower middle one for an even count). */
export function medianRun(runs: readonly ThroughputResult[]): ThroughputResult {
  return medianBy(runs, (run) => run.jobsPerSecond);
}

function rate(n: number): string {
  return `${Math.round(n).toLocaleString('en-US')} jobs/s`;
}

function range(runs: readonly ThroughputResult[], pick: (r: ThroughputResult) => number): string {
  if (runs.length < 2) return '';
  const values = runs.map(pick);
  return ` (${Math.round(Math.min(...values)).toLocaleString('en-US')}–${Math.round(Math.max(...values)).toLocaleString('en-US')})`;
}

function met(ok: boolean): string {
  return ok ? 'yes' : 'NO';
}

export function buildRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const { kind, mode, result } of r.pickup) {
    const l = result.latencyMs;
    const what =
      mode === 'idle'
        ? `pickup p50 / p99, idle farm (n=${l.n})`
        : mode === 'parked'
          ? `pickup p50 / p99, 1,000 other queues hold jobs (n=${l.n})`
          : `pickup p50 / p99, back-to-back, runner still in busy poll (n=${l.n})`;
    const original =
      mode === 'idle'
        ? `${formatMs(ORIGINAL.pickupIdleP50Ms)} / p90 ${formatMs(ORIGINAL.pickupIdleP90Ms)}`
        : mode === 'parked'
          ? `${formatMs(ORIGINAL.pickupParkedP50Ms)} / p90 ${formatMs(ORIGINAL.pickupParkedP90Ms)}`
          : '-';
    const target = mode === 'back-to-back' ? '-' : `p50 ≤ ${TARGETS.pickupP50Ms[kind]} ms`;
    const ok = mode === 'back-to-back' ? '-' : met(l.p50 <= TARGETS.pickupP50Ms[kind]);
    rows.push([what, kind, `${formatMs(l.p50)} / ${formatMs(l.p99)}`, original, target, ok]);
  }
  for (const { kind, runs } of r.throughput) {
    const m = medianRun(runs);
    rows.push([
      `20,000 null jobs, 2 wikis, 4 slots: start → all done (median of ${runs.length})`,
      kind,
      `${rate(m.jobsPerSecond)} (${m.startToDoneSeconds.toFixed(2)} s)${range(runs, (x) => x.jobsPerSecond)}`,
      `${rate(ORIGINAL.startToDoneJobsPerSecond)} (${ORIGINAL.startToDoneSeconds} s)`,
      `≥ ${rate(TARGETS.jobsPerSecond)} (one dispatcher suffices)`,
      met(m.jobsPerSecond >= TARGETS.jobsPerSecond),
    ]);
    rows.push([
      '  drain only (first job done → last)',
      kind,
      `${rate(m.drainJobsPerSecond)} (${m.drainSeconds.toFixed(2)} s)`,
      `${rate(ORIGINAL.drainJobsPerSecond)} (${ORIGINAL.drainSeconds} s)`,
      '-',
      '-',
    ]);
    const warm = r.warm.find((w) => w.kind === kind);
    if (warm && warm.runs.length > 0) {
      const sorted = [...warm.runs].sort((a, b) => a.jobsPerSecond - b.jobsPerSecond);
      const w = sorted[Math.floor((sorted.length - 1) / 2)] as WarmThroughputResult;
      const values = warm.runs.map((x) => Math.round(x.jobsPerSecond).toLocaleString('en-US'));
      rows.push([
        `  pushed to daemons already running: first push → all done (median of ${warm.runs.length})`,
        kind,
        `${rate(w.jobsPerSecond)} (${w.pushToDoneSeconds.toFixed(2)} s)${warm.runs.length > 1 ? ` (${values.sort().join(', ')})` : ''}`,
        '-',
        `≥ ${rate(TARGETS.jobsPerSecond)} (one dispatcher suffices)`,
        met(w.jobsPerSecond >= TARGETS.jobsPerSecond),
      ]);
    }
    const ceiling = r.ceiling.find((c) => c.kind === kind);
    if (ceiling && ceiling.runs.length > 0) {
      const sorted = [...ceiling.runs].sort((a, b) => a.jobsPerSecond - b.jobsPerSecond);
      const c = sorted[Math.floor((sorted.length - 1) / 2)] as CeilingResult;
      rows.push([
        `  same jobs, MediaWiki alone: ${c.lanes} lanes started by hand, no runner (ceiling)`,
        kind,
        `${rate(c.jobsPerSecond)} (${c.seconds.toFixed(2)} s, ${c.calls} calls)`,
        '-',
        '-',
        '-',
      ]);
    }
    rows.push([
      '  daemon start → runner ready / first dispatch / first job done; Redis CPU per run',
      kind,
      `${m.runnerReadySeconds?.toFixed(2) ?? '?'} / ${m.firstDispatchSeconds?.toFixed(2) ?? '?'} / ${m.firstDoneSeconds.toFixed(2)} s; ${m.redisCpuSeconds.toFixed(2)} s`,
      `1.24 s (to first claim); ${ORIGINAL.redisCpuSeconds20k} s`,
      '-',
      '-',
    ]);
  }
  for (const { kind, runs } of r.small) {
    const m = medianRun(runs);
    rows.push([
      `many small queues, ${m.jobs.toLocaleString('en-US')} jobs (20 wikis × 10 types × 20): start → all done`,
      kind,
      `${rate(m.jobsPerSecond)} (${m.startToDoneSeconds.toFixed(2)} s, ${m.totals?.dispatches ?? '?'} dispatches)${range(runs, (x) => x.jobsPerSecond)}`,
      '-',
      '-',
      '-',
    ]);
  }
  for (const idle of r.idle) {
    const parked = idle.label.includes('parked');
    rows.push([
      parked
        ? 'Redis commands/s, runner + chron, 1,000 queues hold jobs the runner does not run'
        : 'Redis commands/s, runner + chron idle (no work)',
      '-',
      `${idle.commandsPerSecond.toFixed(1)} (client-sent ${idle.clientCommandsPerSecond.toFixed(1)}; Redis CPU ${idle.redisCpuPercent.toFixed(1)} %)`,
      parked ? '-' : String(ORIGINAL.idleCommandsPerSecond),
      parked ? '-' : `≤ ${TARGETS.idleCommandsPerSecondPerPartition} per partition`,
      parked ? '-' : met(idle.commandsPerSecond <= TARGETS.idleCommandsPerSecondPerPartition),
    ]);
  }
  return rows;
}

export const HEADERS = ['measure', 'dispatcher', 'ours', 'original', 'target', 'met'];

export function formatResultsTable(r: BenchResults): string {
  return formatTable(HEADERS, buildRows(r));
}

/** Where pickup time goes: notice (stored → dispatch start) and run (dispatch start → done). */
export function formatPickupSplit(r: BenchResults): string {
  return r.pickup
    .map(({ kind, mode, result }) => {
      const n = result.noticeMs;
      const x = result.runMs;
      return `  ${kind} ${mode}: notice p50 ${formatMs(n?.p50)} (max ${formatMs(n?.max)}), run p50 ${formatMs(x?.p50)} (max ${formatMs(x?.max)})`;
    })
    .join('\n');
}

export function formatIdleDetail(r: BenchResults): string {
  return r.idle
    .map((i) => {
      const all = Object.entries(i.byCommand)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const client = Object.entries(i.clientByCommand)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return `  ${i.label}: per second ${all || 'none'}; client-sent: ${client || 'none'}`;
    })
    .join('\n');
}
