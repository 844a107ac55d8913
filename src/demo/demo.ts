#!/usr/bin/env node
// npm run demo: a private Redis and a two-wiki MediaWiki farm in temp dirs, jobchron and jobrunner
// as child processes, and a mixed workload pushed through MediaWiki itself. Shows live progress,
// ends when every job is done or abandoned, prints a checked summary, stops everything it started
// and removes its temp dirs. Exit 0 only when every check passed and clean-up was complete.
import {
  DaemonProcess,
  describeExit,
  type DaemonExit,
  type LogLine,
} from '../bench/common/daemon-process.js';
import { preciseNow } from '../bench/common/job-events.js';
import { pending, queueTotals, type QueueTotals } from '../bench/common/queue-totals.js';
import { killStragglers, processesWithEnv } from '../bench/common/stragglers.js';
import { sleep } from '../farm/process-tree.js';
import { Cleanup } from './cleanup.js';
import { FAILING_ATTEMPTS, MAIN_RUNNERS, RETRY_RUNNERS } from './demo-config.js';
import { runKafkaDemo, type KafkaDemoResult } from './kafka-demo.js';
import { DemoUsageError, USAGE, parseDemoArgs, type DemoOptions } from './options.js';
import { runProbes } from './probes.js';
import { Progress } from './progress.js';
import { DemoError, startDemoStack } from './stack.js';
import { buildResult, formatSummary, type RunFacts } from './summary.js';
import { runWorkload, type PushRecord } from './workload.js';

const TICK_MS = 200;

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
  const stack = await startDemoStack(options, cleanup, say, onFarm);
  const { farm, store, tracker, runner, chron, logs } = stack;

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

  say('pushing the workload through MediaWiki…');
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

  const runStartedAt = Date.now();
  let peakPerSecond = 0;
  try {
    for (;;) {
      if (failure) throw failure;
      stack.checkDaemons();
      const totals = await queueTotals(store, stack.knownQueues());
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
        slots: MAIN_RUNNERS + RETRY_RUNNERS,
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
  const final = await queueTotals(store, stack.knownQueues());
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
    options.backend === 'kafka'
      ? `jobrunner demo${options.quick ? ' (quick)' : ''}: MediaWiki EventBus → jobrunner-intake → Kafka → jobrunner\n`
      : `jobrunner demo${options.quick ? ' (quick)' : ''}: jobchron + jobrunner on a real MediaWiki farm, ` +
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
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    progress.finish();
    process.stderr.write(`demo: ${signal}: stopping everything it started…\n`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  if (options.backend === 'kafka') {
    return runKafkaMode(options, cleanup, progress, out, leftRunning, (file) => (settingsFile = file));
  }
  let facts: RunFacts | null = null;
  let failure: unknown = null;
  try {
    facts = await runDemo(options, cleanup, progress, (file) => (settingsFile = file));
  } catch (error) {
    failure = error;
  }
  // After a signal the handler cleans up and exits 130; errors from the torn-down stack are moot.
  if (interrupted) return new Promise<number>(() => undefined);
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

/** --backend kafka: the Kafka chain instead of jobchron + jobrunner on Redis (kafka-demo.ts). */
async function runKafkaMode(
  options: DemoOptions,
  cleanup: Cleanup,
  progress: Progress,
  out: NodeJS.WriteStream,
  leftRunning: number[],
  onFarm: (settingsFile: string) => void,
): Promise<number> {
  let result: KafkaDemoResult | null = null;
  let failure: unknown = null;
  try {
    result = await runKafkaDemo(options, cleanup, (text) => progress.note(text), onFarm);
  } catch (error) {
    failure = error;
  }
  progress.finish();
  const cleanupProblems = await cleanup.runAll();
  if (result === null) {
    process.stderr.write(`\ndemo FAILED: ${errorText(failure)}\n`);
    for (const problem of cleanupProblems) process.stderr.write(`  clean-up: ${problem}\n`);
    return 1;
  }
  const lines = [...result.lines];
  lines.push(
    `  ${cleanupProblems.length === 0 ? 'ok  ' : 'FAIL'} clean-up complete${cleanupProblems.map((p) => `; ${p}`).join('')}`,
  );
  if (leftRunning.length > 0)
    lines.push(`  FAIL processes left running and killed: ${leftRunning.join(', ')}`);
  out.write(`${lines.join('\n')}\n`);
  const ok = result.ok && cleanupProblems.length === 0 && leftRunning.length === 0;
  out.write(`DEMO-RESULT ${JSON.stringify({ backend: 'kafka', ok })}\n`);
  return ok ? 0 : 1;
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
