// `npm run rehearsal` (root): builds the multi-host rehearsal farm, deploys it with scap, then
// pulls a Redis partition host's cable for 30 s while MediaWiki keeps pushing, and prints what the
// farm did: jobs run on the other partition during the outage, recovery time after it, jobs lost
// or run twice (the ledger). Everything is removed at the end, also on failure or Ctrl-C.
// With --compare-hosts it measures pickup latency and throughput with three runner hosts and with
// one instead (compare-hosts.ts).
//
//   node dist/rehearsal/demo.js [--outage-seconds=30] [--family=jrdemo-]
//   node dist/rehearsal/demo.js --compare-hosts [--singles=30] [--per-wiki=150] [--job-ms=50]
import { collectMachineInfo, formatMachineInfo } from '../bench/common/machine-info.js';
import { formatFigures, measure } from './compare-hosts.js';
import { RehearsalFarm } from './farm.js';

const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const outageSeconds = Number(arg('outage-seconds', '30'));
const family = arg('family', 'jrdemo-');
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

async function main(): Promise<number> {
  say(formatMachineInfo(collectMachineInfo()));
  const started = Date.now();
  const farm = await RehearsalFarm.build({ family, log: (line) => say(`[farm] ${line}`) });
  const stop = (): void => {
    void farm.destroy().then(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    say(`farm built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    await farm.buildRelease('demo build');
    const t0 = Date.now();
    const deploy = await farm.scap(['deploy', '-v', 'demo: first deploy']);
    if (deploy.code !== 0) throw new Error(`scap deploy failed:\n${deploy.stdout.slice(-4000)}`);
    say(`scap deploy to 3 runner hosts (canary first): ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    if (process.argv.includes('--compare-hosts')) {
      const opts = {
        singles: Number(arg('singles', '30')),
        perWiki: Number(arg('per-wiki', '150')),
        jobMs: Number(arg('job-ms', '50')),
      };
      for (const hosts of [3, 1]) say(formatFigures(await measure(farm, hosts, opts)));
      return 0;
    }

    // Wikis alternate between the partitions (FarmSettings.php): even index on redis1, odd on redis2.
    const onRedis1 = farm.wikis.filter((_, i) => i % 2 === 0);
    const onRedis2 = farm.wikis.filter((_, i) => i % 2 === 1);
    const perWiki = 40;
    let pushed = 0;
    for (const wiki of farm.wikis) {
      await farm.pushJobs(wiki, perWiki, 'before');
      pushed += perWiki;
    }
    const count = (wikis: readonly string[]): number =>
      farm.ledger().filter((line) => wikis.includes(line.split(' ')[0] ?? '')).length;
    await waitFor(() => farm.ledger().length >= pushed, 120_000);

    say(`pulling redis2's cable for ${outageSeconds} s`);
    await farm.network.link('redis2', false);
    const downAt = Date.now();
    const before1 = count(onRedis1);
    // MediaWiki can still push to the wikis on redis1.
    let pushedDuring = 0;
    while (Date.now() - downAt < outageSeconds * 1000) {
      for (const wiki of onRedis1) {
        await farm.pushJobs(wiki, 10, `during-${pushedDuring}`);
        pushedDuring += 10;
      }
      await sleep(1000);
    }
    pushed += pushedDuring;
    const ranDuring = count(onRedis1) - before1;
    await farm.network.link('redis2', true);
    const upAt = Date.now();
    for (const wiki of onRedis2) {
      await farm.pushJobs(wiki, perWiki, 'after');
      pushed += perWiki;
    }
    const recovered = await waitFor(() => count(onRedis2) >= onRedis2.length * perWiki * 2, 180_000);
    const recoverySeconds = (Date.now() - upAt) / 1000;
    await waitFor(() => farm.ledger().length >= pushed, 120_000);
    const lines = farm.ledger();
    const twice = lines.length - new Set(lines).size;
    say(`during the outage: ${ranDuring} of ${pushedDuring} jobs pushed to redis1's wikis ran`);
    say(
      `after the cable was back: redis2's wikis ran new jobs within ${recovered ? recoverySeconds.toFixed(1) : '>180'} s`,
    );
    say(
      `ledger: ${lines.length} runs for ${pushed} jobs pushed; lost ${Math.max(0, pushed - new Set(lines).size)}, run twice ${twice}`,
    );
    return lines.length === pushed && twice === 0 ? 0 : 1;
  } finally {
    await farm.destroy();
    say('farm removed');
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rehearsal: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
