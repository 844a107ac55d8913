#!/usr/bin/env node
// npm run bench:runner: pickup latency, throughput, many small queues and idle Redis load of
// jobrunner + jobchron on the real MediaWiki test farm, for the command dispatcher (runJobs.php)
// and the HTTP dispatcher (rpc/RunJobs.php on php -S). Prints the machine, a table next to the
// original service's figures and the targets, and the full results as JSON.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { BenchFarm, type DispatchKind } from './common/bench-farm.js';
import { measureCeiling, type CeilingResult } from './common/ceiling.js';
import { measureIdleLoad, type IdleResult } from './common/idle-load.js';
import { busyMachineWarning, collectMachineInfo, formatMachineInfo } from './common/machine-info.js';
import { formatMs } from './common/percentiles.js';
import { measurePickup } from './common/pickup.js';
import {
  ORIGINAL,
  TARGETS,
  formatIdleDetail,
  formatPickupSplit,
  formatResultsTable,
  type BenchResults,
} from './common/runner-report.js';
import {
  measureThroughput,
  measureWarmThroughput,
  type ThroughputResult,
  type WarmThroughputResult,
} from './common/throughput.js';
import { ACTIVE_LINGER_MS } from '../runner/discovery.js';
import { runBench } from './common/run-bench.js';

const SCENARIOS = ['pickup', 'throughput', 'small', 'idle'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface BenchOptions {
  readonly samples: number;
  readonly reps: number;
  readonly idleSeconds: number;
  readonly only: ReadonlySet<Scenario>;
  readonly dispatchers: readonly DispatchKind[];
  readonly jsonFile: string | null;
  readonly policy: 'fair' | 'legacy' | null;
}

const USAGE = `Usage: npm run bench:runner [-- options]
  --quick            10 pickup samples, 1 repetition, 5 s idle windows (about 2 minutes)
  --samples=N        pickup samples per series (default 30)
  --reps=N           repetitions of each throughput run (default 3; the median is reported)
  --idle-seconds=N   length of the idle load windows (default 10)
  --only=LIST        some of: ${SCENARIOS.join(',')}
  --dispatch=LIST    some of: command,http (default both)
  --policy=NAME      runner.scheduling.policy for the throughput runs: fair or legacy (default: the
                     config default, fair)
  --json=FILE        also write the results as JSON to FILE`;

class UsageError extends Error {}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a whole number ≥ 1, not '${value}'`);
  return n;
}

function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  let samples = 30;
  let reps = 3;
  let idleSeconds = 10;
  let only = new Set<Scenario>(SCENARIOS);
  let dispatchers: DispatchKind[] = ['command', 'http'];
  let jsonFile: string | null = null;
  let policy: 'fair' | 'legacy' | null = null;
  for (const arg of argv) {
    const [name, value = ''] = arg.startsWith('--')
      ? (arg.slice(2).split(/=(.*)/s) as [string, string?])
      : [arg];
    if (name === 'help' || arg === '-h') return 'help';
    if (name === 'quick') {
      samples = 10;
      reps = 1;
      idleSeconds = 5;
    } else if (name === 'samples') samples = positiveInt(name, value);
    else if (name === 'reps') reps = positiveInt(name, value);
    else if (name === 'idle-seconds') idleSeconds = positiveInt(name, value);
    else if (name === 'json' && value !== '') jsonFile = value;
    else if (name === 'policy') {
      if (value !== 'fair' && value !== 'legacy')
        throw new UsageError(`--policy takes fair or legacy, not '${value}'`);
      policy = value;
    } else if (name === 'only') {
      const list = value.split(',').filter(Boolean);
      const bad = list.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
      if (bad.length > 0 || list.length === 0)
        throw new UsageError(`--only: unknown scenario(s) ${bad.join(', ') || '(none given)'}`);
      only = new Set(list as Scenario[]);
    } else if (name === 'dispatch') {
      const list = value.split(',').filter(Boolean);
      if (list.length === 0 || list.some((d) => d !== 'command' && d !== 'http')) {
        throw new UsageError(`--dispatch takes command and/or http, not '${value}'`);
      }
      dispatchers = list as DispatchKind[];
    } else throw new UsageError(`unknown argument '${arg}'`);
  }
  return { samples, reps, idleSeconds, only, dispatchers, jsonFile, policy };
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** A scenario's result line, with the 1-minute load average at that moment (other work skews it). */
function logResult(text: string): void {
  log(`${text} [load ${loadavg()[0]?.toFixed(2)}]`);
}

function throughputLine(r: ThroughputResult): string {
  return (
    `${r.label}: ${r.jobs} jobs, start → done ${r.startToDoneSeconds.toFixed(2)} s = ${Math.round(r.jobsPerSecond)} jobs/s; ` +
    `drain ${r.drainSeconds.toFixed(2)} s = ${Math.round(r.drainJobsPerSecond)} jobs/s; after start: runner ready ` +
    `${r.runnerReadySeconds?.toFixed(2) ?? '?'} s, first dispatch ${r.firstDispatchSeconds?.toFixed(2) ?? '?'} s, first done ` +
    `${r.firstDoneSeconds.toFixed(2)} s; ${r.totals?.dispatches ?? '?'} dispatches, runner reported ok ${r.totals?.jobsOk ?? '?'}; ` +
    `Redis CPU ${r.redisCpuSeconds.toFixed(2)} s (push took ${r.pushSeconds.toFixed(2)} s)`
  );
}

async function twoWikiScenarios(options: BenchOptions, results: BenchResults): Promise<void> {
  const needsHttp = options.dispatchers.includes('http');
  log('\nStarting redis-server and a 2-wiki farm' + (needsHttp ? ' with php -S (4 workers)' : '') + '…');
  const bench = await BenchFarm.start({ wikis: 2, webWorkers: needsHttp ? 4 : 0 });
  try {
    if (options.only.has('pickup')) {
      const idleGap = [ACTIVE_LINGER_MS + 200, ACTIVE_LINGER_MS + 700] as const;
      for (const kind of options.dispatchers) {
        const series = [
          { mode: 'idle', gapMs: idleGap, parked: 0 },
          { mode: 'parked', gapMs: idleGap, parked: 1000 },
          { mode: 'back-to-back', gapMs: [0, 100] as const, parked: 0 },
        ] as const;
        for (const s of series) {
          const result = await measurePickup(bench, {
            label: `pickup-${s.mode}-${kind}`,
            dispatcher: bench.dispatcher(kind),
            samples: options.samples,
            gapMs: s.gapMs,
            warmup: 8,
            parkedQueues: s.parked,
          });
          results.pickup.push({ kind, mode: s.mode, result });
          const l = result.latencyMs;
          logResult(
            `${result.label}: p50 ${formatMs(l.p50)}, p90 ${formatMs(l.p90)}, p99 ${formatMs(l.p99)}, max ${formatMs(l.max)} (n=${l.n})`,
          );
        }
      }
    }
    if (options.only.has('throughput')) {
      for (const kind of options.dispatchers) {
        // Runner and ceiling runs alternate, so a change in background load hits both alike.
        const runs: ThroughputResult[] = [];
        const ceiling: CeilingResult[] = [];
        const warm: WarmThroughputResult[] = [];
        for (let rep = 1; rep <= options.reps; rep++) {
          const spec = {
            label: `throughput-${kind}-${rep}${options.policy ? `-${options.policy}` : ''}`,
            dispatcher: bench.dispatcher(kind),
            queues: bench.wikis.map((wiki) => ({ wiki, type: 'null', count: 10_000 })),
            runners: 4,
            maxPerQueue: 4,
            timeoutMs: 180_000,
            ...(options.policy ? { policy: options.policy } : {}),
          };
          const run = await measureThroughput(bench, spec);
          runs.push(run);
          logResult(throughputLine(run));
          const w = await measureWarmThroughput(bench, { ...spec, label: `warm-${kind}-${rep}` });
          warm.push(w);
          logResult(
            `${w.label}: ${w.jobs} jobs pushed to running daemons (push ${w.pushSeconds.toFixed(2)} s), all done after ` +
              `${w.pushToDoneSeconds.toFixed(2)} s = ${Math.round(w.jobsPerSecond)} jobs/s; ${w.totals?.dispatches ?? '?'} dispatches, ` +
              `runner reported ok ${w.totals?.jobsOk ?? '?'}; Redis CPU ${w.redisCpuSeconds.toFixed(2)} s`,
          );
          const c = await measureCeiling(bench, kind, 10_000, 4);
          ceiling.push(c);
          logResult(
            `ceiling-${kind}-${rep}: MediaWiki alone, ${c.lanes} lanes, ${c.jobs} jobs in ${c.seconds.toFixed(2)} s = ` +
              `${Math.round(c.jobsPerSecond)} jobs/s (${c.calls} calls)`,
          );
        }
        results.throughput.push({ kind, runs });
        results.ceiling.push({ kind, runs: ceiling });
        results.warm.push({ kind, runs: warm });
      }
    }
    if (options.only.has('idle')) {
      for (const parked of [0, 1000]) {
        const result: IdleResult = await measureIdleLoad(bench, {
          label: parked ? 'idle-parked-1000' : 'idle',
          dispatcher: bench.dispatcher('command'),
          seconds: options.idleSeconds,
          parkedQueues: parked,
        });
        results.idle.push(result);
        logResult(
          `${result.label}: ${result.commandsPerSecond.toFixed(1)} commands/s (client-sent ${result.clientCommandsPerSecond.toFixed(1)}/s)`,
        );
      }
    }
  } finally {
    const left = await bench.close();
    if (left.length > 0)
      log(`warning: killed processes left running by the 2-wiki scenarios: ${left.join(', ')}`);
  }
}

async function smallQueueScenario(options: BenchOptions, results: BenchResults): Promise<void> {
  const types = Array.from({ length: 10 }, (_, i) => `benchSmall${i}`);
  const needsHttp = options.dispatchers.includes('http');
  log('\nStarting a 20-wiki farm (its first build runs install.php 20 times and is cached in the temp dir)…');
  const started = Date.now();
  const bench = await BenchFarm.start({
    wikis: 20,
    webWorkers: needsHttp ? 4 : 0,
    extraTypes: Object.fromEntries(types.map((t) => [t, 'null'])),
  });
  log(`20-wiki farm ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    const queues = bench.wikis.flatMap((wiki) => types.map((type) => ({ wiki, type, count: 20 })));
    for (const kind of options.dispatchers) {
      const runs: ThroughputResult[] = [];
      for (let rep = 1; rep <= options.reps; rep++) {
        const run = await measureThroughput(bench, {
          label: `small-queues-${kind}-${rep}`,
          dispatcher: bench.dispatcher(kind),
          queues,
          runners: 4,
          maxPerQueue: 2,
          timeoutMs: 300_000,
        });
        runs.push(run);
        logResult(throughputLine(run));
      }
      results.small.push({ kind, runs });
    }
  } finally {
    const left = await bench.close();
    if (left.length > 0)
      log(`warning: killed processes left running by the 20-wiki scenario: ${left.join(', ')}`);
  }
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench:runner: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const machine = collectMachineInfo();
  const command = `npm run bench:runner${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  log(`jobrunner benchmark: ${command}\n${formatMachineInfo(machine)}`);
  const busy = busyMachineWarning(machine);
  if (busy) log(busy);
  log(
    "Jobs for the runs are pushed straight into Redis in MediaWiki's format (RedisQueueStore, the same Lua " +
      'steps as JobQueueRedis), much faster than PHP; they are then run by real MediaWiki.',
  );
  const results: BenchResults = {
    pickup: [],
    throughput: [],
    warm: [],
    ceiling: [],
    small: [],
    idle: [],
  };
  const started = Date.now();
  if (['pickup', 'throughput', 'idle'].some((s) => options.only.has(s as Scenario)))
    await twoWikiScenarios(options, results);
  if (options.only.has('small')) await smallQueueScenario(options, results);

  const after = collectMachineInfo();
  log(
    `\nResults (${((Date.now() - started) / 1000).toFixed(0)} s of benchmarking; load average now ${after.loadAverage.join(' ')})\n`,
  );
  log(formatResultsTable(results));
  if (results.pickup.length > 0)
    log(`\nPickup split (from the runner's own "dispatch start" log line):\n${formatPickupSplit(results)}`);
  if (results.idle.length > 0) log(`\nIdle Redis commands:\n${formatIdleDetail(results)}`);
  const json = {
    command,
    machine,
    options: { ...options, only: [...options.only] },
    original: ORIGINAL,
    targets: TARGETS,
    results,
  };
  log(`\nJSON:\n${JSON.stringify(json)}`);
  if (options.jsonFile) writeFileSync(options.jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

runBench('bench:runner', () => main(process.argv.slice(2)));
