#!/usr/bin/env node
// npm run bench:kafka: throughput of backend kafka on a private single-node Kafka 4 broker.
//   1. ceiling: a bare @platformatic/kafka consumer reading the benchmark topic (no work per event),
//      and Kafka's own ConsumerPerformance tool (Java) on the same topic as the yardstick;
//   2. runner -> a trivial HTTP executor that answers 200 (a separate process), concurrency 50,
//      with and without Redis dedup;
//   3. runner -> rpc/RunSingleJob.php of the real MediaWiki 1.39 farm under php -S.
// Prints a table and the results as JSON.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { Consumer } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { parseConfigText } from '../config/load.js';
import type { JobrunnerConfig } from '../config/types.js';
import { startKafkaBroker, type KafkaBrokerHandle } from '../farm/kafka-broker.js';
import { buildFarm } from '../farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../farm/redis-server.js';
import { produceJobEvents } from '../kafka/producer.js';
import { startKafkaRunner, type KafkaRunner } from '../kafka/runner.js';
import type { StageTimesSnapshot } from '../kafka/stats.js';
import { createLogger } from '../observability/logger.js';
import { formatHeapSummary } from './common/heap-summary.js';
import { profilePhase, type ProfileKind } from './common/profile-phase.js';
import { medianBy } from './common/percentiles.js';
import { formatProfileSummary } from './common/profile-summary.js';
import { startGcMeter, type GcFigures } from './common/gc-meter.js';
import { processCpuSeconds } from './common/process-cpu.js';
import { allCores, pin, splitCores, type Pinning } from './common/cpu-pinning.js';
import { commandDelta, commandStats, formatCounts } from './common/redis-stats.js';
import { busyMachineWarning, collectMachineInfo, formatMachineInfo } from './common/machine-info.js';
import { executorCapacity, startTrivialExecutor } from './common/trivial-executor.js';
import { startStatsdSink, type StatsdSinkProcess } from './common/statsd-sink.js';
import { createStatsd } from '../observability/statsd.js';
import { runBench } from './common/run-bench.js';

interface Options {
  readonly events: number;
  readonly mwEvents: number;
  readonly skipMediaWiki: boolean;
  readonly jsonFile: string | undefined;
  readonly concurrency: number;
  readonly profileDir: string | undefined;
  readonly heapProfileDir: string | undefined;
  readonly runs: number;
  readonly pin: boolean;
  readonly statsd: boolean;
}

const USAGE = `Usage: npm run bench:kafka [-- options]
  --events=N      events for the ceiling and trivial-executor runs (default 50000)
  --mw-events=N   events for the MediaWiki run (default 1000)
  --skip-mw       leave out the MediaWiki run
  --concurrency=N rule concurrency of the trivial-executor runs (default 50)
  --runs=N        rounds of ConsumerPerformance, dedup on and dedup off, taken in turn; the
                  figures are each one's median (default 3: single runs of a few seconds on a
                  2-core machine vary by a third)
  --pin           during the runner runs, give the runner core 0 and the executor, Redis and
                  the broker the other cores (as on a farm, where they run on other hosts);
                  ConsumerPerformance always runs unpinned
  --profile=DIR   write a V8 CPU profile of each runner run to DIR (<run>-<round>.cpuprofile)
  --heap-profile=DIR  instead, a sampling heap profile of each runner run counting every
                  allocation (<run>-<round>.heapprofile), summed up as bytes per event
  --no-statsd     the runner without statsd metrics (by default it sends them, as in
                  production, to a UDP receiver in another process)
  --json=FILE     also write the results as JSON to FILE`;

function parseArgs(argv: readonly string[]): Options | 'help' {
  let events = 50_000;
  let mwEvents = 1000;
  let skipMediaWiki = false;
  let jsonFile: string | undefined;
  let concurrency = 50;
  let profileDir: string | undefined;
  let heapProfileDir: string | undefined;
  let runs = 3;
  let pin = false;
  let statsd = true;
  for (const arg of argv) {
    const [name, value = ''] = arg.split(/=(.*)/s) as [string, string?];
    const count = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`${name} must be a whole number >= 1, not '${value}'`);
      return n;
    };
    if (name === '--help' || name === '-h') return 'help';
    else if (name === '--events') events = count();
    else if (name === '--mw-events') mwEvents = count();
    else if (name === '--skip-mw') skipMediaWiki = true;
    else if (name === '--concurrency') concurrency = count();
    else if (name === '--runs') runs = count();
    else if (name === '--pin') pin = true;
    else if (name === '--no-statsd') statsd = false;
    else if (name === '--profile' && value !== '') profileDir = value;
    else if (name === '--heap-profile' && value !== '') heapProfileDir = value;
    else if (name === '--json' && value !== '') jsonFile = value;
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  if (profileDir !== undefined && heapProfileDir !== undefined) {
    throw new Error('--profile and --heap-profile cannot be used together (each distorts the other)');
  }
  return {
    events,
    mwEvents,
    skipMediaWiki,
    jsonFile,
    concurrency,
    profileDir,
    heapProfileDir,
    runs,
    pin,
    statsd,
  };
}

const logger = createLogger({ service: 'bench-kafka', level: 'error' });

function config(
  brokers: string,
  redis: string,
  datacenter: string,
  endpoint: string,
  dedup: boolean,
  concurrency: number,
  statsdPort: number | undefined,
): JobrunnerConfig {
  return parseConfigText(
    JSON.stringify({
      backend: 'kafka',
      ...(statsdPort !== undefined ? { statsd: `127.0.0.1:${statsdPort}` } : {}),
      redis: { aggregators: [redis], queues: [redis] },
      kafka: {
        brokers: [brokers],
        datacenter,
        endpoint,
        lowTraffic: { concurrency },
        dedup: { enabled: dedup },
        lagIntervalMs: 60_000,
      },
    }),
    'bench-kafka.conf',
  );
}

async function produce(
  broker: KafkaBrokerHandle,
  datacenter: string,
  count: number,
  type: string,
  secretKey = 'bench-secret',
): Promise<number> {
  const started = performance.now();
  const batch = 10_000;
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    await produceJobEvents({
      brokers: [broker.address],
      datacenter,
      secretKey,
      events: Array.from({ length: n }, (_, j) => ({ type, database: 'wiki1', params: { seq: i + j } })),
    });
  }
  return (performance.now() - started) / 1000;
}

/**
 * A fresh consumer group reading `topic` from the start; `read` gets the stream and resolves with
 * what it wants of it, then both are closed.
 */
async function readFromStart<T>(
  broker: KafkaBrokerHandle,
  topic: string,
  clientId: string,
  read: (stream: Awaited<ReturnType<Consumer['consume']>>) => Promise<T>,
): Promise<T> {
  const consumer = new Consumer({
    clientId,
    groupId: `${clientId}-${Date.now()}`,
    bootstrapBrokers: [broker.address],
  });
  const stream = await consumer.consume({
    topics: [topic],
    mode: 'earliest',
    autocommit: false,
    maxWaitTime: 200,
  });
  try {
    return await read(stream);
  } finally {
    await stream.close();
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
}

/** Plain consumer reading `count` messages of the topic: the ceiling for this machine. */
async function ceiling(broker: KafkaBrokerHandle, topic: string, count: number): Promise<number> {
  const seconds = await readFromStart(
    broker,
    topic,
    'bench-ceiling',
    (stream) =>
      new Promise<number>((resolve) => {
        let seen = 0;
        let first = 0;
        stream.on('data', () => {
          if (seen === 0) first = performance.now();
          if (++seen === count) resolve((performance.now() - first) / 1000);
        });
      }),
  );
  return count / seconds;
}

/** The bytes of the topic's first event (the body the executor-capacity run POSTs). */
function sampleEvent(broker: KafkaBrokerHandle, topic: string): Promise<Buffer> {
  return readFromStart(
    broker,
    topic,
    'bench-sample',
    (stream) =>
      new Promise<Buffer>((resolve) =>
        stream.once('data', (message: { value: Buffer | undefined }) =>
          resolve(message.value ?? Buffer.alloc(0)),
        ),
      ),
  );
}

/**
 * Kafka's own org.apache.kafka.tools.ConsumerPerformance (kafka-tools jar, fetched by
 * scripts/kafka/fetch-jars.sh --tools) reading the same topic: fetch.nMsg.sec, the rate without
 * the group join.
 */
async function consumerPerformance(broker: KafkaBrokerHandle, topic: string, count: number): Promise<number> {
  const tools = process.env.JOBRUNNER_KAFKA_TOOLS ?? '/opt/jobrunner-kafka/tools';
  const args = [
    '-Xmx512m',
    '-cp',
    `${tools}/*`,
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    broker.address,
    '--topic',
    topic,
    '--messages',
    String(count),
    '--group',
    `bench-perf-${Date.now()}`,
    '--timeout',
    '60000',
  ];
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = stdout.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('fetch.nMsg.sec'));
  const names = (lines[header] ?? '').split(',').map((n) => n.trim());
  const values = (lines[header + 1] ?? '').split(',').map((v) => v.trim());
  const rate = Number(values[names.indexOf('fetch.nMsg.sec')]);
  if (code !== 0 || !Number.isFinite(rate) || rate <= 0) {
    throw new Error(
      `ConsumerPerformance failed (exit ${code}; jars in ${tools}: run 'bash scripts/kafka/fetch-jars.sh --tools'):\n${stdout}\n${stderr.slice(-2000)}`,
    );
  }
  return rate;
}

interface RunResult {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** CPU time of this process (runner + benchmark bookkeeping) per event, microseconds. */
  readonly cpuMicrosPerEvent: number;
  /** The same split into user and system (kernel: socket system calls) time. */
  readonly userMicrosPerEvent: number;
  readonly systemMicrosPerEvent: number;
  /**
   * CPU per event of the other processes on the path (from /proc, 10 ms ticks): on a 2-core
   * machine they share the cores with the runner, so their cost limits its rate too.
   */
  readonly otherMicrosPerEvent: Readonly<Record<string, number>>;
  /** Commands the dedup store ran per 1,000 events (scripts' inner commands counted too). */
  readonly redisCommandsPerThousandEvents: Readonly<Record<string, number>>;
  /** Share of the run the runner's event loop was busy (1 = its one thread was the limit). */
  readonly eventLoopUtilization: number;
  /** RSS of the benchmark process (runner included) at the end of the run, MB. */
  readonly rssMb: number;
  /**
   * Mean milliseconds an event that ran spent waiting for its dedup claim, waiting for a slot and
   * in its request (the runner's own StageTimes).
   */
  readonly stagesMs: { readonly claim: number; readonly slotWait: number; readonly request: number };
  /** Collections per 1,000 events and the main thread's time in them per event (µs). */
  readonly gc: {
    readonly minorPerThousand: number;
    readonly majorPerThousand: number;
    readonly pauseMicrosPerEvent: number;
  };
}

/** The runner's StageTimes summed over its rules. */
function stageTotals(runner: KafkaRunner): StageTimesSnapshot {
  const total = { events: 0, claimMs: 0, slotWaitMs: 0, executeMs: 0 };
  for (const { stages } of runner.stats().rules) {
    total.events += stages.events;
    total.claimMs += stages.claimMs;
    total.slotWaitMs += stages.slotWaitMs;
    total.executeMs += stages.executeMs;
  }
  return total;
}

/** Processes whose CPU time a run charges per event, by name. */
type Peers = Readonly<Record<string, number>>;

function peersCpu(peers: Peers): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(peers)) out[name] = processCpuSeconds(pid);
  return out;
}

/** Where a run's profile goes and which kind it is. */
interface ProfileRequest {
  readonly dir: string;
  readonly name: string;
  readonly kind: ProfileKind;
}

/**
 * Starts a runner and times first-to-last execution of `count` events; with `profile`, writes a
 * CPU or heap profile of the run to profile.dir and prints its summary.
 */
async function runnerThroughput(
  cfg: JobrunnerConfig,
  count: number,
  peers: Peers,
  redis: Redis,
  pinning: Pinning | undefined,
  profile?: ProfileRequest,
): Promise<RunResult> {
  const commandsBefore = await commandStats(redis);
  if (pinning !== undefined) {
    pin(process.pid, pinning.own);
    for (const pid of Object.values(peers)) pin(pid, pinning.peers);
  }
  const profiler = profile ? await profilePhase(profile.dir, profile.name, profile.kind) : undefined;
  const metrics = createStatsd(cfg.statsd, logger);
  const runner = await startKafkaRunner(cfg, { logger, metrics });
  // Polled every 5 ms: stats() would build the whole status each time, on the runner's thread.
  const ok = (): number => runner.okCount();
  let first = 0;
  let cpuAtFirst = process.cpuUsage();
  let peersAtFirst = peersCpu(peers);
  let eluAtFirst = performance.eventLoopUtilization();
  let gcMeter = startGcMeter();
  let stagesAtFirst = stageTotals(runner);
  for (;;) {
    const done = ok();
    if (done > 0 && first === 0) {
      first = performance.now();
      cpuAtFirst = process.cpuUsage();
      peersAtFirst = peersCpu(peers);
      eluAtFirst = performance.eventLoopUtilization();
      void gcMeter.stop();
      gcMeter = startGcMeter();
      stagesAtFirst = stageTotals(runner);
    }
    if (done >= count) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - first) / 1000;
  const cpu = process.cpuUsage(cpuAtFirst);
  const elu = performance.eventLoopUtilization(eluAtFirst);
  const peersAtEnd = peersCpu(peers);
  const gc: GcFigures = await gcMeter.stop();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const stagesAtEnd = stageTotals(runner);
  const ran = Math.max(1, stagesAtEnd.events - stagesAtFirst.events);
  const stagesMs = {
    claim: (stagesAtEnd.claimMs - stagesAtFirst.claimMs) / ran,
    slotWait: (stagesAtEnd.slotWaitMs - stagesAtFirst.slotWaitMs) / ran,
    request: (stagesAtEnd.executeMs - stagesAtFirst.executeMs) / ran,
  };
  const otherMicrosPerEvent: Record<string, number> = {};
  for (const name of Object.keys(peers)) {
    otherMicrosPerEvent[name] = (((peersAtEnd[name] ?? 0) - (peersAtFirst[name] ?? 0)) * 1e6) / count;
  }
  await runner.stop(false);
  await metrics.close();
  if (pinning !== undefined) for (const pid of [process.pid, ...Object.values(peers)]) pin(pid, allCores());
  const commands: Record<string, number> = {};
  for (const [name, calls] of commandDelta(commandsBefore, await commandStats(redis))) {
    const perThousand = Math.round((calls * 1000) / count);
    if (name !== 'info' && perThousand > 0) commands[name] = perThousand;
  }
  const file = await profiler?.stop();
  if (file !== undefined && profile?.kind === 'cpu') {
    const lines = formatProfileSummary(file, count);
    process.stdout.write(`CPU profile: ${file} (sampled time by part, idle included)\n${lines.join('\n')}\n`);
  } else if (file !== undefined) {
    const lines = formatHeapSummary(file, count);
    process.stdout.write(
      `heap profile: ${file} (sampled allocations, collected ones too)\n${lines.join('\n')}\n`,
    );
  }
  return {
    events: count,
    seconds,
    eventsPerSecond: count / seconds,
    cpuMicrosPerEvent: (cpu.user + cpu.system) / count,
    userMicrosPerEvent: cpu.user / count,
    systemMicrosPerEvent: cpu.system / count,
    otherMicrosPerEvent,
    redisCommandsPerThousandEvents: commands,
    eventLoopUtilization: elu.utilization,
    rssMb,
    stagesMs,
    gc: {
      minorPerThousand: (gc.minor * 1000) / count,
      majorPerThousand: (gc.major * 1000) / count,
      pauseMicrosPerEvent: (gc.pauseMs * 1000) / count,
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const machine = collectMachineInfo();
  out(`bench:kafka ${argv.join(' ')} (node ${process.execArgv.join(' ')})\n${formatMachineInfo(machine)}`);
  const busy = busyMachineWarning(machine);
  if (busy !== null) out(busy);
  const profileDir = options.profileDir ?? options.heapProfileDir;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  let broker: KafkaBrokerHandle | undefined;
  let redis: RedisServerHandle | undefined;
  let executor: ChildProcess | undefined;
  let statsdSink: StatsdSinkProcess | undefined;
  let stats: Redis | undefined;
  const results: Record<string, unknown> = {
    events: options.events,
    concurrency: options.concurrency,
    machine,
  };
  try {
    [broker, redis] = await Promise.all([startKafkaBroker({ heapMb: 1024 }), startRedisServer()]);
    const trivial = await startTrivialExecutor();
    executor = trivial.child;
    if (options.statsd) statsdSink = await startStatsdSink();
    const statsdPort = statsdSink?.port;

    const produceSeconds = await produce(broker, 'bench', options.events, 'benchNull');
    results.produceEventsPerSecond = options.events / produceSeconds;
    out(`produced ${options.events} signed events in ${produceSeconds.toFixed(1)} s`);

    const ceil = await ceiling(broker, 'bench.mediawiki.job.benchNull', options.events);
    results.ceilingEventsPerSecond = ceil;
    out(`ceiling: bare consumer                      ${ceil.toFixed(0).padStart(8)} events/s`);

    // The executor alone, driven by the runner's HTTP client with the runner's connection count: it
    // must answer well above the runner's rate or it, not the runner, is what gets measured.
    const sample = await sampleEvent(broker, 'bench.mediawiki.job.benchNull');
    const capacity = await executorCapacity(trivial.url, sample, options.events, options.concurrency);
    results.executorCapacityRequestsPerSecond = capacity;
    out(
      `trivial executor alone (${options.concurrency} conns)           ${capacity.toFixed(0).padStart(8)} requests/s`,
    );

    const c = options.concurrency;
    stats = new Redis(redis.port, '127.0.0.1');
    const peers: Peers = {
      executor: trivial.child.pid ?? 0,
      'redis-server': redis.pid,
      'Kafka broker': broker.pid,
      ...(statsdSink !== undefined ? { 'statsd receiver': statsdSink.pid } : {}),
    };
    const report = (label: string, run: RunResult, perf: number): void => {
      out(
        `${label.padEnd(52)}${run.eventsPerSecond.toFixed(0).padStart(8)} events/s` +
          `  ${((run.eventsPerSecond / perf) * 100).toFixed(1)} % of ConsumerPerformance, ${run.cpuMicrosPerEvent.toFixed(0)} µs CPU/event`,
      );
      const others = Object.entries(run.otherMicrosPerEvent)
        .map(([name, micros]) => `${name} ${micros.toFixed(0)}`)
        .join(', ');
      out(
        `  CPU µs/event: runner user ${run.userMicrosPerEvent.toFixed(1)} + system ${run.systemMicrosPerEvent.toFixed(1)}; ${others}; runner event loop ${(run.eventLoopUtilization * 100).toFixed(0)} % busy; RSS ${run.rssMb.toFixed(0)} MB`,
      );
      out(
        `  GC per 1,000 events: ${run.gc.minorPerThousand.toFixed(1)} scavenges, ${run.gc.majorPerThousand.toFixed(2)} full; main thread ${run.gc.pauseMicrosPerEvent.toFixed(1)} µs/event in pauses`,
      );
      const { claim, slotWait, request } = run.stagesMs;
      // Little's law: with every slot busy, concurrency / request time is the most the rule can run.
      out(
        `  ms per event: claim ${claim.toFixed(2)}, slot wait ${slotWait.toFixed(2)}, request ${request.toFixed(2)}` +
          ` (${c} slots / request time = ${((c * 1000) / request).toFixed(0)} events/s at most)`,
      );
      const commands = new Map(Object.entries(run.redisCommandsPerThousandEvents));
      if (commands.size > 0) out(`  Redis commands per 1,000 events: ${formatCounts(commands)}`);
    };
    const profile = (name: string): ProfileRequest | undefined =>
      profileDir === undefined
        ? undefined
        : { dir: profileDir, name, kind: options.profileDir !== undefined ? 'cpu' : 'heap' };
    // Rounds taken in turn, so a slower or faster stretch of the machine touches all three; each
    // runner run reads its own freshly produced topic.
    const pinning = options.pin ? splitCores() : undefined;
    results.pinning = pinning ?? 'none';
    results.statsd = options.statsd;
    out(
      options.statsd
        ? 'runner statsd metrics: on, sent to a UDP receiver in another process (--no-statsd: off)'
        : 'runner statsd metrics: off (--no-statsd)',
    );
    out(
      pinning === undefined
        ? 'runner runs: CPU placement left to the kernel'
        : `runner runs: the runner on CPU ${pinning.own}, executor, Redis and broker on CPU ${pinning.peers}`,
    );
    const perfRuns: number[] = [];
    const dedupRuns: RunResult[] = [];
    const plainRuns: RunResult[] = [];
    for (let round = 1; round <= options.runs; round++) {
      const perf = await consumerPerformance(broker, 'bench.mediawiki.job.benchNull', options.events);
      perfRuns.push(perf);
      out(
        `round ${round}: Kafka ConsumerPerformance (fetch.nMsg.sec) ${perf.toFixed(0).padStart(8)} events/s`,
      );
      for (const dedup of [true, false]) {
        const datacenter = `bench${round}${dedup ? 'd' : 'p'}`;
        await produce(broker, datacenter, options.events, 'benchNull');
        const run = await runnerThroughput(
          config(broker.address, redis.address, datacenter, trivial.url, dedup, c, statsdPort),
          options.events,
          peers,
          stats,
          pinning,
          profile(`runner-dedup-${dedup ? 'on' : 'off'}-${round}`),
        );
        (dedup ? dedupRuns : plainRuns).push(run);
        report(`round ${round}: runner -> trivial executor, dedup ${dedup ? 'on' : 'off'}`, run, perf);
      }
    }
    const perf = medianBy(perfRuns, (rate) => rate);
    const withDedup = medianBy(dedupRuns, (run) => run.eventsPerSecond);
    const noDedup = medianBy(plainRuns, (run) => run.eventsPerSecond);
    results.consumerPerformanceEventsPerSecond = perf;
    results.consumerPerformanceRuns = perfRuns;
    results.trivialWithDedup = withDedup;
    results.trivialWithDedupRuns = dedupRuns;
    results.trivialWithDedupShareOfConsumerPerformance = withDedup.eventsPerSecond / perf;
    results.trivialWithoutDedup = noDedup;
    results.trivialWithoutDedupRuns = plainRuns;
    results.trivialWithoutDedupShareOfConsumerPerformance = noDedup.eventsPerSecond / perf;
    out(`medians of ${options.runs} rounds (c=${c}):`);
    out(`Kafka ConsumerPerformance (fetch.nMsg.sec)  ${perf.toFixed(0).padStart(8)} events/s`);
    report(`runner -> trivial executor, dedup on`, withDedup, perf);
    report(`runner -> trivial executor, dedup off`, noDedup, perf);
    // The share above divides two medians that may come from different rounds; each round's own
    // share pairs runs taken seconds apart, so a slower or faster stretch of the machine (the
    // broker warming up) touches both sides.
    const roundShares = (runs: readonly RunResult[]): number[] =>
      runs.map((run, i) => run.eventsPerSecond / (perfRuns[i] ?? Number.NaN));
    for (const [label, runs] of [
      ['dedup on', dedupRuns],
      ['dedup off', plainRuns],
    ] as const) {
      const shares = roundShares(runs);
      const list = shares.map((share) => `${(share * 100).toFixed(1)} %`).join(', ');
      out(
        `share of the same round's ConsumerPerformance, ${label}: ${list}; median ${(medianBy(shares, (x) => x) * 100).toFixed(1)} %`,
      );
    }
    results.trivialWithDedupRoundShares = roundShares(dedupRuns);
    results.trivialWithoutDedupRoundShares = roundShares(plainRuns);
    out('targets: >= 18,000 events/s and >= 15 % of ConsumerPerformance (trivial executor)');

    if (!options.skipMediaWiki) {
      const farm = await buildFarm({ redis, wikis: 1 });
      try {
        await farm.setExtraJobTypes({ benchNull: 'null' });
        const web = await farm.startWebServer({ workers: 4 });
        // Signed with the farm's $wgSecretKey: RunSingleJob.php refuses anything else.
        await produce(broker, 'benchmw', options.mwEvents, 'benchNull', farm.secretKey);
        const mw = await runnerThroughput(
          config(
            broker.address,
            redis.address,
            'benchmw',
            `${web.baseUrl}/rpc/RunSingleJob.php`,
            true,
            8,
            statsdPort,
          ),
          options.mwEvents,
          { 'redis-server': redis.pid },
          stats,
          undefined,
        );
        results.mediawiki = mw;
        out(
          `runner -> MediaWiki RunSingleJob.php (php -S, 4 workers), c=8 ${mw.eventsPerSecond.toFixed(0).padStart(6)} events/s (${options.mwEvents} events)`,
        );
      } finally {
        await farm.destroy();
      }
    }
    if (statsdSink !== undefined) {
      const received = await statsdSink.stop();
      statsdSink = undefined;
      results.statsdReceived = received;
      out(`statsd: ${received.lines} lines in ${received.datagrams} datagrams reached the receiver`);
    }
    out(JSON.stringify(results, null, 2));
    if (options.jsonFile) writeFileSync(options.jsonFile, `${JSON.stringify(results, null, 2)}\n`);
    return 0;
  } finally {
    executor?.kill('SIGTERM');
    await statsdSink?.stop().catch(() => undefined);
    stats?.disconnect();
    await Promise.allSettled([broker?.stop(), redis?.stop()]);
  }
}

runBench('bench:kafka', () => main(process.argv.slice(2)));
