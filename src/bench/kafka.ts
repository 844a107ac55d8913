#!/usr/bin/env node
// npm run bench:kafka: throughput of backend kafka on a private single-node Kafka 4 broker.
//   1. ceiling: a bare @platformatic/kafka consumer reading the benchmark topic (no work per event),
//      and Kafka's own ConsumerPerformance tool (Java) on the same topic as the yardstick;
//   2. runner -> a trivial HTTP executor that answers 200 (a separate process), concurrency 50,
//      with and without Redis dedup;
//   3. runner -> rpc/RunSingleJob.php of the real MediaWiki 1.39 farm under php -S.
// Prints a table and the results as JSON.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { Consumer } from '@platformatic/kafka';
import { parseConfigText } from '../config/load.js';
import type { JobrunnerConfig } from '../config/types.js';
import { startKafkaBroker, type KafkaBrokerHandle } from '../farm/kafka-broker.js';
import { freePort } from '../farm/free-port.js';
import { buildFarm } from '../farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../farm/redis-server.js';
import { produceJobEvents } from '../kafka/producer.js';
import { startKafkaRunner } from '../kafka/runner.js';
import { createLogger } from '../observability/logger.js';

interface Options {
  readonly events: number;
  readonly mwEvents: number;
  readonly skipMediaWiki: boolean;
  readonly jsonFile: string | undefined;
}

const USAGE = `Usage: npm run bench:kafka [-- options]
  --events=N      events for the ceiling and trivial-executor runs (default 50000)
  --mw-events=N   events for the MediaWiki run (default 1000)
  --skip-mw       leave out the MediaWiki run
  --json=FILE     also write the results as JSON to FILE`;

function parseArgs(argv: readonly string[]): Options | 'help' {
  let events = 50_000;
  let mwEvents = 1000;
  let skipMediaWiki = false;
  let jsonFile: string | undefined;
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
    else if (name === '--json' && value !== '') jsonFile = value;
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { events, mwEvents, skipMediaWiki, jsonFile };
}

const logger = createLogger({ service: 'bench-kafka', level: 'error' });

function config(
  brokers: string,
  redis: string,
  datacenter: string,
  endpoint: string,
  dedup: boolean,
  concurrency: number,
): JobrunnerConfig {
  return parseConfigText(
    JSON.stringify({
      backend: 'kafka',
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

/** A trivial executor in its own process (its own core): answers every POST with 200. */
async function startTrivialExecutor(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const script = `
    import { createServer } from 'node:http';
    const server = createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200); res.end(); }); });
    server.keepAliveTimeout = 60000;
    server.listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`executor exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/rpc/RunSingleJob.php`, child };
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

/** Plain consumer reading `count` messages of the topic: the ceiling for this machine. */
async function ceiling(broker: KafkaBrokerHandle, topic: string, count: number): Promise<number> {
  const consumer = new Consumer({
    clientId: 'bench-ceiling',
    groupId: `bench-ceiling-${Date.now()}`,
    bootstrapBrokers: [broker.address],
  });
  const stream = await consumer.consume({
    topics: [topic],
    mode: 'earliest',
    autocommit: false,
    maxWaitTime: 200,
  });
  let seen = 0;
  let first = 0;
  const seconds = await new Promise<number>((resolve) => {
    stream.on('data', () => {
      if (seen === 0) first = performance.now();
      if (++seen === count) resolve((performance.now() - first) / 1000);
    });
  });
  await stream.close();
  await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  return count / seconds;
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
}

/** Starts a runner and times first-to-last execution of `count` events. */
async function runnerThroughput(cfg: JobrunnerConfig, count: number): Promise<RunResult> {
  const runner = await startKafkaRunner(cfg, { logger });
  const ok = (): number => runner.stats().rules.reduce((sum, rule) => sum + rule.counters.ok, 0);
  let first = 0;
  let cpuAtFirst = process.cpuUsage();
  for (;;) {
    const done = ok();
    if (done > 0 && first === 0) {
      first = performance.now();
      cpuAtFirst = process.cpuUsage();
    }
    if (done >= count) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - first) / 1000;
  const cpu = process.cpuUsage(cpuAtFirst);
  await runner.stop(false);
  return {
    events: count,
    seconds,
    eventsPerSecond: count / seconds,
    cpuMicrosPerEvent: (cpu.user + cpu.system) / count,
  };
}

async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out(`bench:kafka on ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);
  let broker: KafkaBrokerHandle | undefined;
  let redis: RedisServerHandle | undefined;
  let executor: ChildProcess | undefined;
  const results: Record<string, unknown> = { events: options.events };
  try {
    [broker, redis] = await Promise.all([startKafkaBroker({ heapMb: 1024 }), startRedisServer()]);
    const trivial = await startTrivialExecutor();
    executor = trivial.child;

    const produceSeconds = await produce(broker, 'bench', options.events, 'benchNull');
    results.produceEventsPerSecond = options.events / produceSeconds;
    out(`produced ${options.events} signed events in ${produceSeconds.toFixed(1)} s`);

    const ceil = await ceiling(broker, 'bench.mediawiki.job.benchNull', options.events);
    results.ceilingEventsPerSecond = ceil;
    out(`ceiling: bare consumer                      ${ceil.toFixed(0).padStart(8)} events/s`);

    const perf = await consumerPerformance(broker, 'bench.mediawiki.job.benchNull', options.events);
    results.consumerPerformanceEventsPerSecond = perf;
    out(`Kafka ConsumerPerformance (fetch.nMsg.sec)  ${perf.toFixed(0).padStart(8)} events/s`);

    const withDedup = await runnerThroughput(
      config(broker.address, redis.address, 'bench', trivial.url, true, 50),
      options.events,
    );
    results.trivialWithDedup = withDedup;
    out(
      `runner -> trivial executor, dedup on, c=50  ${withDedup.eventsPerSecond.toFixed(0).padStart(8)} events/s` +
        `  ${((withDedup.eventsPerSecond / perf) * 100).toFixed(1)} % of ConsumerPerformance, ${withDedup.cpuMicrosPerEvent.toFixed(0)} µs CPU/event`,
    );

    // Same topic again from the start: a new consumer group.
    await produce(broker, 'bench2', options.events, 'benchNull');
    const noDedup = await runnerThroughput(
      config(broker.address, redis.address, 'bench2', trivial.url, false, 50),
      options.events,
    );
    results.trivialWithoutDedup = noDedup;
    out(
      `runner -> trivial executor, dedup off, c=50 ${noDedup.eventsPerSecond.toFixed(0).padStart(8)} events/s` +
        `  ${((noDedup.eventsPerSecond / perf) * 100).toFixed(1)} % of ConsumerPerformance, ${noDedup.cpuMicrosPerEvent.toFixed(0)} µs CPU/event`,
    );
    out('targets: >= 18,000 events/s and >= 15 % of ConsumerPerformance (trivial executor)');

    if (!options.skipMediaWiki) {
      const farm = await buildFarm({ redis, wikis: 1 });
      try {
        await farm.setExtraJobTypes({ benchNull: 'null' });
        const web = await farm.startWebServer({ workers: 4 });
        // Signed with the farm's $wgSecretKey: RunSingleJob.php refuses anything else.
        await produce(broker, 'benchmw', options.mwEvents, 'benchNull', farm.secretKey);
        const mw = await runnerThroughput(
          config(broker.address, redis.address, 'benchmw', `${web.baseUrl}/rpc/RunSingleJob.php`, true, 8),
          options.mwEvents,
        );
        results.mediawiki = mw;
        out(
          `runner -> MediaWiki RunSingleJob.php (php -S, 4 workers), c=8 ${mw.eventsPerSecond.toFixed(0).padStart(6)} events/s (${options.mwEvents} events)`,
        );
      } finally {
        await farm.destroy();
      }
    }
    out(JSON.stringify(results, null, 2));
    if (options.jsonFile) writeFileSync(options.jsonFile, `${JSON.stringify(results, null, 2)}\n`);
    return 0;
  } finally {
    executor?.kill('SIGTERM');
    await Promise.allSettled([broker?.stop(), redis?.stop()]);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench:kafka failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
