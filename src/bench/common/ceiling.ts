// The executor's own ceiling on this machine: the same 20,000 null jobs run by MediaWiki with no
// jobrunner at all, four lanes started by hand (two per wiki), each running runJobs.php (or POSTing
// to rpc/RunJobs.php) again and again until its wiki's queue is empty. Whatever the runner achieves
// is bounded by this; the gap between the two is the runner's own cost.
import { queueKey } from '../../mediawiki/queue-keys.js';
import type { BenchFarm, DispatchKind } from './bench-farm.js';
import { pushTestJobs } from './null-jobs.js';

export interface CeilingResult {
  readonly kind: DispatchKind;
  readonly jobs: number;
  readonly lanes: number;
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** runJobs processes or HTTP requests made. */
  readonly calls: number;
}

/** runJobs' `reached` field: why the run stopped ("none-ready" once the queue is empty). */
function reached(result: unknown): string {
  const value = (result as { reached?: unknown } | null)?.reached;
  return typeof value === 'string' ? value : '?';
}

async function postRunJobs(baseUrl: string, wiki: string): Promise<unknown> {
  const url = `${baseUrl}/rpc/RunJobs.php?wiki=${encodeURIComponent(wiki)}&type=null&maxtime=60&maxjobs=10000`;
  const response = await fetch(url, { method: 'POST' });
  const body = await response.text();
  if (!response.ok || !body.trimStart().startsWith('{')) {
    throw new Error(`rpc/RunJobs.php for ${wiki} answered ${response.status}: ${body.slice(0, 300)}`);
  }
  return JSON.parse(body) as unknown;
}

export async function measureCeiling(
  bench: BenchFarm,
  kind: DispatchKind,
  perWiki: number,
  lanes: number,
): Promise<CeilingResult> {
  await bench.flush();
  const wikis = bench.wikis;
  for (const wiki of wikis) await pushTestJobs(bench.store, { wiki, type: 'null', count: perWiki });
  let calls = 0;
  const lane = async (wiki: string) => {
    for (;;) {
      calls++;
      const result =
        kind === 'command'
          ? await bench.farm.runJobs(wiki, { type: 'null', maxTime: 60 })
          : await postRunJobs(bench.web?.baseUrl ?? '', wiki);
      if (reached(result) === 'none-ready') return;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: lanes }, (_, i) => lane(wikis[i % wikis.length] as string)));
  const seconds = (performance.now() - started) / 1000;
  for (const wiki of wikis) {
    const left = await bench.client.hlen(queueKey('null', wiki, 'h-data'));
    if (left > 0) throw new Error(`ceiling run (${kind}): ${left} jobs left on ${wiki}`);
  }
  const jobs = perWiki * wikis.length;
  return { kind, jobs, lanes, seconds, jobsPerSecond: jobs / seconds, calls };
}
