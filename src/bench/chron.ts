#!/usr/bin/env node
// npm run bench:chron — how long one jobchron pass takes over 1,000 and 10,000 queues (one ready job
// each, MediaWiki's JobQueueRedis layout), what it costs Redis (INFO cpu delta) and how much memory the
// real jobchron daemon holds. The original chron took 5.29 s / 52.44 s for the same passes
// (original-jobrunner.md, "Measured"), 5 ms of each queue's 5.24 ms being a fixed sleep.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Chron } from '../chron/chron.js';
import { loadConfigFile } from '../config/load.js';
import { startRedisServer, type RedisServerHandle } from '../farm/redis-server.js';
import { newJobFields } from '../mediawiki/new-job.js';
import { PhpArray } from '../mediawiki/php-serialize.js';
import { createLogger } from '../observability/logger.js';
import { RedisQueueStore } from '../redis/queue-store.js';
import { runBench } from './common/run-bench.js';

const SIZES = [1000, 10_000];
const WARM_PASSES = 9;
const ORIGINAL_PASS_MS: Record<number, number> = { 1000: 5290, 10_000: 52_440 };
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'jobchron.js');

interface PassFigures {
  wallMs: number;
  redisCpuMs: number;
  nodeCpuMs: number;
}

interface SizeResult {
  queues: number;
  coldPass: PassFigures;
  warmPassMedian: PassFigures;
  warmPassMin: number;
  daemonPassMedianMs: number;
  daemonRssMb: number;
  originalPassMs: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const round1 = (n: number) => Math.round(n * 10) / 10;

async function redisCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
}

/** `count` queues null/wiki<i>, one ready job each, pushed through MediaWiki's push script. */
async function createQueues(client: Redis, count: number): Promise<void> {
  const store = new RedisQueueStore(client);
  const params = PhpArray.fromRecord({ lives: 1, usleep: 0 });
  for (let start = 0; start < count; start += 500) {
    const pushes: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      pushes.push(store.pushJobs('null', `wiki${i}`, [newJobFields({ type: 'null', params })]));
    }
    await Promise.all(pushes);
  }
}

async function timedPass(chron: Chron, client: Redis, expectQueues: number): Promise<PassFigures> {
  const cpuBefore = await redisCpuMs(client);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  const summary = await chron.runPass();
  const wallMs = performance.now() - started;
  const node = process.cpuUsage(nodeBefore);
  const redisCpu = (await redisCpuMs(client)) - cpuBefore;
  const visited = summary.processed.reduce((n, r) => n + r.queues, 0);
  if (!summary.ok || visited !== expectQueues) {
    throw new Error(`pass visited ${visited} of ${expectQueues} queues (ok=${summary.ok})`);
  }
  return {
    wallMs: round1(wallMs),
    redisCpuMs: round1(redisCpu),
    nodeCpuMs: round1((node.user + node.system) / 1000),
  };
}

/** Runs the real daemon for a few passes: its own pass times (from its debug log) and its RSS. */
async function daemonFigures(configFile: string): Promise<{ passMs: number; rssMb: number }> {
  const child = spawn(process.execPath, [CLI, `--config-file=${configFile}`, '--verbose'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const passes: number[] = [];
  let buffer = '';
  const enough = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const entry = JSON.parse(line) as { msg?: string; startedAt?: number; endedAt?: number };
        if (entry.msg === 'partition pass') passes.push(Number(entry.endedAt) - Number(entry.startedAt));
        if (passes.length >= 4) resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`jobchron exited early (code ${code})`)));
  });
  await enough;
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return { passMs: median(passes.slice(1)), rssMb: round1(rssKb / 1024) };
}

async function measure(size: number, dir: string): Promise<SizeResult> {
  let redis: RedisServerHandle | undefined;
  let client: Redis | undefined;
  try {
    redis = await startRedisServer();
    client = new Redis({ host: redis.host, port: redis.port });
    await createQueues(client, size);
    const configFile = join(dir, `jobrunner-${size}.conf`);
    writeFileSync(
      configFile,
      JSON.stringify({
        groups: { basic: { runners: 0 } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: 'true',
        chron: { intervalMs: 1000 },
        status: { chronPort: 0, runnerPort: 0 },
      }),
    );
    const config = loadConfigFile(configFile);
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    const chron = new Chron(config, {
      logger: createLogger({ service: 'jobchron', level: 'warn', stream: quiet }),
    });
    const coldPass = await timedPass(chron, client, size);
    const warm: PassFigures[] = [];
    for (let i = 0; i < WARM_PASSES; i++) warm.push(await timedPass(chron, client, size));
    await chron.stop();
    const daemon = await daemonFigures(configFile);
    return {
      queues: size,
      coldPass,
      warmPassMedian: {
        wallMs: median(warm.map((w) => w.wallMs)),
        redisCpuMs: median(warm.map((w) => w.redisCpuMs)),
        nodeCpuMs: median(warm.map((w) => w.nodeCpuMs)),
      },
      warmPassMin: Math.min(...warm.map((w) => w.wallMs)),
      daemonPassMedianMs: daemon.passMs,
      daemonRssMb: daemon.rssMb,
      originalPassMs: ORIGINAL_PASS_MS[size] ?? NaN,
    };
  } finally {
    client?.disconnect();
    await redis?.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-chron-'));
  try {
    const probe = await startRedisServer();
    const probeClient = new Redis({ host: probe.host, port: probe.port });
    const redisVersion = /redis_version:(\S+)/.exec(await probeClient.info('server'))?.[1] ?? 'unknown';
    probeClient.disconnect();
    await probe.stop();
    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      redis: redisVersion,
      batchSize: 200,
      // Wall times suffer when other work competes for the cores; the CPU columns much less so.
      loadAverageBefore: loadavg().map(round1),
      loadAverageAfter: [] as number[],
    };
    const results: SizeResult[] = [];
    for (const size of SIZES) results.push(await measure(size, dir));
    machine.loadAverageAfter = loadavg().map(round1);

    const out = process.stdout;
    out.write(
      `jobchron pass benchmark — ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, redis ${machine.redis}\n`,
    );
    out.write(
      `load average before/after: ${machine.loadAverageBefore.join(' ')} / ${machine.loadAverageAfter.join(' ')}\n\n`,
    );
    const header = [
      'queues',
      'cold pass ms',
      'warm pass ms (median)',
      'warm pass ms (best)',
      'Redis CPU ms',
      'jobchron CPU ms',
      'daemon pass ms',
      'daemon RSS MB',
      'original ms',
    ];
    const rows = results.map((r) => [
      String(r.queues),
      String(r.coldPass.wallMs),
      String(r.warmPassMedian.wallMs),
      String(r.warmPassMin),
      String(r.warmPassMedian.redisCpuMs),
      String(r.warmPassMedian.nodeCpuMs),
      String(r.daemonPassMedianMs),
      String(r.daemonRssMb),
      String(r.originalPassMs),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |\n`;
    out.write(line(header));
    out.write(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
    for (const row of rows) out.write(line(row));
    const target = results.find((r) => r.queues === 10_000);
    out.write(
      `\ntarget: 10,000 queues in < 1000 ms — ${target && target.warmPassMedian.wallMs < 1000 ? 'met' : 'NOT met'}\n\n`,
    );
    out.write(`${JSON.stringify({ machine, results }, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench:chron', main);
