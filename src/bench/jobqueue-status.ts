#!/usr/bin/env node
// npm run bench:status — operator views of a 10,000-queue farm (100 wikis x 100 job types, jobs in
// every state, MediaWiki's JobQueueRedis layout on one redis-server):
//   - `node dist/cli/jobqueue.js status` (--json and table) as a fresh process, start-up included;
//     target: under 2 s;
//   - the same listing in-process (FarmQueues + summary);
//   - the status server: /api/queues and /metrics, cold (Redis listing) and cached;
//   - the dashboard in headless Chromium: navigation to a rendered top-100 table (target < 1 s).
// A benchmark, not a test: it prints figures with the machine they were measured on.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { RedisBackend } from '../backend/redis-backend.js';
import { loadConfigFile } from '../config/load.js';
import { startRedisServer, type RedisServerHandle } from '../farm/redis-server.js';
import { newJobFields } from '../mediawiki/new-job.js';
import { PhpArray } from '../mediawiki/php-serialize.js';
import { queueKeys } from '../mediawiki/queue-keys.js';
import { createLogger } from '../observability/logger.js';
import { noMetrics } from '../observability/statsd.js';
import { RedisQueueStore } from '../redis/queue-store.js';
import { daemonMetrics, startDaemonStatus } from '../status/daemon-status.js';
import { FarmQueues } from '../status/farm-queues.js';
import { summarizeFarm } from '../status/farm-summary.js';
import { collectMachineInfo, formatMachineInfo } from './common/machine-info.js';
import { formatTable } from './common/table.js';
import { runBench } from './common/run-bench.js';

const WIKIS = 100;
const TYPES = 100;
const RUNS = 5;
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'jobqueue.js');
const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);

interface Figure {
  readonly what: string;
  readonly samples: number[];
  readonly target?: number;
  readonly note?: string;
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const ms = (n: number) => `${Math.round(n)} ms`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

/** 10,000 queues; every 10th has a claimed job, every 25th an abandoned one, every 40th a delayed one. */
async function createFarm(client: Redis): Promise<number> {
  const store = new RedisQueueStore(client);
  const now = Math.floor(Date.now() / 1000);
  let jobs = 0;
  const work: { wiki: string; type: string; n: number }[] = [];
  for (let w = 0; w < WIKIS; w++) {
    for (let t = 0; t < TYPES; t++) work.push({ wiki: `wiki${w}`, type: `type${t}`, n: w * TYPES + t });
  }
  for (let i = 0; i < work.length; i += 250) {
    await Promise.all(
      work.slice(i, i + 250).map(async ({ wiki, type, n }) => {
        const depth = 1 + (n % 5);
        const fields = Array.from({ length: depth }, (_, k) =>
          newJobFields({ type, params: PhpArray.from([['k', k]]), now: now - (n % 3600) }),
        );
        if (n % 40 === 0) {
          fields.push(
            newJobFields({ type, params: PhpArray.from([['jobReleaseTimestamp', now + 3600]]), now }),
          );
        }
        await store.pushJobs(type, wiki, fields);
        jobs += fields.length;
        const k = queueKeys(type, wiki);
        // Claimed / abandoned as MediaWiki's pop and the chron leave them.
        const take = async (zset: 'z-claimed' | 'z-abandoned') => {
          const id = await client.rpop(k['l-unclaimed']);
          if (id) {
            await client.zadd(k[zset], now - 60, id);
            await client.hset(k['h-attempts'], id, zset === 'z-abandoned' ? 3 : 1);
          }
        };
        if (n % 10 === 0) await take('z-claimed');
        if (n % 25 === 0 && depth > 1) await take('z-abandoned');
      }),
    );
  }
  return jobs;
}

async function cliStatus(config: string, json: boolean): Promise<{ ms: number; queues: number }> {
  const args = [CLI, 'status', '-c', config, ...(json ? ['--json'] : [])];
  const [elapsed, { stdout }] = await timed(() =>
    run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 }),
  );
  const queues = json
    ? (JSON.parse(stdout) as { totals: { queues: number } }).totals.queues
    : Number(/TOTAL\s+(\d+) queues/.exec(stdout)?.[1] ?? NaN);
  return { ms: elapsed, queues };
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

async function dashboardRender(url: string): Promise<number[] | string> {
  if (!existsSync(CHROMIUM)) return `skipped: ${CHROMIUM} is not installed`;
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    return 'skipped: playwright-core is not installed (devDependency)';
  }
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const page = await browser.newPage();
      const started = performance.now();
      await page.goto(url);
      // Polled from here: the page's CSP forbids the eval a page-side predicate would need.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const rows = await page.locator('#queue-rows tr').count();
        const total = await page.textContent('#total-queues');
        if (rows === 100 && total === '10,000') break;
        if (Date.now() > deadline) {
          const banner = await page.textContent('#error-banner');
          throw new Error(
            `dashboard did not render: ${rows} rows, total ${String(total)}, banner ${String(banner)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      samples.push(performance.now() - started);
      await page.close();
    }
    return samples;
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-status-'));
  let redis: RedisServerHandle | null = null;
  try {
    redis = await startRedisServer();
    const client = new Redis({ host: redis.host, port: redis.port });
    process.stderr.write(`creating ${WIKIS * TYPES} queues on ${redis.address}...\n`);
    const jobs = await createFarm(client);
    const config = join(dir, 'jobrunner.conf');
    writeFileSync(
      config,
      JSON.stringify({
        groups: { basic: { runners: 1 } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: 'true',
        status: { address: '127.0.0.1', runnerPort: 0, chronPort: 0 },
      }),
    );
    const figures: Figure[] = [];

    // The CLI as an operator runs it: a new node process each time.
    for (const json of [true, false]) {
      const samples: number[] = [];
      await cliStatus(config, json); // warm the page cache once
      for (let i = 0; i < RUNS; i++) {
        const result = await cliStatus(config, json);
        if (result.queues !== WIKIS * TYPES) throw new Error(`jobqueue status saw ${result.queues} queues`);
        samples.push(result.ms);
      }
      figures.push({
        what: `jobqueue status${json ? ' --json' : ' (table)'}, new process`,
        samples,
        target: 2000,
      });
    }

    // In-process: just the listing and the aggregation.
    const loaded = loadConfigFile(config);
    const quiet = createLogger({
      service: 'bench',
      level: 'error',
      stream: new Writable({ write: (_c, _e, done) => done() }),
    });
    const backend = new RedisBackend(loaded, quiet);
    const farm = new FarmQueues(backend);
    const inProcess: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const [elapsed, summary] = await timed(async () => summarizeFarm(await farm.list()));
      if (summary.totals.queues !== WIKIS * TYPES)
        throw new Error(`listing saw ${summary.totals.queues} queues`);
      if (i > 0) inProcess.push(elapsed);
    }
    figures.push({ what: 'listing + summary in-process', samples: inProcess });
    await backend.close();

    // The status server: cold = the first request after the cache expired (one Redis listing).
    const { registry } = daemonMetrics(noMetrics, 'jobrunner');
    const server = await startDaemonStatus({
      role: 'jobrunner',
      config: loaded,
      logger: quiet,
      registry,
      status: () => ({}),
      ready: () => true,
    });
    if (!server) throw new Error('status server did not start');
    try {
      const cold: number[] = [];
      const warm: number[] = [];
      const metricsCold: number[] = [];
      let series = 0;
      for (let i = 0; i < RUNS; i++) {
        await new Promise((r) => setTimeout(r, 2100)); // let the 2 s cache expire
        cold.push((await timed(() => fetchText(`${server.url}/api/queues?limit=100`)))[0]);
        warm.push((await timed(() => fetchText(`${server.url}/api/queues?limit=100&sort=total`)))[0]);
        await new Promise((r) => setTimeout(r, 2100));
        const [elapsed, text] = await timed(() => fetchText(`${server.url}/metrics`));
        metricsCold.push(elapsed);
        series = text.split('\n').filter((l) => l.startsWith('jobqueue_jobs{')).length;
      }
      figures.push({ what: '/api/queues top 100, cold (Redis listing)', samples: cold });
      figures.push({ what: '/api/queues top 100, cached, re-sorted', samples: warm });
      figures.push({ what: `/metrics, cold (${series} jobqueue_jobs series)`, samples: metricsCold });
      const render = await dashboardRender(server.url);
      if (typeof render === 'string') figures.push({ what: 'dashboard render', samples: [], note: render });
      else
        figures.push({
          what: 'dashboard: navigation to rendered top-100 table',
          samples: render,
          target: 1000,
        });
    } finally {
      await server.close();
    }
    client.disconnect();

    const rows = figures.map((f) => [
      f.what,
      f.samples.length ? ms(median(f.samples)) : '-',
      f.samples.length ? ms(Math.min(...f.samples)) : '-',
      f.samples.length ? ms(Math.max(...f.samples)) : '-',
      f.target === undefined
        ? ''
        : `< ${ms(f.target)}: ${f.samples.length && median(f.samples) < f.target ? 'met' : 'NOT met'}`,
      f.note ?? '',
    ]);
    process.stdout.write(
      `\njobqueue status benchmark: ${WIKIS * TYPES} queues (${WIKIS} wikis x ${TYPES} types), ${jobs} jobs, one partition, ${RUNS} runs each\n\n`,
    );
    process.stdout.write(`${formatTable(['measure', 'median', 'min', 'max', 'target', 'note'], rows)}\n\n`);
    process.stdout.write(`${formatMachineInfo(collectMachineInfo())}\n`);
  } finally {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench:status', main);
