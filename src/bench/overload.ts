#!/usr/bin/env node
// npm run bench:overload: the scheduling policy under overload on the real MediaWiki farm (issue
// 14). A farm of many wikis gets Zipf-like pushes (one wiki half of the jobs, a long tail) of
// sleeping test jobs, above what 4 slots can run, for a few minutes; the same seeded pushes run
// once per policy (runner.scheduling.policy "fair" and "legacy") in the same run. Reported per
// policy: slot-time share of each wiki against its fair share, Jain's index over the wikis with a
// backlog (whole run and 60 s windows), wait of a ready queue (no child on it) until a dispatch,
// pickup of small wikis' jobs (stored → claimed), and jobs claimed per second.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BenchFarm, type DispatchKind } from './common/bench-farm.js';
import { DaemonPair } from './common/daemon-pair.js';
import { FPM_BACKLOG, apacheThreads } from '../farm/fpm-web-config.js';
import { busyMachineWarning, collectMachineInfo, formatMachineInfo } from './common/machine-info.js';
import { OverloadRecorder } from './common/overload-events.js';
import { BACKLOG_READY, computeOverload, type OverloadFigures } from './common/overload-metrics.js';
import {
  SLEEP_TYPE,
  planPushes,
  pushBacklogs,
  pushOnSchedule,
  zipfShares,
} from './common/overload-workload.js';
import { formatMs, summarize, type LatencySummary } from './common/percentiles.js';
import { writeRunnerConfig } from './common/runner-config.js';
import { formatTable } from './common/table.js';
import { runBench } from './common/run-bench.js';

const POLICIES = ['fair', 'legacy'] as const;
/** runner.scheduling.burstSlots + quietBurstSlots defaults: children may exceed the slots by this many. */
const BURST_SLOTS = 4;
/** Spare web workers beyond the most children a runner starts (health checks, a reload's overlap). */
const WORKER_MARGIN = 4;
type Policy = (typeof POLICIES)[number];

interface Options {
  readonly wikis: number;
  readonly slots: number;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly seed: number;
  readonly backlogWikis: number;
  readonly backlog: number;
  /** php-fpm children or php -S workers (default: sized like a production pool for the runner's children). */
  readonly webWorkers: number;
  /** 'fpm': Apache httpd + php-fpm, as production; 'workers': one php -S with PHP_CLI_SERVER_WORKERS. */
  readonly webServer: 'fpm' | 'workers';
  readonly dispatchers: readonly DispatchKind[];
  readonly policies: readonly Policy[];
  readonly jsonFile: string | null;
  /** Also write each run's events (stored, claimed, dispatch lines) to FILE.<run>.json. */
  readonly traceFile: string | null;
}

const USAGE = `Usage: npm run bench:overload [-- options]
  --wikis=N          wikis in the farm (default 60, at least 50 for the issue's figures)
  --slots=N          runner slots (default 4)
  --rate=N           jobs pushed per second (default 20; 4 slots run about 12 of these jobs/s)
  --seconds=N        how long jobs are pushed (default 150); figures count from --warmup on
  --warmup=N         seconds left out at the start (default 20)
  --seed=N           seed of the push pattern (default 14)
  --backlog=N        jobs already waiting on each of the top --backlog-wikis wikis at the start
                     (default 2000: a few huge wikis carry permanent backlogs)
  --backlog-wikis=N  (default 3)
  --web-workers=N    web server workers for the HTTP dispatcher (default: slots + ${BURST_SLOTS} burst and
                     quiet burst slots + ${WORKER_MARGIN}, like a production php-fpm pool that never
                     makes a dispatch queue)
  --web-server=KIND  fpm (default): Apache httpd (mpm_event, mod_proxy_fcgi) in front of a static
                     php-fpm pool of that many children, as MediaWiki runs in production
                     (src/farm/fpm-web-server.ts); workers: one php -S with PHP_CLI_SERVER_WORKERS,
                     whose busy workers may hold a new request back
  --dispatch=LIST    some of: command,http (default command)
  --policies=LIST    some of: fair,legacy (default both)
  --json=FILE        also write the results as JSON to FILE
  --trace=FILE       also write each run's events (jobs stored and claimed, the runner's dispatch
                     lines) to FILE.<dispatch>-<policy>.json, to see why a job waited`;

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options | 'help' {
  const o = {
    wikis: 60,
    slots: 4,
    rate: 20,
    seconds: 150,
    warmupSeconds: 20,
    seed: 14,
    backlog: 2000,
    backlogWikis: 3,
    webWorkers: null as number | null,
    webServer: 'fpm' as 'fpm' | 'workers',
    dispatchers: ['command'] as DispatchKind[],
    policies: [...POLICIES] as Policy[],
    jsonFile: null as string | null,
    traceFile: null as string | null,
  };
  const num = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${name} must be a whole number ≥ ${min}, not '${value}'`);
    return n;
  };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return 'help';
    const match = /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (!match) throw new UsageError(`unknown argument '${arg}'`);
    const [, name, value = ''] = match;
    if (name === 'wikis') o.wikis = num(name, value, 2);
    else if (name === 'slots') o.slots = num(name, value, 1);
    else if (name === 'rate') o.rate = num(name, value, 1);
    else if (name === 'seconds') o.seconds = num(name, value, 10);
    else if (name === 'warmup') o.warmupSeconds = num(name, value, 0);
    else if (name === 'seed') o.seed = num(name, value, 0);
    else if (name === 'backlog') o.backlog = num(name, value, 0);
    else if (name === 'backlog-wikis') o.backlogWikis = num(name, value, 0);
    else if (name === 'web-workers') o.webWorkers = num(name, value, 1);
    else if (name === 'web-server') {
      if (value !== 'fpm' && value !== 'workers')
        throw new UsageError(`--web-server takes fpm or workers, not '${value}'`);
      o.webServer = value;
    } else if (name === 'json' && value !== '') o.jsonFile = value;
    else if (name === 'trace' && value !== '') o.traceFile = value;
    else if (name === 'dispatch') {
      const list = value.split(',').filter(Boolean);
      if (list.length === 0 || list.some((d) => d !== 'command' && d !== 'http'))
        throw new UsageError(`--dispatch takes command and/or http, not '${value}'`);
      o.dispatchers = list as DispatchKind[];
    } else if (name === 'policies') {
      const list = value.split(',').filter(Boolean);
      if (list.length === 0 || list.some((p) => !(POLICIES as readonly string[]).includes(p)))
        throw new UsageError(`--policies takes fair and/or legacy, not '${value}'`);
      o.policies = list as Policy[];
    } else throw new UsageError(`unknown argument '${arg}'`);
  }
  if (o.warmupSeconds >= o.seconds) throw new UsageError('--warmup must be shorter than --seconds');
  // A server with fewer workers than children queues the quick dispatches behind long requests:
  // that measures the web server, not the scheduler (production has php-fpm pools of many workers).
  return { ...o, webWorkers: o.webWorkers ?? o.slots + BURST_SLOTS + WORKER_MARGIN };
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

interface RunResult {
  readonly policy: Policy;
  readonly dispatch: DispatchKind;
  readonly pushed: number;
  readonly figures: OverloadFigures;
  readonly loadAverage: number;
  /** Durations of dispatches that ran one job (mostly start-up: shows what the load costs). */
  readonly oneJobDispatchMs: LatencySummary | null;
}

async function runPolicy(
  bench: BenchFarm,
  options: Options,
  policy: Policy,
  kind: DispatchKind,
  smallWikis: ReadonlySet<string>,
): Promise<RunResult> {
  await bench.flush();
  const label = `overload-${kind}-${policy}`;
  const configFile = join(bench.dir, `${label}.conf`);
  writeRunnerConfig(configFile, {
    comment: `bench:overload (${label})`,
    redisAddress: bench.redis.address,
    dispatcher: bench.dispatcher(kind),
    groups: { bench: { runners: options.slots, include: [SLEEP_TYPE] } },
    // No drain at the end: what is left over is flushed before the next run.
    runner: { drainTimeoutSeconds: 0, scheduling: { policy } },
  });
  const plan = planPushes(bench.wikis, options.rate, options.seconds, options.seed);
  // The recorder first: the preloaded jobs' stores count in the ready figures.
  const recorder = await OverloadRecorder.start(bench.redis);
  const oneJob: number[] = [];
  const dispatchLines: Record<string, unknown>[] = [];
  let pair: DaemonPair | null = null;
  try {
    const preloaded = await pushBacklogs(
      bench.store,
      bench.wikis.slice(0, options.backlogWikis),
      options.backlog,
      options.seed,
    );
    pair = await DaemonPair.start(
      {
        configFile,
        logDir: bench.dir,
        verboseRunner: true,
        withoutChron: true,
        onRunnerLine: (line) => {
          if (line.msg !== 'dispatch start' && line.msg !== 'dispatch end') return;
          if (typeof line.ts !== 'string') return;
          const at = Date.parse(line.ts);
          if (options.traceFile) dispatchLines.push({ ...line, at });
          if (line.msg === 'dispatch end' && Number(line.ok) + Number(line.failed) === 1) {
            oneJob.push(Number(line.durationMs));
          }
          recorder.dispatch(
            line.msg === 'dispatch start' ? 'start' : 'end',
            String(line.wiki),
            String(line.type),
            at,
          );
        },
      },
      label,
    );
    const from = performance.timeOrigin + performance.now();
    const pushed = await pushOnSchedule(bench.store, plan);
    const to = performance.timeOrigin + performance.now();
    const loadAverage = loadavg()[0] ?? 0;
    const stop = await pair.stop();
    pair = null;
    if (stop.errors.length > 0) throw new Error(`daemon errors during ${label}:\n${stop.errors.join('\n')}`);
    if (options.traceFile) {
      const trace = {
        from,
        to,
        warmupSeconds: options.warmupSeconds,
        events: recorder.events,
        dispatchLines,
      };
      writeFileSync(`${options.traceFile}.${kind}-${policy}.json`, JSON.stringify(trace));
    }
    const figures = computeOverload({
      events: recorder.events,
      from: from + options.warmupSeconds * 1000,
      to,
      smallWikis,
    });
    return {
      policy,
      dispatch: kind,
      pushed: pushed + preloaded,
      figures,
      loadAverage,
      oneJobDispatchMs: summarize(oneJob),
    };
  } finally {
    if (pair) await pair.stop().catch(() => undefined);
    await recorder.stop();
  }
}

function ratio(x: number | null): string {
  return x === null ? '-' : x.toFixed(2);
}

function describeRun(r: RunResult, shares: readonly number[], wikis: readonly string[]): string {
  const f = r.figures;
  const offered = new Map(wikis.map((w, i) => [w, shares[i] ?? 0]));
  const rows = f.wikis
    .filter((w) => w.backlogged || w.slotMs > 0)
    .slice(0, 12)
    .map((w) => [
      w.wiki,
      `${((offered.get(w.wiki) ?? 0) * 100).toFixed(1)} %`,
      `${(w.slotMs / 1000).toFixed(1)} s`,
      String(w.jobs),
      w.backlogged ? 'yes' : 'no',
      ratio(w.ratio),
    ]);
  const windows = f.windows;
  const minJain = windows.length ? Math.min(...windows.map((w) => w.jain)) : null;
  const worst = windows.length
    ? windows.reduce((a, w) => (Math.abs(w.worstRatio - 1) > Math.abs(a - 1) ? w.worstRatio : a), 1)
    : null;
  return [
    `${r.dispatch} / policy ${r.policy}: ${r.pushed} jobs pushed, ${f.dispatches} dispatches, load average ${r.loadAverage.toFixed(2)}`,
    formatTable(
      ['wiki', 'pushes', 'slot-time', 'jobs run', `backlog ≥ ${BACKLOG_READY}`, 'share / fair share'],
      rows,
    ),
    `Jain's index (wikis with a backlog all through): ${ratio(f.jain)}; 60 s windows: ${windows.length}, lowest Jain ${ratio(minJain)}, share furthest from fair ${ratio(worst)}`,
    `wait of a ready queue: p99 ${formatMs(f.readyWaitMs?.p99)}, max ${formatMs(f.readyWaitMs?.max)} (n=${f.readyWaitMs?.n ?? 0})`,
    `small-wiki pickup (stored → claimed): p50 ${formatMs(f.smallPickupMs?.p50)}, p99 ${formatMs(f.smallPickupMs?.p99)}, max ${formatMs(f.smallPickupMs?.max)} (n=${f.smallPickupMs?.n ?? 0})`,
    `throughput: ${f.jobsClaimedPerSecond.toFixed(1)} jobs/s claimed; dispatches of one job took p50 ${formatMs(r.oneJobDispatchMs?.p50)} (mostly start-up)`,
  ].join('\n');
}

function comparison(results: readonly RunResult[]): string {
  const rows = results.map((r) => {
    const f = r.figures;
    const minJain = f.windows.length ? Math.min(...f.windows.map((w) => w.jain)) : null;
    return [
      r.dispatch,
      r.policy,
      ratio(f.jain),
      ratio(minJain),
      formatMs(f.readyWaitMs?.p99),
      formatMs(f.readyWaitMs?.max),
      formatMs(f.smallPickupMs?.p50),
      formatMs(f.smallPickupMs?.p99),
      f.jobsClaimedPerSecond.toFixed(1),
    ];
  });
  return formatTable(
    [
      'dispatch',
      'policy',
      'Jain',
      'Jain 60 s (min)',
      'ready wait p99',
      'max',
      'small pickup p50',
      'p99',
      'jobs/s',
    ],
    rows,
  );
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench:overload: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const machine = collectMachineInfo();
  const command = `npm run bench:overload${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  log(`jobrunner overload benchmark: ${command}\n${formatMachineInfo(machine)}`);
  const busy = busyMachineWarning(machine);
  if (busy) log(busy);
  const needsHttp = options.dispatchers.includes('http');
  log(
    `Starting redis-server and a ${options.wikis}-wiki farm${needsHttp ? ` with ${options.webServer === 'fpm' ? `Apache httpd (${apacheThreads(options.webWorkers)} threads) + php-fpm (static pool, ${options.webWorkers} children, backlog ${FPM_BACKLOG})` : `php -S (${options.webWorkers} PHP_CLI_SERVER_WORKERS)`}` : ''}…`,
  );
  const bench = await BenchFarm.start({
    wikis: options.wikis,
    webWorkers: needsHttp ? options.webWorkers : 0,
    webServer: options.webServer === 'fpm' ? 'fpm' : 'php',
  });
  const results: RunResult[] = [];
  const shares = zipfShares(bench.wikis.length);
  // Small wikis: the long tail after the first ten ranks (each well under one job per second).
  const smallWikis = new Set(bench.wikis.slice(Math.min(10, bench.wikis.length - 1)));
  log(
    `Pushes: ${options.rate} jobs/s for ${options.seconds} s (first ${options.warmupSeconds} s not counted), ` +
      `${bench.wikis[0]} ${(shares[0] ?? 0) * 100} %, the rest by 1/rank²; small wikis: ${smallWikis.size} ` +
      `(${[...smallWikis][0]} … ${[...smallWikis].at(-1)}); ${options.slots} slots; ${SLEEP_TYPE} jobs sleep ` +
      '5–50 ms (90 %), 50 ms–2 s (9 %), 2–20 s (1 %); ' +
      `${options.backlog} jobs waiting on each of ${bench.wikis.slice(0, options.backlogWikis).join(', ') || 'no wiki'} at the start.`,
  );
  try {
    for (const kind of options.dispatchers) {
      for (const policy of options.policies) {
        log(`\nRunning ${kind} / ${policy}…`);
        const result = await runPolicy(bench, options, policy, kind, smallWikis);
        results.push(result);
        log(describeRun(result, shares, bench.wikis));
      }
    }
  } finally {
    const left = await bench.close();
    if (left.length > 0) log(`warning: killed processes left running: ${left.join(', ')}`);
  }
  log(
    `\nComparison (targets: Jain ≥ 0.95, ready wait ≤ 10 s, small pickup p99 ≤ 2 s command / ≤ 0.5 s HTTP)`,
  );
  log(comparison(results));
  const json = { command, machine, options, results };
  if (options.jsonFile) writeFileSync(options.jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

runBench('bench:overload', () => main(process.argv.slice(2)));
