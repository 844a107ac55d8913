// Pickup latency: one null job at a time on an otherwise idle farm, from the moment Redis stored it
// to the moment MediaWiki acknowledged it. Both moments come from Redis keyspace notifications
// (HSET / HDEL on the queue's h-data) received by one subscriber, so no polling load is added and
// both ends carry the same delivery delay. The runner's own "dispatch start" line (--verbose)
// splits each sample into notice (stored → dispatch start) and run (dispatch start → done).
import { join } from 'node:path';
import { DaemonPair } from './daemon-pair.js';
import type { BenchFarm } from './bench-farm.js';
import { JobEventTracker, type JobEvent } from './job-events.js';
import { pushTestJobs } from './null-jobs.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { writeRunnerConfig } from './runner-config.js';
import { sleep } from '../../farm/process-tree.js';

export interface PickupOptions {
  readonly label: string;
  readonly dispatcher: string;
  readonly samples: number;
  /** Pause before each sample, uniform in [min, max] ms. */
  readonly gapMs: readonly [number, number];
  /** Jobs run first and not counted (warms php -S workers and the opcache). */
  readonly warmup: number;
  /** Other queues holding one job each, on a type the runner's group does not run. */
  readonly parkedQueues: number;
}

export interface PickupResult {
  readonly label: string;
  readonly latencyMs: LatencySummary;
  /** Stored → the runner's dispatch start. */
  readonly noticeMs: LatencySummary | null;
  /** Dispatch start → acknowledged. */
  readonly runMs: LatencySummary | null;
  readonly samplesMs: number[];
}

const SAMPLE_TIMEOUT_MS = 30_000;
export const PARKED_TYPE_PREFIX = 'benchParked';

/** `count` queues with one job each, spread over the wikis, never run by the bench's group. */
export async function parkQueues(bench: BenchFarm, count: number): Promise<void> {
  const wikis = bench.wikis;
  for (let i = 0; i < count; i++) {
    const wiki = wikis[i % wikis.length] as string;
    await pushTestJobs(bench.store, {
      wiki,
      type: `${PARKED_TYPE_PREFIX}${Math.floor(i / wikis.length)}`,
      count: 1,
    });
  }
}

export async function measurePickup(bench: BenchFarm, options: PickupOptions): Promise<PickupResult> {
  await bench.flush();
  if (options.parkedQueues > 0) await parkQueues(bench, options.parkedQueues);
  const configFile = join(bench.dir, `${options.label}.conf`);
  writeRunnerConfig(configFile, {
    comment: `bench:runner pickup (${options.label})`,
    redisAddress: bench.redis.address,
    dispatcher: options.dispatcher,
    groups: { bench: { runners: 4, include: ['null'] } },
  });
  const starts: { wiki: string; at: number }[] = [];
  const tracker = await JobEventTracker.start(bench.redis);
  let pair: DaemonPair | null = null;
  try {
    pair = await DaemonPair.start(
      {
        configFile,
        logDir: bench.dir,
        verboseRunner: true,
        onRunnerLine: (line) => {
          if (line.msg === 'dispatch start' && line.type === 'null' && typeof line.ts === 'string') {
            starts.push({ wiki: String(line.wiki), at: Date.parse(line.ts) });
          }
        },
      },
      options.label,
    );
    const samples: number[] = [];
    const notice: number[] = [];
    const run: number[] = [];
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const wiki = bench.wikis[i % bench.wikis.length] as string;
      const [low, high] = i < options.warmup ? [0, 50] : options.gapMs;
      await sleep(low + Math.random() * (high - low));
      const mine = (kind: JobEvent['kind']) => (e: JobEvent) =>
        e.kind === kind && e.wiki === wiki && e.type === 'null';
      const events = Promise.all([
        tracker.next(mine('stored'), SAMPLE_TIMEOUT_MS, `sample ${i + 1} stored`),
        tracker.next(mine('removed'), SAMPLE_TIMEOUT_MS, `sample ${i + 1} done (is the runner working?)`),
      ]);
      events.catch(() => undefined); // reported by the await below unless the push itself failed
      await pushTestJobs(bench.store, { wiki, type: 'null', count: 1, tag: `${options.label}-${i}` });
      const [stored, done] = await events;
      if (i < options.warmup) continue;
      samples.push(done.at - stored.at);
      // The runner logs in whole milliseconds; a start up to 1 ms "before" the store is the same one.
      const start = starts.find(
        (s) => s.wiki === wiki && s.at >= Math.floor(stored.at) - 1 && s.at <= done.at,
      );
      if (start) {
        notice.push(Math.max(0, start.at - stored.at));
        run.push(Math.max(0, done.at - start.at));
      }
    }
    const stop = await pair.stop();
    pair = null;
    if (stop.errors.length > 0)
      throw new Error(`daemon errors during ${options.label}:\n${stop.errors.join('\n')}`);
    return {
      label: options.label,
      latencyMs: summarize(samples) as LatencySummary,
      noticeMs: summarize(notice),
      runMs: summarize(run),
      samplesMs: samples,
    };
  } finally {
    if (pair) await pair.stop().catch(() => undefined);
    await tracker.stop();
  }
}
