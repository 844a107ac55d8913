// Pickup latency as a user sees it: single jobs pushed one at a time through MediaWiki while the
// rest of the workload runs, each timed from the moment Redis stored it (keyspace event HSET on the
// queue's h-data) to the moment MediaWiki acknowledged it (HDEL there).
import type { JobEventTracker } from '../bench/common/job-events.js';
import type { MediaWikiFarm } from '../farm/mediawiki-farm.js';
import { sleep } from '../farm/process-tree.js';
import { PROBE_TYPE } from './workload.js';

const PROBE_TIMEOUT_MS = 30_000;

export interface ProbeOptions {
  readonly count: number;
  /** Pause between one probe's completion and the next push (ms), chosen at random in this range. */
  readonly gapMs: readonly [number, number];
  readonly stopped: () => boolean;
}

/** Pushes `count` probes in turn over the farm's wikis; resolves with the latencies (ms). */
export async function runProbes(
  farm: MediaWikiFarm,
  tracker: JobEventTracker,
  options: ProbeOptions,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < options.count && !options.stopped(); i++) {
    const wiki = farm.wikis[i % farm.wikis.length] as string;
    const mine = (kind: 'stored' | 'removed') => (e: { kind: string; wiki: string; type: string }) =>
      e.kind === kind && e.wiki === wiki && e.type === PROBE_TYPE;
    const stored = tracker.next(mine('stored'), PROBE_TIMEOUT_MS, `probe job ${i + 1} stored on ${wiki}`);
    const done = tracker.next(mine('removed'), PROBE_TIMEOUT_MS, `probe job ${i + 1} run on ${wiki}`);
    const both = Promise.all([stored, done]);
    both.catch(() => undefined); // a failed push is reported instead; the timeouts then go unheard
    await farm.pushJobs(wiki, { type: PROBE_TYPE, count: 1 });
    const [visible, finished] = await both;
    latencies.push(finished.at - visible.at);
    const [low, high] = options.gapMs;
    await sleep(low + Math.random() * (high - low));
  }
  return latencies;
}
