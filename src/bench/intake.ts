#!/usr/bin/env node
// npm run bench:intake: jobrunner-intake (the real daemon, its own process) on a private single-node
// Kafka 4 broker. Clients POST batches of signed mediawiki/job events (as EventBus does) over
// keep-alive connections; every 201 means the batch is in Kafka with acks=all. Two runs: closed loop
// (the most it takes) and open loop at the target rate (latency at that load). Reports accepted
// events/s, request latency percentiles and the intake's CPU time per 1,000 events (a figure that
// depends less on other load than the rate does), then checks every event is in the topics.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Consumer } from '@platformatic/kafka';
import { Agent } from 'undici';
import { startKafkaBroker } from '../farm/kafka-broker.js';
import { freePort } from '../farm/free-port.js';
import { signalGroup, trackPid, untrackPid } from '../farm/process-tree.js';
import { buildJobEvent } from '../kafka/job-event-builder.js';
import { busyMachineWarning, collectMachineInfo, formatMachineInfo } from './common/machine-info.js';
import { formatMs, percentile, summarize } from './common/percentiles.js';
import { runBench } from './common/run-bench.js';

interface Options {
  readonly events: number;
  readonly batch: number;
  readonly clients: number;
  /** Events per second offered in the open-loop run. */
  readonly rate: number;
}

interface LoadResult {
  readonly seconds: number;
  /** CPU seconds of the intake process during the run. */
  readonly cpu: number;
  /** Request latencies, ms, ascending. */
  readonly latencies: number[];
  readonly statuses: Map<number, number>;
}

const USAGE = `Usage: npm run bench:intake [-- options]
  --events=N    events in total (default 100000)
  --batch=N     events per request (default 50, as the target states)
  --clients=N   requests in flight at once in the closed-loop run (default 8)
  --rate=N      events/s offered in the open-loop run (default 5000, the target)`;

function parseArgs(argv: readonly string[]): Options | 'help' {
  const options = { events: 100_000, batch: 50, clients: 8, rate: 5000 };
  for (const arg of argv) {
    const [name, value = ''] = arg.split(/=(.*)/s) as [string, string?];
    if (name === '--help' || name === '-h') return 'help';
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${arg}: expected --name=N with N >= 1\n${USAGE}`);
    if (name === '--events') options.events = n;
    else if (name === '--batch') options.batch = n;
    else if (name === '--clients') options.clients = n;
    else if (name === '--rate') options.rate = n;
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return options;
}

const TYPES = ['refreshLinks', 'htmlCacheUpdate', 'cdnPurge', 'recentChangesUpdate'];

/** utime + stime of a process, seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function countInKafka(broker: string, topics: string[], expected: number): Promise<number> {
  const consumer = new Consumer({
    clientId: 'bench-intake-count',
    groupId: `bench-intake-count-${Date.now()}`,
    bootstrapBrokers: [broker],
    maxWaitTime: 200,
  });
  let seen = 0;
  try {
    const stream = await consumer.consume({ topics, mode: 'earliest', autocommit: false });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 120_000);
      stream.on('data', () => {
        if (++seen >= expected) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
  } finally {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
  return seen;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-bench-intake-'));
  const broker = await startKafkaBroker();
  let intakePid: number | undefined;
  try {
    const port = await freePort();
    const configFile = join(dir, 'jobrunner.conf');
    writeFileSync(
      configFile,
      JSON.stringify({
        backend: 'kafka',
        redis: { aggregators: ['127.0.0.1:6379'], queues: ['127.0.0.1:6379'] },
        logging: { level: 'warn' },
        kafka: { brokers: [broker.address], datacenter: 'bench', endpoint: 'http://127.0.0.1:1/unused' },
        intake: { port },
      }),
    );
    const script = fileURLToPath(new URL('../cli/jobrunner-intake.js', import.meta.url));
    const child = spawn(process.execPath, [script, `--config-file=${configFile}`], {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not start jobrunner-intake');
    intakePid = pid;
    trackPid(pid);
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ready = await fetch(`${base}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (i > 300) throw new Error('jobrunner-intake did not become ready within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }

    const secretKey = 'bench-secret-key-0123456789abcdef';
    const bodies: Buffer[] = [];
    for (let made = 0; made < options.events; made += options.batch) {
      const n = Math.min(options.batch, options.events - made);
      const events = Array.from({ length: n }, (_, i) =>
        buildJobEvent(
          {
            type: TYPES[(made + i) % TYPES.length] ?? 'refreshLinks',
            database: `wiki${(made + i) % 900}`,
            params: { namespace: 0, title: `Page_${made + i}`, causeAction: 'edit-page' },
            removeDuplicates: true,
          },
          { secretKey },
        ).bytes.toString('utf8'),
      );
      bodies.push(Buffer.from(`[${events.join(',')}]`));
    }
    // Warm-up: one batch per type topic, so topic creation is not timed.
    // Enough connections that the open-loop run never queues in the client.
    const agent = new Agent({ connections: Math.max(options.clients, 64), keepAliveTimeout: 30_000 });
    const post = async (body: Buffer): Promise<number> => {
      const response = await agent.request({
        origin: base,
        path: '/v1/events',
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      await response.body.dump();
      return response.statusCode;
    };
    const warm = Array.from(
      { length: TYPES.length },
      (_, i) => buildJobEvent({ type: TYPES[i] ?? 'x', database: 'warm', params: {} }, { secretKey }).bytes,
    );
    if ((await post(Buffer.from(`[${warm.map(String).join(',')}]`))) !== 201)
      throw new Error('warm-up refused');

    // 1. Closed loop: `clients` requests in flight, each sent when the previous one is answered
    //    (the most the intake takes). 2. Open loop at the target rate (--rate): a request starts
    //    every batch/rate seconds whether or not earlier ones were answered, so latency is measured
    //    at that load, not inflated by queueing behind the clients' own backlog.
    const run = async (pacedEventsPerSecond: number | undefined): Promise<LoadResult> => {
      const latencies: number[] = [];
      const statuses = new Map<number, number>();
      const one = async (body: Buffer): Promise<void> => {
        const t0 = performance.now();
        const status = await post(body);
        latencies.push(performance.now() - t0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      };
      const cpuBefore = cpuSeconds(pid);
      const started = performance.now();
      if (pacedEventsPerSecond === undefined) {
        let next = 0;
        await Promise.all(
          Array.from({ length: options.clients }, async () => {
            for (let body = bodies[next++]; body !== undefined; body = bodies[next++]) await one(body);
          }),
        );
      } else {
        const intervalMs = (options.batch / pacedEventsPerSecond) * 1000;
        const sent: Promise<void>[] = [];
        for (let i = 0; i < bodies.length; i++) {
          const due = started + i * intervalMs;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          sent.push(one(bodies[i] as Buffer));
        }
        await Promise.all(sent);
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu = cpuSeconds(pid) - cpuBefore;
      latencies.sort((a, b) => a - b);
      return { seconds, cpu, latencies, statuses };
    };
    const closed = await run(undefined);
    const paced = await run(options.rate);
    await agent.close();
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const produced = 2 * options.events + warm.length;
    const inKafka = await countInKafka(
      broker.address,
      TYPES.map((t) => `bench.mediawiki.job.${t}`),
      produced,
    );
    const machine = collectMachineInfo();
    out(formatMachineInfo(machine));
    const warning = busyMachineWarning(machine);
    if (warning !== null) out(warning);
    out('');
    const report = (title: string, r: LoadResult): void => {
      const summary = summarize(r.latencies);
      const p95 = r.latencies.length > 0 ? percentile(r.latencies, 0.95) : undefined;
      out(title);
      out(
        `  accepted:        ${(options.events / r.seconds).toFixed(0)} events/s (${bodies.length} requests in ${r.seconds.toFixed(2)} s)`,
      );
      out(`  statuses:        ${[...r.statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`);
      out(
        `  request latency: p50 ${formatMs(summary?.p50)}  p95 ${formatMs(p95)}  p99 ${formatMs(summary?.p99)}  max ${formatMs(summary?.max)}`,
      );
      out(`  intake CPU:      ${((r.cpu / options.events) * 1000 * 1000).toFixed(1)} ms per 1,000 events`);
    };
    report(
      `jobrunner-intake, acks=all, ${options.events} events in batches of ${options.batch}, ${options.clients} clients (closed loop: as fast as it answers)`,
      closed,
    );
    report(
      `jobrunner-intake, acks=all, ${options.events} events in batches of ${options.batch}, offered at ${options.rate} events/s (open loop)`,
      paced,
    );
    out(`  RSS:             ${rss.toFixed(0)} MB`);
    // At least once: a produce retried after a timeout can write a batch twice (the runner's dedup
    // by meta.id skips such copies).
    out(
      `  in Kafka:        ${inKafka} messages for ${produced} events (both runs, incl. ${warm.length} warm-up; more = producer retries)`,
    );
    out('  targets:         >= 5,000 events/s, p99 <= 50 ms (at the offered 5,000 events/s)');
    const ok =
      closed.statuses.get(201) === bodies.length &&
      paced.statuses.get(201) === bodies.length &&
      inKafka >= produced;
    return ok ? 0 : 1;
  } finally {
    if (intakePid !== undefined) {
      signalGroup(intakePid, 'SIGTERM');
      untrackPid(intakePid);
    }
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench:intake', main);
