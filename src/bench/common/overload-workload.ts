// bench:overload's push pattern: Poisson arrivals at a fixed rate, one wiki taking half of the jobs
// and the rest spread over the others by Zipf (1/rank²: a few busy wikis, then a long tail of
// wikis pushing a job now and then), each job a mwlabSleep job (the farm's test
// type that sleeps params.seconds) with a drawn run time: most < 50 ms, some 50 ms–2 s, 1 % 2–20 s.
// Seeded, so both policies get the very same jobs at the very same offsets.
import { newJobFields } from '../../mediawiki/new-job.js';
import { PhpArray } from '../../mediawiki/php-serialize.js';
import type { RedisQueueStore } from '../../redis/queue-store.js';
import { sleep } from '../../farm/process-tree.js';

export const SLEEP_TYPE = 'mwlabSleep';

/** Mulberry32: a small seeded generator, so a run can be repeated exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Share of the jobs per wiki, in rank order: the first takes half, the rest 1/rank² of the other half. */
export function zipfShares(count: number): number[] {
  if (count < 2) return [1];
  const tail = Array.from({ length: count - 1 }, (_, i) => 1 / (i + 2) ** 2);
  const sum = tail.reduce((a, b) => a + b, 0);
  return [0.5, ...tail.map((x) => (0.5 * x) / sum)];
}

/** Seconds a job sleeps: 90 % 5–50 ms, 9 % 50 ms–2 s, 1 % 2–20 s. */
export function drawRunSeconds(random: () => number): number {
  const x = random();
  if (x < 0.9) return 0.005 + random() * 0.045;
  if (x < 0.99) return 0.05 + random() * 1.95;
  return 2 + random() * 18;
}

export interface PushPlanEntry {
  /** Offset from the start of pushing (ms). */
  readonly atMs: number;
  readonly wiki: string;
  readonly seconds: number;
}

/** The whole run's pushes, drawn in advance. */
export function planPushes(
  wikis: readonly string[],
  ratePerSecond: number,
  seconds: number,
  seed: number,
): PushPlanEntry[] {
  const random = seededRandom(seed);
  const shares = zipfShares(wikis.length);
  const plan: PushPlanEntry[] = [];
  for (let at = 0; ;) {
    at += (-Math.log(1 - random()) / ratePerSecond) * 1000;
    if (at >= seconds * 1000) break;
    let x = random();
    let index = 0;
    while (index < shares.length - 1 && x >= (shares[index] as number)) x -= shares[index++] as number;
    plan.push({ atMs: at, wiki: wikis[index] as string, seconds: drawRunSeconds(random) });
  }
  return plan;
}

/** Pushes `plan` on time (each job is one MediaWiki push script call); returns jobs pushed. */
export async function pushOnSchedule(
  store: RedisQueueStore,
  plan: readonly PushPlanEntry[],
): Promise<number> {
  const start = performance.now();
  let pushed = 0;
  for (const entry of plan) {
    const wait = entry.atMs - (performance.now() - start);
    if (wait > 1) await sleep(wait);
    const params = PhpArray.from([['seconds', entry.seconds.toFixed(3)]]);
    pushed += (await store.pushJobs(SLEEP_TYPE, entry.wiki, [newJobFields({ type: SLEEP_TYPE, params })]))
      .pushed;
  }
  return pushed;
}

/**
 * The "template edit" backlog: `count` jobs for each of `wikis`, pushed before the run starts, so a
 * few wikis carry a backlog the whole time (the farm's usual state) and their shares can be compared.
 */
export async function pushBacklogs(
  store: RedisQueueStore,
  wikis: readonly string[],
  count: number,
  seed: number,
): Promise<number> {
  const random = seededRandom(seed ^ 0x5bd1e995);
  let pushed = 0;
  for (const wiki of wikis) {
    for (let start = 0; start < count; start += 500) {
      const jobs = Array.from({ length: Math.min(500, count - start) }, () =>
        newJobFields({
          type: SLEEP_TYPE,
          params: PhpArray.from([['seconds', drawRunSeconds(random).toFixed(3)]]),
        }),
      );
      pushed += (await store.pushJobs(SLEEP_TYPE, wiki, jobs)).pushed;
    }
  }
  return pushed;
}
