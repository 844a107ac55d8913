// npm run bench:migrate — `jobqueue migrate` throughput on this machine: N jobs (default 100,000)
// Redis → Kafka, legacy (JobQueueDB tables in SQLite) → Redis and legacy (JobQueueDB tables on two
// MariaDB servers) → Redis, each through the real CLI (copy + verify + --delete-source), against a
// private redis-server, Kafka broker, memcached and mariadbd.
//
//   node dist/bench/migrate.js [--jobs N]
//
// Jobs/s is records handled per second of the migration itself (the CLI's own report); wall time
// also counts the CLI's start-up (configuration schema compile, connections).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { collectMachineInfo, formatMachineInfo, busyMachineWarning } from './common/machine-info.js';
import { formatTable } from './common/table.js';
import { startKafkaBroker } from '../farm/kafka-broker.js';
import { fillMariaDbJobTables } from './common/mariadb-job-tables.js';
import { processCpuSeconds } from './common/process-cpu.js';
import { mediawikiPath } from '../farm/farm-paths.js';
import { startMemcached } from '../farm/memcached-server.js';
import { startRedisServer } from '../farm/redis-server.js';
import { newJobFields } from '../mediawiki/new-job.js';
import { PhpArray } from '../mediawiki/php-serialize.js';
import { RedisQueueStore } from '../redis/queue-store.js';
import type { MigrationReport } from '../migrate/report.js';

const JOBQUEUE = fileURLToPath(new URL('../cli/jobqueue.js', import.meta.url));
const WIKIS = ['benchwiki1', 'benchwiki2', 'benchwiki3', 'benchwiki4'];
const TYPES = ['benchA', 'benchB', 'benchC', 'benchD', 'benchE'];
/** Young-generation room: the conversion allocates many short-lived objects. */
const NODE_FLAGS = ['--max-semi-space-size=32'];

interface Result {
  readonly scenario: string;
  readonly jobs: number;
  readonly wallMs: number;
  /** CPU seconds of the CLI and its children (the job-table helper): less load-dependent than jobs/s. */
  readonly cpuSeconds: number;
  /** CPU seconds the database servers used meanwhile (MariaDB; SQLite runs inside the helper). */
  readonly dbCpuSeconds: number;
  readonly report: MigrationReport;
}

/** bash's `times`: the last line is the children's user and system time, e.g. "0m9.120s 0m1.004s". */
function childCpuSeconds(stderr: string): number {
  const line = stderr.trim().split('\n').at(-1) ?? '';
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return parts.length === 2 ? (parts[0] ?? 0) + (parts[1] ?? 0) : NaN;
}

function jobsOption(argv: string[]): number {
  const at = argv.indexOf('--jobs');
  const value = at === -1 ? 100_000 : Number(argv[at + 1]);
  if (!Number.isInteger(value) || value < TYPES.length * WIKIS.length) {
    throw new Error(`--jobs must be a whole number of at least ${TYPES.length * WIKIS.length}`);
  }
  return value;
}

async function runMigrate(
  args: string[],
): Promise<{ report: MigrationReport; wallMs: number; cpuSeconds: number }> {
  const started = Date.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (done) => {
      const child = spawn(
        'bash',
        [
          '-c',
          '"$@"; status=$?; times >&2; exit $status',
          'bash',
          process.execPath,
          ...NODE_FLAGS,
          JOBQUEUE,
          'migrate',
          ...args,
          '--json',
          '--no-progress',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('close', (exit) => done({ code: exit, stdout: out, stderr: err }));
    },
  );
  if (code !== 0)
    throw new Error(`jobqueue migrate exited ${String(code)}: ${stderr.trim() || stdout.trim()}`);
  return {
    report: JSON.parse(stdout) as MigrationReport,
    wallMs: Date.now() - started,
    cpuSeconds: childCpuSeconds(stderr),
  };
}

/** N null-like jobs in MediaWiki's Redis format, spread over the bench wikis and types. */
async function fillRedis(address: { host: string; port: number }, jobs: number): Promise<void> {
  const client = new Redis({ host: address.host, port: address.port });
  try {
    const store = new RedisQueueStore(client);
    const queues = WIKIS.flatMap((wiki) => TYPES.map((type) => ({ wiki, type })));
    for (const [q, { wiki, type }] of queues.entries()) {
      const count = Math.floor(jobs / queues.length) + (q < jobs % queues.length ? 1 : 0);
      for (let start = 0; start < count; start += 5000) {
        const batch = [];
        for (let i = start; i < Math.min(count, start + 5000); i++) {
          batch.push(
            newJobFields({
              type,
              params: PhpArray.from([
                ['seq', i],
                ['requestId', 'b3nchb3nchb3nchb3nchb3nc'],
              ]),
            }),
          );
        }
        await store.pushJobs(type, wiki, batch, { atomic: true });
      }
    }
  } finally {
    client.disconnect();
  }
}

async function flushRedis(address: { host: string; port: number }): Promise<void> {
  const client = new Redis({ host: address.host, port: address.port });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

/** The `job` table DDL of MediaWiki's SQLite schema (read from the installed MediaWiki). */
function jobTableDdl(): string {
  const sql = readFileSync(join(mediawikiPath(), 'maintenance', 'sqlite', 'tables-generated.sql'), 'utf8');
  const statements = sql.split(';').map((s) => s.trim());
  return statements
    .filter((s) => /CREATE (TABLE|INDEX) \S+ ON \/\*_\*\/job \(|CREATE TABLE \/\*_\*\/job \(/.test(s))
    .map((s) => `${s.replace(/\/\*_\*\//g, '')};`)
    .join('\n');
}

/** One SQLite job table per bench wiki with N rows in total, as JobQueueDB would have written them. */
async function fillJobTables(dir: string, jobs: number): Promise<string[]> {
  const files = WIKIS.map((wiki) => join(dir, `${wiki}_jobqueue.sqlite`));
  const script = `
$ddl = $argv[1]; $per = (int)$argv[2]; $types = explode(',', $argv[3]);
foreach (array_slice($argv, 4) as $file) {
  $db = new PDO("sqlite:$file", null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
  $db->exec($ddl);
  $db->beginTransaction();
  $ins = $db->prepare('INSERT INTO job (job_cmd, job_namespace, job_title, job_timestamp, job_params, job_random, job_attempts, job_token, job_token_timestamp, job_sha1) VALUES (?, -1, \\'\\', ?, ?, ?, 0, \\'\\', NULL, ?)');
  for ($i = 0; $i < $per; $i++) {
    $params = serialize(['seq' => $i, 'requestId' => 'b3nchb3nchb3nchb3nchb3nc']);
    $ins->execute([$types[$i % count($types)], gmdate('YmdHis'), $params, mt_rand(0, 2147483647), '']);
  }
  $db->commit();
}`;
  const per = Math.ceil(jobs / WIKIS.length);
  await new Promise<void>((done, fail) =>
    execFile(
      'php',
      ['-r', script, jobTableDdl(), String(per), TYPES.join(','), ...files],
      { maxBuffer: 1 << 20 },
      (error) => (error ? fail(error) : done()),
    ),
  );
  return files;
}

async function main(): Promise<void> {
  const jobs = jobsOption(process.argv.slice(2));
  const machine = collectMachineInfo();
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-bench-migrate-'));
  const [redis, broker, memcached] = await Promise.all([
    startRedisServer(),
    startKafkaBroker({ defaultPartitions: 4 }),
    startMemcached(),
  ]);
  const results: Result[] = [];
  try {
    const configFile = join(dir, 'jobrunner.conf');
    const tableFiles = await fillJobTables(dir, jobs);
    writeFileSync(
      configFile,
      JSON.stringify({
        backend: 'kafka',
        redis: { aggregators: [redis.address], queues: [redis.address] },
        kafka: {
          brokers: [broker.address],
          datacenter: 'bench',
          endpoint: 'http://127.0.0.1:9/rpc/RunSingleJob.php',
          startFrom: 'earliest',
        },
        memcached: {
          servers: [memcached.address],
          wikis: Object.fromEntries(WIKIS.map((wiki, i) => [wiki, { dsn: `sqlite:${tableFiles[i] ?? ''}` }])),
        },
      }),
    );
    const common = ['-c', configFile, '--delete-source', '--batch', '2000'];

    await fillRedis(redis, jobs);
    const toKafka = await runMigrate([
      ...common,
      '--from',
      'redis',
      '--to',
      'kafka',
      '--checkpoint',
      join(dir, 'r2k.cp'),
    ]);
    results.push({ scenario: 'Redis → Kafka', jobs, dbCpuSeconds: 0, ...toKafka });

    const fromLegacy = await runMigrate([
      ...common,
      '--from',
      'memcached',
      '--to',
      'redis',
      '--checkpoint',
      join(dir, 'l2r.cp'),
    ]);
    results.push({
      scenario: 'legacy (JobQueueDB, SQLite) → Redis',
      jobs: fromLegacy.report.totals.found,
      dbCpuSeconds: 0,
      ...fromLegacy,
    });

    // The same jobs from MariaDB job tables (two servers, two wikis each), into an empty Redis.
    await flushRedis(redis);
    const mariadb = await fillMariaDbJobTables(dir, WIKIS, TYPES, jobs);
    try {
      const mariadbConfig = join(dir, 'jobrunner-mariadb.conf');
      const base = JSON.parse(readFileSync(configFile, 'utf8')) as { memcached: Record<string, unknown> };
      writeFileSync(
        mariadbConfig,
        JSON.stringify({ ...base, memcached: { ...base.memcached, wikis: mariadb.wikis } }),
      );
      const dbCpu = () => mariadb.servers.reduce((sum, s) => sum + processCpuSeconds(s.pid), 0);
      const dbCpuBefore = dbCpu();
      const fromMariaDb = await runMigrate([
        '-c',
        mariadbConfig,
        '--delete-source',
        '--batch',
        '2000',
        '--from',
        'memcached',
        '--to',
        'redis',
        '--checkpoint',
        join(dir, 'm2r.cp'),
      ]);
      results.push({
        scenario: 'legacy (JobQueueDB, MariaDB) → Redis',
        jobs: fromMariaDb.report.totals.found,
        dbCpuSeconds: dbCpu() - dbCpuBefore,
        ...fromMariaDb,
      });
    } finally {
      await mariadb.stop();
    }
  } finally {
    await Promise.allSettled([redis.stop(), broker.stop(), memcached.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = results.map((r) => [
    r.scenario,
    String(r.jobs),
    String(r.report.totals.verified),
    String(r.report.totals.deleted),
    (r.report.durationMs / 1000).toFixed(1),
    (r.wallMs / 1000).toFixed(1),
    String(Math.round(r.report.jobsPerSecond)),
    r.cpuSeconds.toFixed(1),
    r.dbCpuSeconds.toFixed(1),
    String(Math.round(r.jobs / (r.cpuSeconds + r.dbCpuSeconds))),
  ]);
  process.stdout.write(`${formatMachineInfo(machine)}\n`);
  const busy = busyMachineWarning(machine);
  if (busy) process.stdout.write(`${busy}\n`);
  process.stdout.write(
    `${formatTable(
      [
        'scenario',
        'jobs',
        'verified',
        'deleted',
        'migration s',
        'wall s',
        'jobs/s',
        'CLI CPU s',
        'DB CPU s',
        'jobs/CPU s',
      ],
      rows,
    )}\n`,
  );
  process.stdout.write(
    '\nTarget: at least 10,000 jobs/s Redis → Kafka and legacy (MariaDB) → Redis.\n' +
      'CLI CPU s: the jobqueue process and its PHP helper; DB CPU s: the mariadbd servers meanwhile;\n' +
      'jobs/CPU s = jobs / (CLI + DB CPU s), a figure other work on the machine disturbs less than jobs/s.\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:migrate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
