// The demo's verdict: per job type what MediaWiki stored, what the runner reported ok / failed and
// what the chron abandoned, checked against what the demo pushed; plus throughput, pickup latency
// and how the daemons ended. Printed for people, and as one DEMO-RESULT JSON line for the test.
import { formatMs, round, summarize, type LatencySummary } from '../bench/common/percentiles.js';
import { formatTable } from '../bench/common/table.js';
import type { DaemonExit } from '../bench/common/daemon-process.js';
import type { QueueTally } from '../bench/common/job-events.js';
import type { StateTotals } from '../bench/common/queue-totals.js';
import type { DaemonLogTally } from './daemon-logs.js';
import type { DemoOptions } from './options.js';
import { FAILING_TYPE, PROBE_TYPE, type PushRecord } from './workload.js';

export interface TypeRow {
  readonly type: string;
  /** Jobs MediaWiki stored in Redis (after its de-duplication). */
  readonly stored: number;
  /** Jobs acknowledged (removed from Redis) by MediaWiki after running them. */
  readonly done: number;
  readonly ok: number;
  readonly failed: number;
  readonly abandoned: number;
}

export interface RunFacts {
  readonly options: DemoOptions;
  readonly dispatcher: string;
  readonly attemptsOfFailing: number;
  readonly pushes: readonly PushRecord[];
  readonly tallies: ReadonlyMap<string, QueueTally>;
  /** Jobs stored in the queue that got the de-duplicated batch, the delayed and the null jobs. */
  readonly dedupeQueueStored: number;
  readonly finalStates: ReadonlyMap<string, StateTotals>;
  readonly logs: DaemonLogTally;
  readonly latenciesMs: readonly number[];
  readonly firstStoredAt: number | null;
  readonly lastDoneAt: number | null;
  /** Most jobs acknowledged within one second. */
  readonly peakPerSecond: number;
  readonly runnerExit: DaemonExit | null;
  readonly chronExit: DaemonExit | null;
  readonly daemonErrors: readonly string[];
  readonly wallSeconds: number;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly problems: string[];
  readonly dispatcher: string;
  readonly types: TypeRow[];
  readonly totals: { stored: number; done: number; ok: number; failed: number; abandoned: number };
  readonly dedupe: { pushed: number; stored: number };
  readonly delayed: { pushed: number; undelayedByChron: number };
  readonly retries: { recycled: number; abandoned: number };
  readonly throughput: { jobs: number; seconds: number; perSecond: number; peakPerSecond: number };
  readonly pickupMs: LatencySummary | null;
  readonly dispatches: number;
  readonly runnerExit: DaemonExit | null;
  readonly chronExit: DaemonExit | null;
  readonly leftRunning: number[];
  readonly cleanupProblems: string[];
  readonly wallSeconds: number;
}

function requested(pushes: readonly PushRecord[], match: (p: PushRecord) => boolean): number {
  return pushes.filter(match).reduce((sum, p) => sum + p.requested, 0);
}

export function buildResult(facts: RunFacts, leftRunning: number[], cleanupProblems: string[]): DemoResult {
  const { sizes } = facts.options;
  const problems: string[] = [];
  const types = new Set([
    ...facts.tallies.keys(),
    ...facts.logs.okByType.keys(),
    ...facts.logs.failedByType.keys(),
  ]);
  const rows: TypeRow[] = [...types].sort().map((type) => ({
    type,
    stored: facts.tallies.get(type)?.stored ?? 0,
    done: facts.tallies.get(type)?.removed ?? 0,
    ok: facts.logs.okByType.get(type) ?? 0,
    failed: facts.logs.failedByType.get(type) ?? 0,
    abandoned: facts.finalStates.get(type)?.abandoned ?? 0,
  }));

  for (const row of rows) {
    if (row.type === FAILING_TYPE) {
      const wanted = requested(facts.pushes, (p) => p.type === FAILING_TYPE);
      if (row.stored !== wanted) problems.push(`${FAILING_TYPE}: ${wanted} pushed but ${row.stored} stored`);
      if (row.abandoned !== wanted) problems.push(`${FAILING_TYPE}: ${row.abandoned} of ${wanted} abandoned`);
      if (row.ok !== 0) problems.push(`${FAILING_TYPE}: ${row.ok} reported ok; the type always fails`);
      const attempts = wanted * facts.attemptsOfFailing;
      if (row.failed !== attempts) {
        problems.push(
          `${FAILING_TYPE}: ${row.failed} failed runs reported, expected ${attempts} (${facts.attemptsOfFailing} per job)`,
        );
      }
      continue;
    }
    if (row.ok !== row.stored) problems.push(`${row.type}: ${row.stored} stored but ${row.ok} reported ok`);
    if (row.done !== row.stored)
      problems.push(`${row.type}: ${row.stored} stored but ${row.done} acknowledged`);
    if (row.failed !== 0) problems.push(`${row.type}: ${row.failed} failed runs`);
    if (row.abandoned !== 0) problems.push(`${row.type}: ${row.abandoned} abandoned`);
  }

  const nullStored = facts.tallies.get('null')?.stored ?? 0;
  const nullWanted = 2 * sizes.nullJobs + sizes.delayedJobs + 1;
  if (nullStored !== nullWanted) {
    problems.push(
      `null: ${nullStored} stored, expected ${nullWanted} (${sizes.dedupePushes} identical pushes count once)`,
    );
  }
  const dedupeStored = facts.dedupeQueueStored - sizes.delayedJobs - sizes.nullJobs;
  if (dedupeStored !== 1)
    problems.push(`de-duplication: ${sizes.dedupePushes} identical jobs gave ${dedupeStored} stored, not 1`);
  const probesStored = facts.tallies.get(PROBE_TYPE)?.stored ?? 0;
  if (probesStored !== sizes.probes)
    problems.push(`${PROBE_TYPE}: ${probesStored} of ${sizes.probes} probe jobs stored`);
  if (facts.latenciesMs.length !== sizes.probes) {
    problems.push(`pickup probes: ${facts.latenciesMs.length} of ${sizes.probes} measured`);
  }

  const sum = (key: keyof Omit<TypeRow, 'type'>) => rows.reduce((s, r) => s + r[key], 0);
  const totals = {
    stored: sum('stored'),
    done: sum('done'),
    ok: sum('ok'),
    failed: sum('failed'),
    abandoned: sum('abandoned'),
  };
  const final = facts.logs.finalTotals;
  if (!final) problems.push('jobrunner did not log its final totals ("Job runner stopped")');
  else if (final.jobsOk !== totals.ok || final.jobsFailed !== totals.failed) {
    problems.push(
      `jobrunner totals (ok ${final.jobsOk}, failed ${final.jobsFailed}) differ from its dispatch lines (ok ${totals.ok}, failed ${totals.failed})`,
    );
  }
  for (const line of facts.daemonErrors) problems.push(`daemon error: ${line}`);
  for (const [name, exit] of [
    ['jobrunner', facts.runnerExit],
    ['jobchron', facts.chronExit],
  ] as const) {
    if (!exit) problems.push(`${name} was not stopped`);
    else if (exit.killed || exit.signal !== null || exit.code !== 0) {
      problems.push(
        `${name} did not exit cleanly: code ${exit.code}, signal ${exit.signal}${exit.killed ? ', needed SIGKILL' : ''}`,
      );
    }
  }
  if (leftRunning.length > 0) problems.push(`processes left running (killed): ${leftRunning.join(', ')}`);
  problems.push(...cleanupProblems.map((p) => `clean-up: ${p}`));

  const seconds =
    facts.firstStoredAt !== null && facts.lastDoneAt !== null
      ? (facts.lastDoneAt - facts.firstStoredAt) / 1000
      : 0;
  return {
    ok: problems.length === 0,
    problems,
    dispatcher: facts.dispatcher,
    types: rows,
    totals,
    dedupe: { pushed: sizes.dedupePushes, stored: dedupeStored },
    delayed: { pushed: sizes.delayedJobs, undelayedByChron: facts.logs.chron.undelayed },
    retries: { recycled: facts.logs.chron.recycled, abandoned: facts.logs.chron.abandoned },
    throughput: {
      jobs: totals.done,
      seconds: round(seconds, 2),
      perSecond: seconds > 0 ? round(totals.done / seconds, 0) : 0,
      peakPerSecond: facts.peakPerSecond,
    },
    pickupMs: summarize(facts.latenciesMs),
    dispatches: final?.dispatches ?? facts.logs.dispatches,
    runnerExit: facts.runnerExit,
    chronExit: facts.chronExit,
    leftRunning,
    cleanupProblems,
    wallSeconds: round(facts.wallSeconds, 1),
  };
}

function exitText(exit: DaemonExit | null): string {
  if (!exit) return 'not stopped';
  if (exit.killed) return 'killed after the grace period';
  return exit.signal ? `ended by ${exit.signal}` : `exit ${exit.code}`;
}

export function formatSummary(r: DemoResult): string {
  const table = formatTable(
    ['job type', 'stored', 'done', 'ok', 'failed runs', 'abandoned'],
    [
      ...r.types.map((t) => [t.type, t.stored, t.done, t.ok, t.failed, t.abandoned].map(String)),
      ['total', r.totals.stored, r.totals.done, r.totals.ok, r.totals.failed, r.totals.abandoned].map(String),
    ],
  );
  const p = r.pickupMs;
  const pickup = p
    ? `p50 ${formatMs(p.p50)}, p99 ${formatMs(p.p99)} (n=${p.n}; with n < 100, p99 is the slowest sample)`
    : 'no samples';
  return [
    '',
    `Summary (${r.dispatcher} dispatcher, ${r.wallSeconds} s in all)`,
    table.replace(/^/gm, '  '),
    `  ok ${r.totals.ok} · failed runs ${r.totals.failed} · abandoned ${r.totals.abandoned}`,
    `  de-duplication: ${r.dedupe.pushed} identical jobs pushed in one batch, MediaWiki stored ${r.dedupe.stored}`,
    `  delayed: ${r.delayed.pushed} jobs held back, released by jobchron (undelayed ${r.delayed.undelayedByChron})`,
    `  retries: jobchron recycled ${r.retries.recycled} stale claims and abandoned ${r.retries.abandoned} jobs`,
    `  throughput: ${r.throughput.jobs} jobs in ${r.throughput.seconds} s = ${r.throughput.perSecond} jobs/s from first job stored to last job done ` +
      `(includes waiting for delayed and retried jobs); best second ${r.throughput.peakPerSecond} jobs/s`,
    `  pickup latency (single jobs pushed during the run, stored → done): ${pickup}`,
    `  daemons: jobrunner ${exitText(r.runnerExit)} after ${r.dispatches} dispatches, jobchron ${exitText(r.chronExit)}`,
    `  left running: ${r.leftRunning.length === 0 ? 'nothing' : r.leftRunning.join(', ')}; temp dirs removed${r.cleanupProblems.length ? ' (with problems)' : ''}`,
    r.ok
      ? 'RESULT: OK, every job ran (the failing type was retried, then abandoned)'
      : `RESULT: FAILED\n${r.problems.map((x) => `  - ${x}`).join('\n')}`,
  ].join('\n');
}
