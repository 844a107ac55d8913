#!/usr/bin/env node
// npm run demo: a private Redis and a two-wiki MediaWiki farm in temp dirs, jobchron and jobrunner
// as child processes, and a mixed workload pushed through MediaWiki itself. Shows live progress,
// ends when every job is done or abandoned, prints a checked summary, stops everything it started
// and removes its temp dirs. Exit 0 only when every check passed and clean-up was complete.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  DaemonProcess,
  describeExit,
  type DaemonExit,
  type LogLine,
} from '../bench/common/daemon-process.js';
import { JobEventTracker, preciseNow } from '../bench/common/job-events.js';
import { farmQueue, pending, queueTotals, type QueueTotals } from '../bench/common/queue-totals.js';
import { killStragglers, processesWithEnv } from '../bench/common/stragglers.js';
import { waitFor } from '../bench/common/wait.js';
import { buildFarm } from '../farm/mediawiki-farm.js';
import { sleep, trackDir, untrackDir } from '../farm/process-tree.js';
import { startRedisServer } from '../farm/redis-server.js';
import { RedisQueueStore } from '../redis/queue-store.js';
import { Cleanup } from './cleanup.js';
import { DaemonLogTally } from './daemon-logs.js';
import { FAILING_ATTEMPTS, MAIN_RUNNERS, RETRY_RUNNERS, writeDemoConfig } from './demo-config.js';
import { DemoUsageError, USAGE, parseDemoArgs, type DemoOptions } from './options.js';
import { runProbes } from './probes.js';
import { Progress } from './progress.js';
import { buildResult, formatSummary, type RunFacts } from './summary.js';
import { PROBE_TYPE, runWorkload, type PushRecord } from './workload.js';

const TICK_MS = 200;

class DemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoError';
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorLines(daemon: DaemonProcess): string[] {
  return daemon.errors.map((l: LogLine) => `${daemon.name}: ${String(l.msg)} ${JSON.stringify(l)}`);
}

function pendingByType(totals: QueueTotals): string {
  const parts: string[] = [];
  for (const [type, t] of totals.byType) {
    if (pending(t) > 0)
      parts.push(`${type}: ${t.unclaimed} queued, ${t.claimed} claimed, ${t.delayed} delayed`);
  }
  return parts.join('; ') || 'nothing pending';
}

/** Jobs acknowledged within the last second, from event times. */
class RateWindow {
  private readonly times: number[] = [];
  add(at: number): void {
    this.times.push(at);
  }
  perSecond(now: number): number {
    while (this.times.length > 0 && (this.times[0] as number) < now - 1000) this.times.shift();
    return this.times.length;
  }
}

async function runDemo(
  options: DemoOptions,
  cleanup: Cleanup,
  progress: Progress,
  onFarm: (settingsFile: string) => void,
): Promise<RunFacts> {
  const startedAt = Date.now();
  const say = (text: string) => progress.note(text);
  const { sizes } = options;

  say('starting a private redis-server and a 2-wiki MediaWiki farm (temp dirs)…');
  const redis = await startRedisServer();
  cleanup.add('stop redis-server', () => redis.stop());
  const farm = await buildFarm({ redis });
  onFarm(farm.settingsFile);
  cleanup.add('remove the MediaWiki farm', () => farm.destroy());
  await farm.setExtraJobTypes({ [PROBE_TYPE]: 'null' });
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-demo-'));
  trackDir(dir);
  cleanup.add('remove the demo dir', () => {
    rmSync(dir, { recursive: true, force: true });
    untrackDir(dir);
  });
  say(`MediaWiki ${farm.mediawikiVersion} farm in ${farm.dir} (wikis ${farm.wikis.join(', ')})`);
  say(`redis-server (pid ${redis.pid}) at ${redis.address}; demo files in ${dir}`);

  let dispatcher = farm.runJobsCommand();
  if (options.dispatch === 'http') {
    const web = await farm.startWebServer({ workers: MAIN_RUNNERS + RETRY_RUNNERS });
    cleanup.add('stop php -S', () => web.stop());
    dispatcher = web.rpcRunJobsTemplate();
    say(`dispatching over HTTP to ${web.baseUrl}/rpc/RunJobs.php`);
  }

  const tracker = await JobEventTracker.start(redis);
  cleanup.add('stop watching Redis', () => tracker.stop());
  let firstStoredAt: number | null = null;
  let lastDoneAt: number | null = null;
  const rate = new RateWindow();
  tracker.subscribe((event) => {
    if (event.kind === 'stored') firstStoredAt ??= event.at;
    else {
      lastDoneAt = event.at;
      rate.add(event.at);
    }
  });
  const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await client.connect();
  cleanup.add('disconnect from Redis', () => client.disconnect());
  const store = new RedisQueueStore(client);
  const known = () => tracker.queues().map((q) => farmQueue(q.wiki, q.type));

  const configFile = join(dir, 'jobrunner.conf');
  writeDemoConfig(configFile, redis.address, dispatcher);
  say(
    `wrote ${configFile}: groups main (${MAIN_RUNNERS} runners; htmlCacheUpdate and refreshLinks low-priority) and retries (1 runner, mwlabFail: claimTTL 2 s, ${FAILING_ATTEMPTS} attempts)`,
  );

  const logs = new DaemonLogTally();
  let chronStarted = false;
  let runnerStarted = false;
  const chron = DaemonProcess.start({
    name: 'jobchron',
    configFile,
    logFile: join(dir, 'jobchron.log'),
    onLine: (line) => {
      if (line.msg === 'jobchron started') chronStarted = true;
      logs.onChronLine(line);
    },
  });
  cleanup.add('stop jobchron', async () => void (await chron.stop(10_000)));
  const runner = DaemonProcess.start({
    name: 'jobrunner',
    configFile,
    verbose: true,
    logFile: join(dir, 'jobrunner.log'),
    onLine: (line) => {
      if (line.msg === 'Starting job runner') runnerStarted = true;
      logs.onRunnerLine(line);
    },
  });
  cleanup.add('stop jobrunner', async () => void (await runner.stop(30_000)));
  const daemons = [runner, chron];
  const checkDaemons = () => {
    for (const d of daemons) {
      if (!d.running) throw new DemoError(`${d.name} exited unexpectedly; its last output:\n${d.tail()}`);
    }
  };
  await waitFor(
    'jobrunner and jobchron to start',
    () => {
      checkDaemons();
      return runnerStarted && chronStarted;
    },
    { timeoutMs: 20_000 },
  );
  say(
    `jobchron (pid ${chron.pid}) and jobrunner (pid ${runner.pid}) running; pushing the workload through MediaWiki…`,
  );

  let stopped = false;
  let pushes: PushRecord[] | null = null;
  let latencies: number[] | null = null;
  let failure: unknown = null;
  runWorkload(farm, sizes, say).then(
    (records) => {
      pushes = records;
      say('all pushes done; waiting for the runner to finish and the failing jobs to be abandoned');
    },
    (error: unknown) => (failure ??= error),
  );
  runProbes(farm, tracker, { count: sizes.probes, gapMs: [300, 800], stopped: () => stopped }).then(
    (values) => (latencies = values),
    (error: unknown) => (failure ??= error),
  );

  const slots = MAIN_RUNNERS + RETRY_RUNNERS;
  const runStartedAt = Date.now();
  let peakPerSecond = 0;
  let totals: QueueTotals;
  try {
    for (;;) {
      if (failure) throw failure;
      checkDaemons();
      totals = await queueTotals(store, known());
      const tally = tracker.totals();
      const perSecond = rate.perSecond(preciseNow());
      peakPerSecond = Math.max(peakPerSecond, perSecond);
      progress.update({
        elapsedSeconds: (Date.now() - startedAt) / 1000,
        unclaimed: totals.unclaimed,
        claimed: totals.claimed,
        delayed: totals.delayed,
        abandoned: totals.abandoned,
        stored: tally.stored,
        done: tally.removed,
        perSecond,
        busySlots: logs.inFlight,
        slots,
      });
      if (pushes && latencies && pending(totals) === 0 && logs.inFlight === 0) break;
      if (Date.now() - runStartedAt > sizes.timeoutSeconds * 1000) {
        throw new DemoError(`work not finished after ${sizes.timeoutSeconds} s: ${pendingByType(totals)}`);
      }
      await sleep(TICK_MS);
    }
  } finally {
    stopped = true;
    progress.finish();
  }

  say('every job is done or abandoned; stopping jobrunner (SIGTERM: drain) and jobchron');
  const runnerExit: DaemonExit = await runner.stop(30_000);
  const chronExit: DaemonExit = await chron.stop(10_000);
  say(`jobrunner: ${describeExit(runnerExit)}; jobchron: ${describeExit(chronExit)}`);
  const final = await queueTotals(store, known());
  const [, second] = farm.wikis;
  return {
    options,
    dispatcher: options.dispatch,
    attemptsOfFailing: FAILING_ATTEMPTS,
    pushes: pushes ?? [],
    tallies: tracker.byType(),
    dedupeQueueStored: tracker.queue(second ?? '', 'null').stored,
    finalStates: final.byType,
    logs,
    latenciesMs: latencies ?? [],
    firstStoredAt,
    lastDoneAt,
    peakPerSecond,
    runnerExit,
    chronExit,
    daemonErrors: [...errorLines(runner), ...errorLines(chron)],
    wallSeconds: (Date.now() - startedAt) / 1000,
  };
}

async function main(argv: string[]): Promise<number> {
  let options: DemoOptions;
  try {
    const parsed = parseDemoArgs(argv);
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof DemoUsageError)) throw error;
    process.stderr.write(`demo: ${error.message}\n`);
    return 2;
  }
  const out = process.stdout;
  out.write(
    `jobrunner demo${options.quick ? ' (quick)' : ''}: jobchron + jobrunner on a real MediaWiki farm, ` +
      `${options.dispatch} dispatcher\n`,
  );
  const progress = new Progress(out, options.quick ? 1000 : 2000);
  const cleanup = new Cleanup();
  const leftRunning: number[] = [];
  let settingsFile: string | null = null;
  // Runs last: anything still carrying this farm's settings file in its environment was ours.
  cleanup.add('look for processes left running', async () => {
    if (settingsFile)
      leftRunning.push(...(await killStragglers(processesWithEnv('MW_CONFIG_FILE', settingsFile))));
  });
  const interrupted = (signal: NodeJS.Signals) => {
    progress.finish();
    process.stderr.write(`demo: ${signal}: stopping everything it started…\n`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  let facts: RunFacts | null = null;
  let failure: unknown = null;
  try {
    facts = await runDemo(options, cleanup, progress, (file) => (settingsFile = file));
  } catch (error) {
    failure = error;
  }
  progress.finish();
  const cleanupProblems = await cleanup.runAll();
  if (failure || !facts) {
    process.stderr.write(`\ndemo FAILED: ${errorText(failure)}\n`);
    for (const problem of cleanupProblems) process.stderr.write(`  clean-up: ${problem}\n`);
    if (leftRunning.length > 0)
      process.stderr.write(`  killed processes left running: ${leftRunning.join(', ')}\n`);
    return 1;
  }
  const result = buildResult(facts, leftRunning, cleanupProblems);
  out.write(`${formatSummary(result)}\n`);
  out.write(`DEMO-RESULT ${JSON.stringify(result)}\n`);
  return result.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
