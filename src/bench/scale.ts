#!/usr/bin/env node
// npm run bench:scale — jobrunner + jobchron (the built daemons) on the real MediaWiki test farm with
// 1,000 / 10,000 / 100,000 queues holding jobs no group runs (issue #13). Per size: Redis commands/s
// and CPU with both daemons idle, each daemon's CPU and RSS, CPU in the first 3 s after start, and
// MediaWiki-like Redis latency (a concurrent client) over start-up and the window. At 100,000 queues
// also: pickup of a new push (command dispatcher), a stale claim's recycle delay past claimTTL, a
// delayed job's release delay. Then 10,000 ready queues on unknown wikis: failing dispatches/s,
// runner CPU and a healthy wiki's pickup. Prints the machine first; the figures are measurements.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from '../farm/process-tree.js';
import { newJobFields } from '../mediawiki/new-job.js';
import { PhpArray } from '../mediawiki/php-serialize.js';
import { queueKeys } from '../mediawiki/queue-keys.js';
import { BenchFarm } from './common/bench-farm.js';
import { DaemonPair } from './common/daemon-pair.js';
import { JobEventTracker, type JobEvent } from './common/job-events.js';
import { busyMachineWarning, collectMachineInfo, formatMachineInfo } from './common/machine-info.js';
import { pushTestJobs } from './common/null-jobs.js';
import { summarize, type LatencySummary } from './common/percentiles.js';
import { commandDelta, commandStats, redisCpuSeconds, sumCounts } from './common/redis-stats.js';
import { writeRunnerConfig } from './common/runner-config.js';
import { formatTable } from './common/table.js';
import { runBench } from './common/run-bench.js';

/** BENCH_SCALE_SIZES=1000,10000 runs fewer sizes (0: none, only the failing-wiki run). */
const SIZES = (process.env.BENCH_SCALE_SIZES ?? '1000,10000,100000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const WINDOW_SECONDS = Number(process.env.BENCH_SCALE_WINDOW ?? 30);
/** BENCH_SCALE_FAILING=0 leaves out the failing-wiki run. */
const FAILING_RUN = process.env.BENCH_SCALE_FAILING !== '0';
/** After start: past the runner's two fast reconciliation walks (5 s each) and its busy linger. */
const SETTLE_SECONDS = 15;
const PARKED_TYPES = 100;
const CLAIM_TTL = 10;
const TICKS = 100; // getconf CLK_TCK on Linux

interface IdleFigures {
  queues: number;
  commandsPerSecond: number;
  byCommand: Record<string, number>;
  redisCpuPercent: number;
  runnerCpuPercent: number;
  chronCpuPercent: number;
  runnerRssMb: number;
  chronRssMb: number;
  runnerStartCpuS: number;
  chronStartCpuS: number;
  latencyStartup: LatencySummary | null;
  latencyWindow: LatencySummary | null;
}

const log = (text: string) => process.stdout.write(`${text}\n`);
const r1 = (n: number) => Math.round(n * 10) / 10;

/** utime and stime of a process, seconds. */
function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / TICKS, system: Number(fields[12]) / TICKS };
}

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return r1(kb / 1024);
}

/** `count` queues of types the bench group never runs, on wikis that need not exist. */
async function park(bench: BenchFarm, count: number): Promise<void> {
  const params = new PhpArray();
  for (let start = 0; start < count; start += 1000) {
    const pushes: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) {
      const type = `benchParked${i % PARKED_TYPES}`;
      const wiki = `parkwiki${Math.floor(i / PARKED_TYPES)}`;
      pushes.push(bench.store.pushJobs(type, wiki, [newJobFields({ type, params })]));
    }
    await Promise.all(pushes);
  }
}

/** A client doing what MediaWiki does between jobs (HGET, LLEN, SISMEMBER), timing each. */
class LatencyProbe {
  private readonly client: Redis;
  private samples: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(bench: BenchFarm) {
    this.client = new Redis({ host: bench.redis.host, port: bench.redis.port });
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const k = queueKeys('benchProbe', 'parkwiki0');
    let i = 0;
    while (this.running) {
      const started = performance.now();
      if (i % 3 === 0) await this.client.hget(k['h-data'], 'x');
      else if (i % 3 === 1) await this.client.llen(k['l-unclaimed']);
      else await this.client.sismember('global:jobqueue:s-queuesWithJobs', 'x');
      this.samples.push(performance.now() - started);
      i += 1;
      await sleep(5);
    }
  }

  /** Samples since the last take. */
  take(): LatencySummary | null {
    const out = summarize(this.samples);
    this.samples = [];
    return out;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.disconnect();
  }
}

function configFor(bench: BenchFarm, label: string, extra: { runner?: Record<string, number> } = {}): string {
  const file = join(bench.dir, `${label}.conf`);
  writeRunnerConfig(file, {
    comment: `bench:scale (${label})`,
    redisAddress: bench.redis.address,
    dispatcher: bench.farm.runJobsCommand(),
    groups: { bench: { runners: 4, include: ['null'] } },
    limits: { claimTTL: { '*': 3600, benchClaim: CLAIM_TTL } },
    ...(extra.runner ? { runner: extra.runner } : {}),
  });
  return file;
}

async function idleAt(bench: BenchFarm, queues: number): Promise<{ figures: IdleFigures; pair: DaemonPair }> {
  await bench.flush();
  await park(bench, queues);
  const probe = new LatencyProbe(bench);
  const pair = await DaemonPair.start(
    { configFile: configFor(bench, `idle-${queues}`), logDir: bench.dir },
    `idle-${queues}`,
  );
  const chron = pair.chron;
  if (!chron) throw new Error('no chron');

  await sleep(Math.max(0, pair.startedAt + 3000 - Date.now()));
  const runnerStartCpuS = r1(cpuSeconds(pair.runner.pid) * 100) / 100;
  const chronStartCpuS = r1(cpuSeconds(chron.pid) * 100) / 100;

  await sleep(SETTLE_SECONDS * 1000 - 3000);
  const latencyStartup = probe.take();
  const before = await commandStats(bench.client);
  const redisCpu = await redisCpuSeconds(bench.client);
  const runnerCpu = cpuSeconds(pair.runner.pid);
  const chronCpu = cpuSeconds(chron.pid);
  await sleep(WINDOW_SECONDS * 1000);
  const delta = commandDelta(before, await commandStats(bench.client));
  const redisCpuAfter = await redisCpuSeconds(bench.client);
  // Our own INFO calls and the latency probe's commands are not the daemons'.
  for (const name of ['info', 'hget', 'sismember']) delta.delete(name);
  const probeLatency = probe.take();
  const probeLlen = probeLatency ? Math.round(probeLatency.n / 3) : 0;
  const llen = (delta.get('llen') ?? 0) - probeLlen;
  if (llen > 0) delta.set('llen', llen);
  else delta.delete('llen');
  await probe.stop();
  const byCommand: Record<string, number> = {};
  for (const [name, n] of [...delta].sort((a, b) => b[1] - a[1])) byCommand[name] = r1(n / WINDOW_SECONDS);
  const figures: IdleFigures = {
    queues,
    commandsPerSecond: r1(sumCounts(delta) / WINDOW_SECONDS),
    byCommand,
    redisCpuPercent: r1(((redisCpuAfter - redisCpu) / WINDOW_SECONDS) * 100),
    runnerCpuPercent: r1(((cpuSeconds(pair.runner.pid) - runnerCpu) / WINDOW_SECONDS) * 100),
    chronCpuPercent: r1(((cpuSeconds(chron.pid) - chronCpu) / WINDOW_SECONDS) * 100),
    runnerRssMb: rssMb(pair.runner.pid),
    chronRssMb: rssMb(chron.pid),
    runnerStartCpuS,
    chronStartCpuS,
    latencyStartup,
    latencyWindow: probeLatency,
  };
  return { figures, pair };
}

/**
 * Pickup of new pushes of `null` jobs on a real farm wiki: stored → acknowledged (ms). With
 * `starts` (the runner's "dispatch start" times for the wiki, from its --verbose log), the part
 * before the dispatch started is collected in `notice`. `events`: a tracker opened before the
 * daemons started (else one is opened and closed here).
 */
async function pickup(
  bench: BenchFarm,
  samples: number,
  wiki: string,
  starts?: readonly number[],
  notice?: number[],
  events?: JobEventTracker,
): Promise<LatencySummary | null> {
  const tracker = events ?? (await JobEventTracker.start(bench.redis));
  const out: number[] = [];
  let lastDone = -Infinity;
  try {
    for (let i = 0; i < samples + 2; i++) {
      await sleep(300 + Math.random() * 400);
      const mine = (kind: JobEvent['kind']) => (e: JobEvent) =>
        e.kind === kind && e.wiki === wiki && e.type === 'null';
      const both = Promise.all([
        tracker.next(mine('stored'), 30_000, 'stored'),
        tracker.next(mine('removed'), 30_000, 'done'),
      ]);
      both.catch(() => undefined);
      await pushTestJobs(bench.store, { wiki, type: 'null', count: 1, tag: `scale-${i}-${Date.now()}` });
      const [stored, done] = await both;
      const previous = lastDone;
      lastDone = done.at;
      if (i < 2) continue; // two warm-up jobs
      out.push(done.at - stored.at);
      // This job's dispatch is the wiki's one start after the previous job was done: the runner
      // may log it before this process has handled the store's own notification (then 0).
      const start = starts?.find((at) => at > Math.floor(previous) && at <= done.at);
      if (start !== undefined) notice?.push(Math.max(0, start - stored.at));
    }
  } finally {
    if (!events) await tracker.stop();
  }
  return summarize(out);
}

/** A claim taken now (claimTTL 10 s) on a type no group runs: seconds past claimTTL until recycled. */
async function staleClaimDelay(bench: BenchFarm): Promise<number> {
  const k = queueKeys('benchClaim', 'parkwiki1');
  const id = 'c'.repeat(32);
  const claimedAt = Date.now();
  await bench.client.hset(k['h-data'], id, 'a:0:{}');
  await bench.client.hset(k['h-attempts'], id, '1');
  await bench.client.zadd(k['z-claimed'], Math.floor(claimedAt / 1000), id);
  await bench.client.sadd('global:jobqueue:s-queuesWithJobs', JSON.stringify(['benchClaim', 'parkwiki1']));
  while ((await bench.client.llen(k['l-unclaimed'])) === 0) {
    if (Date.now() - claimedAt > 120_000) throw new Error('stale claim not recycled within 120 s');
    await sleep(50);
  }
  // The claim's score is whole seconds: it is stale from floor(claimedAt) + claimTTL on.
  return r1((Date.now() - (Math.floor(claimedAt / 1000) + CLAIM_TTL) * 1000) / 1000);
}

/** A delayed job due in 5 s on a type no group runs: seconds after its release time until ready. */
async function delayedReleaseDelay(bench: BenchFarm): Promise<number> {
  const releaseAt = Math.floor(Date.now() / 1000) + 5;
  const type = 'benchDelayed';
  const params = PhpArray.fromRecord({ jobReleaseTimestamp: releaseAt });
  await bench.store.pushJobs(type, 'parkwiki2', [newJobFields({ type, params })]);
  const k = queueKeys(type, 'parkwiki2');
  while ((await bench.client.llen(k['l-unclaimed'])) === 0) {
    if (Date.now() - releaseAt * 1000 > 120_000) throw new Error('delayed job not released within 120 s');
    await sleep(50);
  }
  return r1((Date.now() - releaseAt * 1000) / 1000);
}

interface FailingFigures {
  queues: number;
  failingDispatchesPerSecond: number;
  runnerCpuPercent: number;
  /** The runner's CPU-seconds in the window, user and system, and the window's length (s). */
  runnerUserS: number;
  runnerSystemS: number;
  windowS: number;
  /** Runner CPU per failing dispatch (ms): follows the work, not the machine's load. */
  runnerCpuMsPerFailingDispatch: number;
  healthyPickup: LatencySummary | null;
  /** Stored → the runner's dispatch start, for the same samples. */
  healthyNotice: LatencySummary | null;
}

/** 10,000 ready `null` queues on wikis the farm does not have: every dispatch fails. */
async function failingWikis(bench: BenchFarm, queues: number): Promise<FailingFigures> {
  await bench.flush();
  const healthy = bench.wikis[0] as string;
  // Dispatches started on the unknown wikis: what the farm-wide cap governs. Counting their ends
  // instead would add the ones already running when the window opens.
  let failing = 0;
  const starts: number[] = [];
  // One event subscription for the whole run, opened before the daemons start.
  const events = await JobEventTracker.start(bench.redis);
  let pair: DaemonPair;
  try {
    pair = await DaemonPair.start(
      {
        configFile: configFor(bench, 'failing'),
        logDir: bench.dir,
        verboseRunner: true,
        onRunnerLine: (line) => {
          if (line.msg !== 'dispatch start') return;
          if (typeof line.wiki === 'string' && line.wiki.startsWith('nowiki')) failing += 1;
          else if (line.wiki === healthy && typeof line.ts === 'string') starts.push(Date.parse(line.ts));
        },
      },
      'failing',
    );
  } catch (error) {
    await events.stop();
    throw error;
  }
  try {
    // The healthy wiki works before the trouble starts.
    await pickup(bench, 1, healthy, undefined, undefined, events);
    const params = new PhpArray();
    for (let start = 0; start < queues; start += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, queues - start) }, (_, i) =>
          bench.store.pushJobs('null', `nowiki${start + i}`, [newJobFields({ type: 'null', params })]),
        ),
      );
    }
    await sleep(SETTLE_SECONDS * 1000);
    const failingBefore = failing;
    const cpuBefore = cpuTimes(pair.runner.pid);
    const started = Date.now();
    const notice: number[] = [];
    const healthyPickup = await pickup(bench, 20, healthy, starts, notice, events);
    const rest = WINDOW_SECONDS * 1000 - (Date.now() - started);
    if (rest > 0) await sleep(rest);
    const seconds = (Date.now() - started) / 1000;
    const cpuAfter = cpuTimes(pair.runner.pid);
    const user = cpuAfter.user - cpuBefore.user;
    const system = cpuAfter.system - cpuBefore.system;
    const dispatches = failing - failingBefore;
    return {
      queues,
      failingDispatchesPerSecond: r1(dispatches / seconds),
      runnerCpuPercent: r1(((user + system) / seconds) * 100),
      runnerUserS: r1(user * 100) / 100,
      runnerSystemS: r1(system * 100) / 100,
      windowS: r1(seconds),
      runnerCpuMsPerFailingDispatch: dispatches > 0 ? r1(((user + system) * 1000) / dispatches) : 0,
      healthyPickup,
      healthyNotice: summarize(notice),
    };
  } finally {
    await pair.stop().catch((error: unknown) => log(`(stopping the failing run: ${String(error)})`));
    await events.stop();
  }
}

function growth(figures: IdleFigures[], pick: (f: IdleFigures) => number): string {
  const parts: string[] = [];
  for (let i = 1; i < figures.length; i++) {
    const a = pick(figures[i - 1] as IdleFigures);
    const b = pick(figures[i] as IdleFigures);
    parts.push(a > 0 ? `×${r1(b / a)}` : '–');
  }
  return parts.join(' ');
}

async function main(): Promise<number> {
  const machine = collectMachineInfo();
  log(`jobrunner scale benchmark: npm run bench:scale\n${formatMachineInfo(machine)}`);
  const busy = busyMachineWarning(machine);
  if (busy) log(busy);
  const bench = await BenchFarm.start({ wikis: 2, webWorkers: 0 });
  const idle: IdleFigures[] = [];
  let at100k: {
    pickup: LatencySummary | null;
    staleClaimPastTtlS: number;
    delayedPastReleaseS: number;
  } | null = null;
  let failing: FailingFigures | null = null;
  try {
    for (const size of SIZES) {
      log(
        `\n${size} queues: parking, starting both daemons, ${SETTLE_SECONDS} s settle, ${WINDOW_SECONDS} s window…`,
      );
      const { figures, pair } = await idleAt(bench, size);
      idle.push(figures);
      log(JSON.stringify(figures));
      try {
        if (size === 100_000) {
          const [staleClaimPastTtlS, delayedPastReleaseS] = await Promise.all([
            staleClaimDelay(bench),
            delayedReleaseDelay(bench),
          ]);
          const p = await pickup(bench, 20, bench.wikis[0] as string);
          at100k = { pickup: p, staleClaimPastTtlS, delayedPastReleaseS };
          log(JSON.stringify(at100k));
        }
      } finally {
        await pair.stop();
      }
    }
    if (FAILING_RUN) {
      log('\n10,000 ready queues on unknown wikis…');
      failing = await failingWikis(bench, 10_000);
      log(JSON.stringify(failing));
    }
  } finally {
    await bench.close();
  }

  const ms = (s: LatencySummary | null | undefined, q: 'p50' | 'p99') => (s ? `${r1(s[q])} ms` : '–');
  const rows = idle.map((f) => [
    String(f.queues),
    String(f.commandsPerSecond),
    `${f.redisCpuPercent} %`,
    `${f.runnerCpuPercent} %`,
    `${f.chronCpuPercent} %`,
    `${f.runnerRssMb} / ${f.chronRssMb} MB`,
    `${f.runnerStartCpuS} / ${f.chronStartCpuS} s`,
    `${ms(f.latencyStartup, 'p99')} / ${ms(f.latencyWindow, 'p99')}`,
  ]);
  rows.push([
    'growth',
    growth(idle, (f) => f.commandsPerSecond),
    growth(idle, (f) => f.redisCpuPercent),
    growth(idle, (f) => f.runnerCpuPercent),
    growth(idle, (f) => f.chronCpuPercent),
    `${growth(idle, (f) => f.runnerRssMb)} / ${growth(idle, (f) => f.chronRssMb)}`,
    '',
    '',
  ]);
  log(`\nIdle (queues holding jobs no group runs; ${WINDOW_SECONDS} s window after ${SETTLE_SECONDS} s)\n`);
  log(
    formatTable(
      [
        'queues',
        'Redis cmd/s',
        'Redis CPU',
        'runner CPU',
        'chron CPU',
        'RSS runner / chron',
        'CPU first 3 s runner / chron',
        'probe p99 start-up / window',
      ],
      rows,
    ),
  );
  log(
    '\nTargets: ≤ 1,500 cmd/s at 10k, ≤ 3,000 at 100k; Redis CPU ≤ 2 %; each daemon ≤ 1 %; RSS ≤ 60 MB idle, ≤ 80 MB at 100k; ≤ 0.2 s CPU in the first 3 s; probe p99 ≤ 5 ms.',
  );
  log(`Commands by name: ${idle.map((f) => `${f.queues}: ${JSON.stringify(f.byCommand)}`).join('; ')}`);
  if (at100k) {
    log(
      `\nAt 100,000 queues: pickup p50 ${ms(at100k.pickup, 'p50')} (p99 ${ms(at100k.pickup, 'p99')}; target p50 ≤ 150 ms); ` +
        `stale claim recycled ${at100k.staleClaimPastTtlS} s after claimTTL (target ≤ 5 s); ` +
        `delayed job released ${at100k.delayedPastReleaseS} s after its time (target ≤ 2 s)`,
    );
  }
  if (failing) {
    log(
      `10,000 queues on unknown wikis: ${failing.failingDispatchesPerSecond} failing dispatches/s (target ≤ 2), ` +
        `runner CPU ${failing.runnerCpuPercent} % (target ≤ 5 %; ${failing.runnerUserS} s user + ${failing.runnerSystemS} s system in ${failing.windowS} s, ${failing.runnerCpuMsPerFailingDispatch} ms per failing dispatch), healthy wiki pickup p50 ${ms(failing.healthyPickup, 'p50')} (target ≤ 150 ms; of it stored → dispatch start p50 ${ms(failing.healthyNotice, 'p50')})`,
    );
  }
  const json = { command: 'npm run bench:scale', machine, idle, at100k, failing };
  log(`\nJSON:\n${JSON.stringify(json)}`);
  if (process.env.BENCH_SCALE_JSON)
    writeFileSync(process.env.BENCH_SCALE_JSON, `${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

runBench('bench:scale', main);
