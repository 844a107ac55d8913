// backend memcached on its real database: MediaWiki 1.39 installed on two private MariaDB servers
// (sections s1 and s2, three wiki databases each), JobQueueDB in every wiki's own database. A real
// template fan-out runs through jobchron's memcached registry and jobrunner's dispatches; several
// runJobs claim from one `job` table at once; a killed runner's claim comes back after claimTTL;
// a wiki whose database is down or refuses the password is one clear error and the others go on.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { freePort } from '../../src/farm/free-port.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startMemcached, type MemcachedHandle } from '../../src/farm/memcached-server.js';
import { isAlive, signalGroup, waitForExit } from '../../src/farm/process-tree.js';
import { JobTableClient } from '../../src/legacy/job-table-client.js';
import { LegacyChron } from '../../src/legacy/registry-chron.js';
import { tsMwToUnix } from '../../src/legacy/mw-timestamp.js';
import { RegistryStore } from '../../src/legacy/registry-store.js';
import { killDaemons, startDaemon, type Daemon } from '../support/daemon.js';
import { silentLogger } from '../support/log-capture.js';
import { until } from '../support/until.js';
import {
  JOBCHRON,
  JOBRUNNER,
  farmJobTable,
  jobTableRows,
  requireBuiltClis,
  runJobqueue,
  total,
  writeFarmConfig,
} from './migrate-support.js';

/** JobQueueDB claimTTL of the farm and of jobrunner's limits (seconds). */
const CLAIM_TTL = 4;
const PAGES = { wiki1: 200, wiki2: 100 };

let memcached: MemcachedHandle;
let farm: MediaWikiFarm;
let tables: JobTableClient;
let configFile: string;
const daemons: Daemon[] = [];
const quiet = silentLogger();

interface RunJobsResult {
  jobs: { type: string; status: string }[];
  reached: string;
}

async function mwEval(wiki: string, code: string): Promise<string> {
  return (await farm.maintenance(wiki, 'eval.php', [], code)).stdout.trim();
}

/** SQL on the wiki's own section server. */
async function sql(wiki: string, statement: string): Promise<string> {
  return (await farm.mariadb!.sectionOf(wiki).server.sql(`USE ${wiki};\n${statement}`)).trim();
}

beforeAll(async () => {
  requireBuiltClis();
  memcached = await startMemcached();
  farm = await buildFarm({
    redis: '127.0.0.1:9',
    queue: 'db',
    wikis: 6,
    memcached: memcached.address,
    mariadb: { sections: 2, claimTTL: CLAIM_TTL },
    debugLog: true,
  });
  tables = new JobTableClient();
  configFile = writeFarmConfig(join(farm.dir, 'legacy.conf'), {
    farm,
    memcached: memcached.address,
    backend: 'memcached',
    extra: { limits: { claimTTL: { '*': CLAIM_TTL } } },
  });
}, 180_000);

afterAll(async () => {
  await killDaemons(daemons);
  tables?.close();
  try {
    await farm?.destroy();
  } finally {
    await memcached?.stop();
  }
});

describe('MediaWiki farm on MariaDB (JobQueueDB)', () => {
  it('puts three wiki databases on each of two servers, each wiki queueing jobs in its own database', async () => {
    const [s1, s2] = farm.mariadb!.sections;
    expect(s1?.wikis).toEqual(['wiki1', 'wiki3', 'wiki5']);
    expect(s2?.wikis).toEqual(['wiki2', 'wiki4', 'wiki6']);
    expect((await s1!.server.sql('SHOW DATABASES')).split('\n')).toEqual(
      expect.arrayContaining(['wiki1', 'wiki3', 'wiki5']),
    );
    expect((await s1!.server.sql('SHOW DATABASES')).split('\n')).not.toContain('wiki2');
    const seen = await mwEval(
      'wiki4',
      'echo $wgDBserver, " ", get_class( MediaWiki\\MediaWikiServices::getInstance()->getJobQueueGroupFactory()->makeJobQueueGroup()->get( "null" ) ), "\\n";',
    );
    expect(seen).toBe(`${s2!.server.address} JobQueueDB`);
  });
});

describe('the MariaDB fixture', () => {
  it('brings a server killed with SIGKILL back on its port with its committed data', async () => {
    const { server } = farm.mariadb!.sections[1]!;
    const { port, pid } = server;
    await server.sql(
      'CREATE DATABASE jr_fixture; CREATE TABLE jr_fixture.t (v INT) ENGINE=InnoDB; INSERT INTO jr_fixture.t VALUES (42);',
    );
    await server.kill9();
    expect(isAlive(pid)).toBe(false);
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect((await server.sql('SELECT v FROM jr_fixture.t')).trim()).toBe('42');
    await server.sql('DROP DATABASE jr_fixture');
  });
});

describe('backend memcached on MariaDB: a template fan-out end to end', () => {
  it('showJobs.php and `jobqueue status` agree on the job tables the edits filled', async () => {
    for (const [wiki, count] of Object.entries(PAGES)) {
      await farm.edit(wiki, 'Template:Box', 'box v1');
      const pages: Record<string, string> = {};
      for (let i = 1; i <= count; i++) pages[`Page ${i}`] = `page ${i} {{Box}}`;
      await farm.importPages(wiki, pages);
      await farm.maintenance(wiki, 'runJobs.php', ['--nothrottle']); // the imports' own jobs
      // The edit that fans out: every page using the template gets refreshLinks and htmlCacheUpdate.
      await farm.edit(wiki, 'Template:Box', 'box v2 [[Category:Boxed]]');
    }
    const status = await runJobqueue(['-c', configFile, 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const body = JSON.parse(status.stdout) as {
      queues: { wiki: string; type: string; unclaimed: number; claimed: number; abandoned: number }[];
      errors: unknown[];
    };
    expect(body.errors).toEqual([]);
    for (const wiki of Object.keys(PAGES)) {
      // First showJobs of these wikis: JobQueueDB's 30 s size cache holds nothing stale.
      const fromMediaWiki = new Map<string, string>();
      for (const line of (await farm.showJobs(wiki, { group: true })).split('\n')) {
        const m = /^(\S+): (\d+) queued; (\d+) claimed \((\d+) active, (\d+) abandoned\)/.exec(line);
        if (m) fromMediaWiki.set(m[1] ?? '', `${m[2]} ${m[4]} ${m[5]}`);
      }
      const fromStatus = new Map(
        body.queues
          .filter((q) => q.wiki === wiki)
          .map((q) => [q.type, `${q.unclaimed} ${q.claimed} ${q.abandoned}`]),
      );
      expect(fromStatus).toEqual(fromMediaWiki);
      expect(fromStatus.has('refreshLinks')).toBe(true);
    }
  }, 240_000);

  it('jobchron keeps the registry from the MariaDB tables and jobrunner runs the fan-out to the end', async () => {
    expect(total(await jobTableRows(tables, farm))).toBeGreaterThan(0);
    const chron = startDaemon(JOBCHRON, configFile);
    const runner = startDaemon(JOBRUNNER, configFile);
    daemons.push(chron, runner);
    try {
      await until(
        async () => total(await jobTableRows(tables, farm)) === 0,
        'every job table empty',
        240_000,
      );
    } finally {
      chron.child.kill('SIGTERM');
      runner.child.kill('SIGTERM');
    }
    expect((await chron.exited).code).toBe(0);
    expect((await runner.exited).code).toBe(0);
    // The fan-out really ran: every page using the template (and the template) is in the category
    // only its second version adds, which only refreshLinks jobs put there.
    for (const [wiki, count] of Object.entries(PAGES)) {
      expect(await sql(wiki, "SELECT COUNT(*) FROM categorylinks WHERE cl_to = 'Boxed'")).toBe(
        String(count + 1),
      );
    }
    const ends = runner.logs.filter((l) => l.msg === 'dispatch end');
    expect(ends.length).toBeGreaterThan(0);
    expect(ends.filter((l) => l.outcome !== 'ok')).toEqual([]);
    const dispatched = new Set(
      runner.logs.filter((l) => l.msg === 'dispatch start').map((l) => String(l.wiki)),
    );
    expect([...dispatched].sort()).toEqual(expect.arrayContaining(['wiki1', 'wiki2']));
    expect([...runner.logs, ...chron.logs].filter((l) => l.level === 'error')).toEqual([]);
  }, 300_000);
});

describe('JobQueueDB claims under InnoDB', () => {
  it('four runJobs claiming from one job table run every job exactly once', async () => {
    const jobs = 400;
    await farm.pushJobs('wiki3', { type: 'null', count: jobs, usleep: 20_000 });
    const results = (await Promise.all(
      [1, 2, 3, 4].map(() => farm.runJobs('wiki3', { type: 'null' })),
    )) as RunJobsResult[];
    expect(results.reduce((n, r) => n + r.jobs.length, 0)).toBe(jobs);
    expect(results.flatMap((r) => r.jobs).filter((j) => j.status !== 'ok')).toEqual([]);
    // 8 s of sleeping jobs: the runners overlapped, so they really competed for rows.
    expect(results.filter((r) => r.jobs.length > 0).length).toBeGreaterThanOrEqual(2);
    // MediaWiki's runJobs debug log: one STARTING line per job, across all four processes.
    const started = readFileSync(join(farm.dir, 'logs', 'runJobs.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(' wiki3: null ') && l.endsWith(' STARTING'))
      .map((l) => Number(/ seq=(\d+)/.exec(l)?.[1]));
    expect(started).toHaveLength(jobs);
    expect(new Set(started).size).toBe(jobs);
    expect(await sql('wiki3', "SELECT COUNT(*) FROM job WHERE job_cmd = 'null'")).toBe('0');
  }, 120_000);

  it('a claim whose runner was killed comes back after claimTTL, as JobQueueDB recycles it', async () => {
    await farm.pushJobs('wiki5', { type: 'mwlabSleep', params: { seconds: 3 } });
    const runner = spawn(
      'php',
      [join(farm.mediawikiPath, 'maintenance', 'runJobs.php'), '--wiki=wiki5', '--type=mwlabSleep'],
      { env: farm.env(), stdio: 'ignore', detached: true },
    );
    const claimed = async () => (await tables.read(farmJobTable(farm, 'wiki5'), { after: 0, limit: 10 }))[0];
    await until(async () => ((await claimed())?.token ?? '') !== '', 'the job claimed');
    signalGroup(runner.pid!, 'SIGKILL');
    await waitForExit(runner.pid!, 10_000);
    const row = await claimed();
    expect(row?.attempts).toBe(1);
    const claimedAt = tsMwToUnix(row?.tokenTimestamp ?? null) ?? NaN;

    const chron = new LegacyChron(loadConfigFile(configFile), { logger: quiet });
    try {
      // Still within claimTTL: claimed, not ready, and a runner pops nothing.
      const early = await chron.runPass();
      expect(early.registry.pending.get('mwlabSleep') ?? []).not.toContain('wiki5');
      const first = (await farm.runJobs('wiki5', { type: 'mwlabSleep' })) as RunJobsResult;
      if (Date.now() / 1000 < claimedAt + CLAIM_TTL) expect(first.jobs).toEqual([]);

      await until(() => Date.now() / 1000 > claimedAt + CLAIM_TTL + 1, 'claimTTL passed', 30_000);
      const late = await chron.runPass();
      expect(late.registry.pending.get('mwlabSleep')).toContain('wiki5');
    } finally {
      await chron.stop();
    }
    // The next pop finds nothing claimable and recycles the stale claim; the one after runs it.
    const ran: RunJobsResult['jobs'] = [];
    await until(
      async () => {
        ran.push(...((await farm.runJobs('wiki5', { type: 'mwlabSleep' })) as RunJobsResult).jobs);
        return ran.length > 0;
      },
      'the recycled job run',
      60_000,
    );
    expect(ran).toEqual([expect.objectContaining({ type: 'mwlabSleep', status: 'ok' })]);
    expect(await sql('wiki5', 'SELECT COUNT(*) FROM job')).toBe('0');
  }, 120_000);
});

describe('bad database settings', () => {
  it('a wiki whose server is down or refuses the password is one clear error; the other wikis go on', async () => {
    const deadPort = await freePort();
    const wrongPassword = join(farm.dir, 'wrong.pass');
    writeFileSync(wrongPassword, 'not-the-password-7c1d\n', { mode: 0o600 });
    const base = JSON.parse(readFileSync(configFile, 'utf8')) as {
      memcached: { wikis: Record<string, Record<string, string>> };
    };
    base.memcached.wikis.wiki2 = { ...base.memcached.wikis.wiki2, passwordFile: wrongPassword };
    base.memcached.wikis.wiki4 = {
      ...base.memcached.wikis.wiki4,
      dsn: `mysql:host=127.0.0.1;port=${deadPort};dbname=wiki4`,
    };
    const badConfig = join(farm.dir, 'bad-db.conf');
    writeFileSync(badConfig, JSON.stringify(base));
    await farm.pushJobs('wiki6', { type: 'null', count: 3 });

    const status = await runJobqueue(['-c', badConfig, 'status']);
    const output = `${status.stdout}\n${status.stderr}`;
    expect(output).toMatch(
      /wiki wiki2 \(mysql:host=127\.0\.0\.1;port=\d+;dbname=wiki2, user jobrunner\): cannot connect: .*Access denied/,
    );
    expect(output).toContain(
      `wiki wiki4 (mysql:host=127.0.0.1;port=${deadPort};dbname=wiki4, user jobrunner)`,
    );
    expect(output).toMatch(/wiki6 +null +3 /);
    for (const secret of [farm.mariadb!.password, 'not-the-password-7c1d'])
      expect(output).not.toContain(secret);

    // jobchron: each bad wiki is one warning over many passes, and wiki6's jobs are still listed.
    const chron = startDaemon(JOBCHRON, badConfig);
    daemons.push(chron);
    const passes = () =>
      chron.logs.filter((l) => l.msg === 'job table could not be read; keeping its last entries');
    await until(() => passes().length >= 2, 'both bad wikis reported');
    const store = new RegistryStore(loadConfigFile(badConfig).memcached!);
    try {
      const stamp = async () => (await store.read()).registry?.timestamp ?? 0;
      const first = await stamp();
      // Passes run every 200 ms: two seconds later about ten more have gone by.
      await until(async () => (await stamp()) >= first + 2, 'two more seconds of chron passes');
      expect((await store.read()).registry?.pending.get('null')).toContain('wiki6');
    } finally {
      store.close();
    }
    chron.child.kill('SIGTERM');
    expect((await chron.exited).code).toBe(0);
    expect(
      passes()
        .map((l) => l.wiki)
        .sort(),
    ).toEqual(['wiki2', 'wiki4']);
    const logged = JSON.stringify(chron.logs);
    for (const secret of [farm.mariadb!.password, 'not-the-password-7c1d'])
      expect(logged).not.toContain(secret);
    await farm.runJobs('wiki6', { type: 'null' });
  }, 120_000);
});
