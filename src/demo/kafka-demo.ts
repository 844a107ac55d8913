// npm run demo -- --backend kafka: the Kafka job queue end to end with real parts. A private Kafka 4
// broker and Redis (dedup), a two-wiki MediaWiki farm whose jobs all go through the unmodified
// EventBus extension (JobQueueEventBus) to jobrunner-intake, and jobrunner (backend kafka) running
// them through EventBus's REST executor and rpc/RunSingleJob.php, both checking signatures. The
// workload goes through MediaWiki itself; MediaWiki's runJobs log is the record of what ran.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, cleanExit, describeExit, type DaemonExit } from '../bench/common/daemon-process.js';
import { waitFor } from '../bench/common/wait.js';
import { freePort } from '../farm/free-port.js';
import { startKafkaBroker } from '../farm/kafka-broker.js';
import { buildFarm } from '../farm/mediawiki-farm.js';
import { trackDir, untrackDir } from '../farm/process-tree.js';
import { startRedisServer } from '../farm/redis-server.js';
import type { Cleanup } from './cleanup.js';
import type { DemoOptions } from './options.js';
import { readRunLog, type LoggedRun } from './run-log.js';

const DC = 'demo';
const TYPES = { rest: 'demoViaRest', rpc: 'demoViaRpc', delayed: 'demoDelayed', dedup: 'demoDedup' };

export interface KafkaDemoResult {
  readonly ok: boolean;
  readonly lines: string[];
}

interface RuleCounters {
  readonly name: string;
  readonly executing: number;
  readonly counters: { ok: number; failed: number; duplicates: number; delayed: number };
}

export async function runKafkaDemo(
  options: DemoOptions,
  cleanup: Cleanup,
  say: (text: string) => void,
  onFarm: (settingsFile: string) => void,
): Promise<KafkaDemoResult> {
  const sizes = options.sizes;
  const startedAt = Date.now();
  say('starting a private Kafka 4 broker and redis-server (temp dirs)…');
  const [broker, redis] = await Promise.all([startKafkaBroker(), startRedisServer()]);
  cleanup.add('stop the Kafka broker', () => broker.stop());
  cleanup.add('stop redis-server', () => redis.stop());
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-demo-kafka-'));
  trackDir(dir);
  cleanup.add('remove the demo dir', () => {
    rmSync(dir, { recursive: true, force: true });
    untrackDir(dir);
  });
  const [intakePort, statusPort] = await Promise.all([freePort(), freePort()]);
  const intakeUrl = `http://127.0.0.1:${intakePort}/v1/events`;
  say('building a 2-wiki MediaWiki farm with EventBus (JobQueueEventBus → jobrunner-intake)…');
  const farm = await buildFarm({ redis, queue: 'eventbus', eventServiceUrl: intakeUrl, debugLog: true });
  onFarm(farm.settingsFile);
  cleanup.add('remove the MediaWiki farm', () => farm.destroy());
  await farm.setExtraJobTypes({
    [TYPES.rest]: 'null',
    [TYPES.rpc]: 'null',
    [TYPES.delayed]: 'null',
    [TYPES.dedup]: 'null',
  });
  // rpc/RunSingleJob.php checks mediawiki_signature by default; EventBus's REST handler always does.
  const web = await farm.startWebServer({ workers: 4 });
  cleanup.add('stop php -S', () => web.stop());
  say(`MediaWiki ${farm.mediawikiVersion} farm in ${farm.dir}, served at ${web.baseUrl}`);

  const configFile = join(dir, 'jobrunner.conf');
  const rest = `${web.baseUrl}/rest.php/eventbus/v0/internal/job/execute?wiki={database}`;
  writeFileSync(
    configFile,
    `// npm run demo -- --backend kafka\n${JSON.stringify(
      {
        backend: 'kafka',
        redis: { aggregators: [redis.address], queues: [redis.address] },
        status: { runnerPort: statusPort },
        kafka: {
          brokers: [broker.address],
          datacenter: DC,
          endpoint: `${web.baseUrl}/rpc/RunSingleJob.php`,
          commitIntervalMs: 200,
          topicRefreshMs: 1000,
          rules: {
            viaRest: {
              types: [TYPES.rest, 'refreshLinks', 'htmlCacheUpdate'],
              endpoint: rest,
              concurrency: 4,
            },
          },
          lowTraffic: { concurrency: 4 },
          ruleDefaults: { retryLimit: 1, retryDelayMs: 500 },
          deadLetterFile: join(dir, 'dead-letters.jsonl'),
        },
        intake: { port: intakePort },
      },
      null,
      2,
    )}\n`,
  );
  const intake = DaemonProcess.start({
    name: 'jobrunner-intake',
    configFile,
    logFile: join(dir, 'intake.log'),
  });
  cleanup.add('stop jobrunner-intake', async () => void (await intake.stop(10_000)));
  await waitFor(
    'jobrunner-intake to be ready',
    async () => {
      if (!intake.running) throw new Error(`jobrunner-intake exited; its last output:\n${intake.tail()}`);
      return fetch(intakeUrl.replace('/v1/events', '/readyz')).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 60_000, intervalMs: 200, detail: () => intake.tail() },
  );
  // Identical de-duplicatable jobs in three pushes 1.2 s apart, before the runner starts (a backlog):
  // EventBus merges each push's copies into one event; the runner runs the three events once.
  say(
    `pushing 3 × ${sizes.dedupePushes} identical jobs through MediaWiki, 1.2 s apart, before jobrunner starts…`,
  );
  for (let i = 0; i < 3; i++) {
    await farm.pushJobs('wiki1', {
      type: TYPES.dedup,
      count: sizes.dedupePushes,
      dedupe: true,
      params: { marker: 'dedup' },
    });
    await new Promise((r) => setTimeout(r, 1200));
  }
  const runner = DaemonProcess.start({ name: 'jobrunner', configFile, logFile: join(dir, 'jobrunner.log') });
  cleanup.add('stop jobrunner', async () => void (await runner.stop(30_000)));
  const alive = (): void => {
    for (const d of [intake, runner]) {
      if (!d.running) throw new Error(`${d.name} exited unexpectedly; its last output:\n${d.tail()}`);
    }
  };
  const statusUrl = `http://127.0.0.1:${statusPort}/status`;
  const rules = async (): Promise<RuleCounters[]> => {
    const body = (await (await fetch(statusUrl)).json()) as { daemon?: { rules?: RuleCounters[] } };
    return body.daemon?.rules ?? [];
  };
  await waitFor(
    'jobrunner-intake and jobrunner to start',
    async () => {
      alive();
      const intakeReady = await fetch(intakeUrl.replace('/v1/events', '/readyz')).then(
        (r) => r.ok,
        () => false,
      );
      const runnerUp = await rules().then(
        (r) => r.length > 0,
        () => false,
      );
      return intakeReady && runnerUp;
    },
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      detail: () => `jobrunner-intake:\n${intake.tail()}\njobrunner:\n${runner.tail()}`,
    },
  );
  say(`jobrunner-intake (pid ${intake.pid}) at ${intakeUrl}; jobrunner (pid ${runner.pid}), backend kafka`);
  say(`executors: EventBus REST ${rest} and ${web.baseUrl}/rpc/RunSingleJob.php, both checking signatures`);

  say('pushing the workload through MediaWiki (every job is an EventBus event)…');
  const pages: Record<string, string> = { 'Template:DemoBox': 'plain box' };
  for (let i = 0; i < sizes.pages; i++) pages[`Demo_page_${i}`] = `Page ${i} {{DemoBox}}`;
  const half = Math.ceil(sizes.nullJobs / 2);
  const releaseAt = Math.floor(Date.now() / 1000) + sizes.delaySeconds;
  await Promise.all([
    farm.importPages('wiki1', pages),
    farm.pushJobs('wiki1', { type: TYPES.rest, count: half, params: { marker: 'rest' } }),
    farm.pushJobs('wiki2', { type: TYPES.rpc, count: sizes.nullJobs - half, params: { marker: 'rpc' } }),
    farm.pushJobs('wiki2', {
      type: TYPES.delayed,
      count: sizes.delayedJobs,
      delaySeconds: sizes.delaySeconds,
      params: { marker: 'late' },
    }),
  ]);
  await farm.edit('wiki1', 'Template:DemoBox', 'box [[Category:Demo boxes]]');
  const pushedAt = Date.now();

  const logFile = join(farm.dir, 'logs', 'runJobs.log');
  const count = (runs: LoggedRun[], marker: string) =>
    runs.filter((r) => r.good && r.marker === marker).length;
  const categorized = async (): Promise<number> => {
    const url = `${web.baseUrl}/api.php?wiki=wiki1&action=query&list=categorymembers&cmtitle=Category:Demo_boxes&cmlimit=500&format=json`;
    const body = (await (await fetch(url)).json()) as { query?: { categorymembers?: unknown[] } };
    return body.query?.categorymembers?.length ?? 0;
  };
  let lastNote = 0;
  await waitFor(
    'every pushed job to run',
    async () => {
      alive();
      const runs = readRunLog(logFile);
      const done =
        count(runs, 'rest') === half &&
        count(runs, 'rpc') === sizes.nullJobs - half &&
        count(runs, 'late') === sizes.delayedJobs &&
        (await categorized()) === sizes.pages + 1;
      if (Date.now() - lastNote > 2000) {
        lastNote = Date.now();
        say(`  ${runs.filter((r) => r.good).length} jobs run so far (runJobs log)`);
      }
      return done;
    },
    { timeoutMs: sizes.timeoutSeconds * 1000, intervalMs: 250 },
  );
  const doneAt = Date.now();
  // Let anything still in flight finish, so duplicates would show.
  await waitFor('the runner to go idle', async () => (await rules()).every((r) => r.executing === 0), {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  const finalRules = await rules();
  const runs = readRunLog(logFile);
  const categorizedPages = await categorized();
  const stops: [string, DaemonExit][] = [
    ['jobrunner', await runner.stop(30_000)],
    ['jobrunner-intake', await intake.stop(10_000)],
  ];

  const perJob = new Map<string, number>();
  for (const r of runs.filter((x) => x.marker === 'rest' || x.marker === 'rpc')) {
    const key = `${r.marker}:${r.seq}`;
    perJob.set(key, (perJob.get(key) ?? 0) + 1);
  }
  const twice = [...perJob.values()].filter((n) => n > 1).length;
  const earlyDelayed = runs.filter((r) => r.marker === 'late' && r.at < releaseAt * 1000).length;
  const total = (field: keyof RuleCounters['counters']) =>
    finalRules.reduce((n, r) => n + r.counters[field], 0);
  const viaRest = finalRules.find((r) => r.name === 'viaRest')?.counters.ok ?? 0;
  const checks: [string, boolean][] = [
    [
      `${sizes.nullJobs} null jobs ran exactly once each (${perJob.size} distinct, ${twice} twice)`,
      perJob.size === sizes.nullJobs && twice === 0,
    ],
    [
      `${sizes.delayedJobs} delayed jobs waited for their release time (${earlyDelayed} early)`,
      earlyDelayed === 0,
    ],
    [
      `3 pushes of ${sizes.dedupePushes} identical jobs queued before the runner started: ${count(runs, 'dedup')} run (1 expected)`,
      count(runs, 'dedup') === 1,
    ],
    [
      `template edit: ${categorizedPages - 1} of ${sizes.pages} pages (and the template) in its new category (refreshLinks via EventBus REST)`,
      categorizedPages === sizes.pages + 1,
    ],
    [
      `no job failed (runJobs log errors: ${runs.filter((r) => !r.good).length}; runner failures: ${total('failed')})`,
      runs.every((r) => r.good) && total('failed') === 0,
    ],
    [
      `both executors used (EventBus REST: ${viaRest} events, RunSingleJob.php: ${total('ok') - viaRest})`,
      viaRest > 0 && total('ok') > viaRest,
    ],
    ...stops.map(([name, exit]): [string, boolean] => [
      `${name} stopped cleanly (${describeExit(exit)})`,
      cleanExit(exit),
    ]),
  ];
  const lines = [
    '',
    `Kafka demo: ${runs.filter((r) => r.good).length} jobs run in ${((doneAt - pushedAt) / 1000).toFixed(1)} s after the last push; ` +
      `wall ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
    ...checks.map(([what, ok]) => `  ${ok ? 'ok  ' : 'FAIL'} ${what}`),
  ];
  return { ok: checks.every(([, ok]) => ok), lines };
}
