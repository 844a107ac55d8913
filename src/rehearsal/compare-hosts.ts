// `npm run rehearsal -- --compare-hosts`: pickup latency and throughput of the farm's job runners
// with all three runner hosts sharing the two partitions, then with one (jobrunner stopped on the
// other two, as when they are depooled). Figures, not assertions: the machine's other load moves
// them.
import type { RehearsalFarm } from './farm.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface HostsFigures {
  readonly hosts: number;
  /** Single jobs on an idle farm: MediaWiki's push returned → the job ran (ms), sorted. */
  readonly pickupMs: readonly number[];
  /** How long the push commands took as a whole (pushJobs.php on app1), sorted. */
  readonly pushMs: readonly number[];
  /** A backlog: jobs per second from the first job run to the last. */
  readonly jobsPerSecond: number;
  readonly backlog: number;
  readonly jobMs: number;
}

async function waitForJobs(
  farm: RehearsalFarm,
  batch: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (farm.ledger().filter((job) => job.split(' ')[1] === batch).length < count) {
    if (Date.now() > deadline)
      throw new Error(`${count} jobs of batch ${batch} did not run within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Runs both measurements with `hosts` runner hosts taking work. */
export async function measure(
  farm: RehearsalFarm,
  hosts: number,
  opts: { singles: number; perWiki: number; jobMs: number },
): Promise<HostsFigures> {
  const runners = ['runner1', 'runner2', 'runner3'];
  for (const [i, name] of runners.entries()) {
    await farm.host(name).systemctl(i < hosts ? 'start' : 'stop', 'jobrunner.service');
  }
  const tag = `h${hosts}`;
  // Warm-up: every active host has dispatched once (its PHP and connections are up).
  for (const wiki of farm.wikis) await farm.pushJobs(wiki, 10, `${tag}-warm`);
  await waitForJobs(farm, `${tag}-warm`, 10 * farm.wikis.length, 120_000);

  const pickupMs: number[] = [];
  const pushMs: number[] = [];
  for (let i = 0; i < opts.singles; i++) {
    const batch = `${tag}-single${i}`;
    const start = Date.now();
    const pushedAt = await farm.pushJobs(farm.wikis[i % farm.wikis.length] ?? '', 1, batch);
    pushMs.push(Date.now() - start);
    await waitForJobs(farm, batch, 1, 60_000);
    const ran = farm.ledgerEntries().find((e) => e.job.split(' ')[1] === batch);
    pickupMs.push(Math.round((ran?.at ?? NaN) - pushedAt));
  }
  pickupMs.sort((a, b) => a - b);
  pushMs.sort((a, b) => a - b);

  const batch = `${tag}-backlog`;
  const backlog = opts.perWiki * farm.wikis.length;
  for (const wiki of farm.wikis)
    await farm.pushJobs(wiki, opts.perWiki, batch, { params: { usleep: opts.jobMs * 1000 } });
  await waitForJobs(farm, batch, backlog, 600_000);
  const times = farm
    .ledgerEntries()
    .filter((e) => e.job.split(' ')[1] === batch)
    .map((e) => e.at);
  const spanS = (Math.max(...times) - Math.min(...times)) / 1000;
  return { hosts, pickupMs, pushMs, jobsPerSecond: backlog / spanS, backlog, jobMs: opts.jobMs };
}

export function formatFigures(f: HostsFigures): string {
  return (
    `${f.hosts} runner host(s): push → run p50 ${quantile(f.pickupMs, 0.5)} ms, p90 ${quantile(f.pickupMs, 0.9)} ms ` +
    `(${f.pickupMs.length} single jobs; pushJobs.php itself p50 ${quantile(f.pushMs, 0.5)} ms); backlog of ${f.backlog} jobs of ${f.jobMs} ms: ${f.jobsPerSecond.toFixed(1)} jobs/s`
  );
}
