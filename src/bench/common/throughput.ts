// Throughput: a batch of null jobs is pushed first (straight into Redis in MediaWiki's format, see
// null-jobs.ts), then jobchron + jobrunner start and the clock runs until every job is done.
// "Done" is read from Redis: the summed HLEN of the queues' h-data hashes (one small Lua call per
// poll, every 5–10 ms) reaching 0. Reported like the original's figures: daemon start → all done,
// and the drain alone (first job done → last job done).
import { join } from 'node:path';
import { queueKey } from '../../mediawiki/queue-keys.js';
import type { BenchFarm } from './bench-farm.js';
import { DaemonPair, type RunnerTotals } from './daemon-pair.js';
import { pushTestJobs } from './null-jobs.js';
import { redisCpuSeconds } from './redis-stats.js';
import { writeRunnerConfig } from './runner-config.js';
import { sleep } from '../../farm/process-tree.js';
import { ACTIVE_LINGER_MS } from '../../runner/discovery.js';

export interface QueueSpec {
  readonly wiki: string;
  readonly type: string;
  readonly count: number;
}

export interface ThroughputOptions {
  readonly label: string;
  readonly dispatcher: string;
  readonly queues: readonly QueueSpec[];
  readonly runners: number;
  readonly maxPerQueue: number;
  readonly timeoutMs: number;
  /** runner.scheduling.policy (default: the config default). */
  readonly policy?: 'fair' | 'legacy';
}

export interface ThroughputResult {
  readonly label: string;
  readonly jobs: number;
  /** Seconds to push the batch through RedisQueueStore (set-up, not part of the measure). */
  readonly pushSeconds: number;
  /** Daemon spawn → the runner's "Starting job runner" line (process start, config, connect). */
  readonly runnerReadySeconds: number | null;
  /** Daemon spawn → the runner's first "dispatch start" line. */
  readonly firstDispatchSeconds: number | null;
  /** Daemon spawn → first job acknowledged. */
  readonly firstDoneSeconds: number;
  /** Daemon spawn → last job acknowledged. */
  readonly startToDoneSeconds: number;
  /** First job acknowledged → last. */
  readonly drainSeconds: number;
  readonly jobsPerSecond: number;
  readonly drainJobsPerSecond: number;
  readonly redisCpuSeconds: number;
  readonly totals: RunnerTotals | null;
}

const SUM_HLEN = `local n = 0
for _, key in ipairs(KEYS) do n = n + redis.call('HLEN', key) end
return n`;

export async function measureThroughput(
  bench: BenchFarm,
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  await bench.flush();
  const jobs = options.queues.reduce((sum, q) => sum + q.count, 0);
  const pushStarted = performance.now();
  for (const q of options.queues) await pushTestJobs(bench.store, q);
  const pushSeconds = (performance.now() - pushStarted) / 1000;
  const dataKeys = options.queues.map((q) => queueKey(q.type, q.wiki, 'h-data'));
  const remaining = async () => Number(await bench.client.eval(SUM_HLEN, dataKeys.length, ...dataKeys));
  if ((await remaining()) !== jobs)
    throw new Error(`${options.label}: expected ${jobs} stored jobs before the start`);

  const configFile = join(bench.dir, `${options.label}.conf`);
  writeRunnerConfig(configFile, {
    comment: `bench:runner throughput (${options.label})`,
    redisAddress: bench.redis.address,
    dispatcher: options.dispatcher,
    groups: { bench: { runners: options.runners, include: ['*'] } },
    runner: {
      maxPerQueue: options.maxPerQueue,
      ...(options.policy ? { scheduling: { policy: options.policy } } : {}),
    },
  });
  const cpuBefore = await redisCpuSeconds(bench.client);
  let readyAt: number | null = null;
  let firstDispatchAt: number | null = null;
  const pair = await DaemonPair.start(
    {
      configFile,
      logDir: bench.dir,
      verboseRunner: true, // one "dispatch start" line per dispatch: a handful per run
      onRunnerLine: (line) => {
        const at = typeof line.ts === 'string' ? Date.parse(line.ts) : Date.now();
        if (line.msg === 'Starting job runner') readyAt ??= at;
        if (line.msg === 'dispatch start') firstDispatchAt ??= at;
      },
    },
    options.label,
  );
  let firstDone: number | null = null;
  let lastDone: number;
  const interval = dataKeys.length > 20 ? 10 : 5;
  try {
    for (;;) {
      const left = await remaining();
      const now = Date.now();
      if (left < jobs) firstDone ??= now;
      if (left === 0) {
        lastDone = now;
        break;
      }
      if (now - pair.startedAt > options.timeoutMs) {
        throw new Error(
          `${options.label}: ${left} of ${jobs} jobs still not done after ${options.timeoutMs / 1000} s`,
        );
      }
      await sleep(interval);
    }
  } catch (error) {
    await pair.stop().catch(() => undefined);
    throw error;
  }
  const cpuAfter = await redisCpuSeconds(bench.client);
  const stop = await pair.stop();
  if (stop.errors.length > 0)
    throw new Error(`daemon errors during ${options.label}:\n${stop.errors.join('\n')}`);
  const first = (firstDone ?? lastDone) - pair.startedAt;
  const total = lastDone - pair.startedAt;
  const drain = lastDone - (firstDone ?? lastDone);
  return {
    label: options.label,
    jobs,
    pushSeconds,
    runnerReadySeconds: readyAt === null ? null : (readyAt - pair.startedAt) / 1000,
    firstDispatchSeconds: firstDispatchAt === null ? null : (firstDispatchAt - pair.startedAt) / 1000,
    firstDoneSeconds: first / 1000,
    startToDoneSeconds: total / 1000,
    drainSeconds: drain / 1000,
    jobsPerSecond: jobs / (total / 1000),
    drainJobsPerSecond: drain > 0 ? jobs / (drain / 1000) : 0,
    redisCpuSeconds: cpuAfter - cpuBefore,
    totals: stop.totals,
  };
}

export interface WarmThroughputResult {
  readonly label: string;
  readonly jobs: number;
  /** Seconds the push of the batch took (the runner was already taking jobs meanwhile). */
  readonly pushSeconds: number;
  /** First push → last job acknowledged. */
  readonly pushToDoneSeconds: number;
  readonly jobsPerSecond: number;
  readonly redisCpuSeconds: number;
  readonly totals: RunnerTotals | null;
}

/**
 * The same batch pushed to jobchron + jobrunner that are already running and idle: what a live
 * service does with a burst, without the daemons' start-up in the figure.
 */
export async function measureWarmThroughput(
  bench: BenchFarm,
  options: ThroughputOptions,
): Promise<WarmThroughputResult> {
  await bench.flush();
  const jobs = options.queues.reduce((sum, q) => sum + q.count, 0);
  const dataKeys = options.queues.map((q) => queueKey(q.type, q.wiki, 'h-data'));
  const remaining = async () => Number(await bench.client.eval(SUM_HLEN, dataKeys.length, ...dataKeys));
  const configFile = join(bench.dir, `${options.label}.conf`);
  writeRunnerConfig(configFile, {
    comment: `bench:runner throughput, daemons already running (${options.label})`,
    redisAddress: bench.redis.address,
    dispatcher: options.dispatcher,
    groups: { bench: { runners: options.runners, include: ['*'] } },
    runner: {
      maxPerQueue: options.maxPerQueue,
      ...(options.policy ? { scheduling: { policy: options.policy } } : {}),
    },
  });
  const pair = await DaemonPair.start({ configFile, logDir: bench.dir }, options.label);
  let pushSeconds: number;
  let total: number;
  let cpu: number;
  try {
    await sleep(ACTIVE_LINGER_MS + 500); // the runner is back in its idle poll
    const cpuBefore = await redisCpuSeconds(bench.client);
    const started = Date.now();
    for (const q of options.queues) await pushTestJobs(bench.store, q);
    pushSeconds = (Date.now() - started) / 1000;
    const interval = dataKeys.length > 20 ? 10 : 5;
    for (;;) {
      const left = await remaining();
      if (left === 0) break;
      if (Date.now() - started > options.timeoutMs) {
        throw new Error(
          `${options.label}: ${left} of ${jobs} jobs still not done after ${options.timeoutMs / 1000} s`,
        );
      }
      await sleep(interval);
    }
    total = (Date.now() - started) / 1000;
    cpu = (await redisCpuSeconds(bench.client)) - cpuBefore;
  } catch (error) {
    await pair.stop().catch(() => undefined);
    throw error;
  }
  const stop = await pair.stop();
  if (stop.errors.length > 0)
    throw new Error(`daemon errors during ${options.label}:\n${stop.errors.join('\n')}`);
  return {
    label: options.label,
    jobs,
    pushSeconds,
    pushToDoneSeconds: total,
    jobsPerSecond: jobs / total,
    redisCpuSeconds: cpu,
    totals: stop.totals,
  };
}
