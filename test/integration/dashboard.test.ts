// The status dashboard in real headless Chromium (Debian `chromium` via playwright-core) against a
// JobRunner on the MediaWiki test farm, wired as the jobrunner daemon wires it: the page shows the
// queues that exist with the numbers `jobqueue status --json` gives, follows pushes and drains,
// shows slots, failed jobs and dispatches and the jobchron next door, charts the last hour with
// uPlot, and its admin actions need a token checked on entry; pausing a queue from the page stops
// every runner taking it (also a restarted one) until it is resumed; slots a reload removed show
// as closing. Screenshots are kept in test-artifacts/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis-backend.js';
import { Chron } from '../../src/chron/chron.js';
import { runJobqueue } from '../../src/cli/jobqueue/run.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { freePort } from '../../src/farm/free-port.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { noMetrics } from '../../src/observability/statsd.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import type { Dispatcher } from '../../src/runner/dispatch/types.js';
import { JobRunner } from '../../src/runner/runner.js';
import { daemonMetrics, startDaemonStatus, type DaemonStatusHandle } from '../../src/status/daemon-status.js';

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'dashboard-test-redis-pw-5e1f';
const TOKEN = 'dashboard-test-admin-token-a77c3';
const ARTIFACTS = resolve('test-artifacts');

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let dir: string;
let configFile: string;
let config: JobrunnerConfig;
let runner: JobRunner;
let backend: RedisBackend;
let dispatcher: Dispatcher;
let chron: Chron;
let runnerStatus: DaemonStatusHandle;
let chronStatus: DaemonStatusHandle;
let browser: Browser;
let page: Page;
const logs: string[] = [];
/** Confirm dialogs the page showed (all accepted). */
const dialogs: string[] = [];

function logger(service: string) {
  return createLogger({
    service,
    level: 'info',
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  });
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function jobqueue(...args: string[]): Promise<string> {
  const stdin = new PassThrough();
  stdin.end();
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runJobqueue(['-c', configFile, ...args], { stdin, stdout, stderr });
  if (code !== 0) throw new Error(`jobqueue ${args.join(' ')} exited ${code}: ${stderr.text}`);
  return stdout.text;
}

interface Row {
  wiki: string;
  type: string;
  unclaimed: number;
  claimed: number;
  abandoned: number;
  delayed: number;
}

async function cliRows(): Promise<{ rows: Row[]; totals: Record<string, number> }> {
  const doc = JSON.parse(await jobqueue('status', '--json')) as {
    queues: Row[];
    totals: Record<string, number>;
  };
  return {
    rows: doc.queues.map(({ wiki, type, unclaimed, claimed, abandoned, delayed }) => ({
      wiki,
      type,
      unclaimed,
      claimed,
      abandoned,
      delayed,
    })),
    totals: doc.totals,
  };
}

/** The queue table as the page shows it. */
async function pageRows(): Promise<Row[]> {
  return page.$$eval('#queue-rows tr', (trs) =>
    trs.map((tr) => {
      const cell = (col: string) =>
        Number((tr.querySelector(`[data-col="${col}"]`)?.textContent ?? '').replace(/,/g, ''));
      return {
        wiki: tr.getAttribute('data-wiki') ?? '',
        type: tr.getAttribute('data-type') ?? '',
        unclaimed: cell('unclaimed'),
        claimed: cell('claimed'),
        abandoned: cell('abandoned'),
        delayed: cell('delayed'),
      };
    }),
  );
}

async function pageTotal(id: string): Promise<number> {
  return Number(((await page.textContent(`#total-${id}`)) ?? '').replace(/,/g, ''));
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const byName = (a: Row, b: Row) => `${a.wiki}/${a.type}`.localeCompare(`${b.wiki}/${b.type}`);

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install the Debian package chromium (scripts/setup.sh)`);
  redis = await startRedisServer({ password: PASSWORD });
  farm = await buildFarm({ redis });
  client = new Redis({ host: redis.host, port: redis.port, password: PASSWORD });
  dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
  writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
  configFile = join(dir, 'jobrunner.conf');
  const chronPort = await freePort();
  writeFileSync(
    configFile,
    JSON.stringify({
      // The runner runs only `null` and `mwlabFail` jobs, so every other queue holds still while the
      // page is compared (mwlabFail jobs are pushed only once the comparison is done).
      groups: { basic: { runners: 2, include: ['null', 'mwlabFail'] } },
      redis: { aggregators: [redis.address], queues: [redis.address], password: PASSWORD },
      dispatcher: farm.runJobsCommand(),
      // Whole batches per dispatch and no express slot: the closing-slot check needs children that
      // run their jobs to the end rather than the fair policy's short slices. No burst slots either:
      // on a busy machine a quiet queue waiting while both runners are busy would open a third slot,
      // and the page is checked to show exactly the group's 2.
      runner: {
        failureBackoffSeconds: 1,
        maxFailureBackoffSeconds: 2,
        scheduling: {
          sliceSeconds: 60,
          longSliceSeconds: 60,
          expressSlots: 0,
          burstSlots: 0,
          quietBurstSlots: 0,
        },
      },
      status: { address: '127.0.0.1', runnerPort: 0, chronPort, adminTokenFile: join(dir, 'admin.token') },
    }),
  );
  config = loadConfigFile(configFile);

  const runnerLog = logger('jobrunner');
  const runnerMetrics = daemonMetrics(noMetrics, 'jobrunner');
  backend = new RedisBackend(config, runnerLog);
  dispatcher = createDispatcher(config, { logger: runnerLog });
  runner = new JobRunner(config, {
    backend,
    dispatcher,
    logger: runnerLog,
    metrics: runnerMetrics.metrics,
    random: () => 0,
  });
  const started = await startDaemonStatus({
    role: 'jobrunner',
    config,
    logger: runnerLog,
    registry: runnerMetrics.registry,
    status: () => runner.stats(),
    ready: () => runner.stats().state === 'running',
    historyIntervalMs: 300,
  });
  const chronMetrics = daemonMetrics(noMetrics, 'jobchron');
  chron = new Chron(config, { logger: logger('jobchron'), metrics: chronMetrics.metrics, random: () => 0 });
  const chronStarted = await startDaemonStatus({
    role: 'jobchron',
    config,
    logger: logger('jobchron'),
    registry: chronMetrics.registry,
    status: () => chron.getStats(),
    ready: () => true,
    historyIntervalMs: 300,
  });
  if (!started || !chronStarted) throw new Error('status servers did not start');
  runnerStatus = started;
  chronStatus = chronStarted;
  expect(chronStatus.port).toBe(chronPort);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  await runner?.stop(true);
  await dispatcher?.close();
  await backend?.close();
  await chron?.stop();
  await runnerStatus?.close();
  await chronStatus?.close();
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dashboard', () => {
  it('shows the farm with the numbers of jobqueue status, follows pushes and drains, and guards admin actions', async () => {
    // Queues in every state: pushed by jobqueue and by MediaWiki, one claimed by a failed MediaWiki run.
    await jobqueue('push', '--wiki', 'wiki1', '--type', 'typeHold', '--count', '4');
    await jobqueue('push', '--wiki', 'wiki2', '--type', 'refreshLinks', '--count', '2', '--delay', '3600');
    await jobqueue('push', '--wiki', 'nosuchwiki', '--type', 'null', '--count', '1');
    await farm.pushJobs('wiki2', { type: 'mwlabFail', count: 1 });
    await farm.runJobs('wiki2', { type: 'mwlabFail' });
    await farm.pushJobs('wiki1', { type: 'null', count: 6 });
    await chron.runPass(); // nothing due: gives the chron section a pass to show

    await page.goto(runnerStatus.url);
    const expected = await cliRows();
    expect(expected.rows).toHaveLength(5);
    await until('the page to list the farm', async () => (await pageRows()).length === 5);
    expect((await pageRows()).sort(byName)).toEqual([...expected.rows].sort(byName));
    for (const key of ['queues', 'unclaimed', 'claimed', 'abandoned', 'delayed']) {
      expect(await pageTotal(key), key).toBe(expected.totals[key]);
    }
    expect(await page.textContent('#role')).toBe('jobrunner');
    expect(await page.textContent('#daemon-state')).toBe('not ready');
    expect(await page.isVisible('#chron')).toBe(true);
    expect(await page.textContent('#chron-totals')).toContain('Passes1');

    // A push shows up without reloading the page.
    await jobqueue('push', '--wiki', 'wiki2', '--type', 'null', '--count', '3');
    await until('the pushed queue to appear', async () =>
      (await pageRows()).some((r) => r.wiki === 'wiki2' && r.type === 'null' && r.unclaimed === 3),
    );

    // The runner drains the null queues; the page follows and shows slots and the failing wiki,
    // and the job MediaWiki reports failed, with its error.
    await farm.pushJobs('wiki1', { type: 'mwlabFail', count: 1 });
    runner.start();
    await until('the null queues of real wikis to drain on the page', async () => {
      const rows = await pageRows();
      return !rows.some((r) => r.type === 'null' && r.wiki !== 'nosuchwiki');
    });
    await until('the failed dispatch to be listed', async () =>
      ((await page.textContent('#failure-rows')) ?? '').includes('nosuchwiki'),
    );
    expect(await page.textContent('#failure-rows')).toMatch(/unknown wiki 'nosuchwiki'/);
    await until('the failed job to be listed', async () =>
      ((await page.textContent('#failed-job-rows')) ?? '').includes('mwlabFail: deliberate failure'),
    );
    expect(await page.textContent('#failed-job-rows')).toMatch(
      /wiki1\s*mwlabFail\s*mwlabFail: deliberate failure/,
    );

    // The last hour: uPlot draws every chart, and the jobs chart has rates in it.
    await until(
      'history points',
      async () => Number(await page.getAttribute('#history', 'data-points')) >= 3,
    );
    for (const id of ['chart-jobs', 'chart-backlog', 'chart-age', 'chart-pickup']) {
      expect(await page.locator(`#${id} canvas`).count(), id).toBe(1);
    }
    const history = (await (await fetch(`${runnerStatus.url}/api/history`)).json()) as {
      t: number[];
      series: Record<string, (number | null)[]>;
    };
    expect(history.series.jobsOkPerSec?.some((v) => v !== null && v > 0)).toBe(true);
    expect(history.series.unclaimed?.length).toBe(history.t.length);
    expect(await page.textContent('#daemon-state')).toBe('ready');
    expect(await page.textContent('#groups')).toContain('basic');
    expect(await page.locator('#groups .slot').count()).toBe(2);
    const drained = await cliRows();
    await until(
      'the page to match jobqueue status again',
      async () =>
        JSON.stringify((await pageRows()).sort(byName)) === JSON.stringify([...drained.rows].sort(byName)),
    );

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.locator('#history').screenshot({ path: join(ARTIFACTS, 'dashboard-charts.png') });

    // Sorting and filtering happen on the server.
    await page.click('#queues th[data-sort="delayed"]');
    await until(
      'sorted by delayed',
      async () => (await page.getAttribute('#queues th[data-sort="delayed"]', 'aria-sort')) === 'descending',
    );
    expect((await pageRows())[0]).toMatchObject({ wiki: 'wiki2', type: 'refreshLinks', delayed: 2 });
    await page.fill('#filter', 'hold');
    await until('the filter to apply', async () => (await pageRows()).length === 1);
    expect((await pageRows())[0]).toMatchObject({ wiki: 'wiki1', type: 'typeHold', unclaimed: 4 });

    // Admin: hidden until a token is given; a wrong token is refused on entry (no buttons); the
    // right one unlocks; the confirm dialog names the job count; the result shows under the row.
    expect(await page.locator('#queue-rows button[data-action]').count()).toBe(0);
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.fill('#admin-token', 'not-the-token');
    await page.click('#admin-form button[type="submit"]');
    await until('the refusal', async () =>
      ((await page.textContent('#admin-state')) ?? '').startsWith('Not unlocked: wrong admin token'),
    );
    expect(await page.locator('#queue-rows button[data-action]').count()).toBe(0);
    await page.fill('#admin-token', TOKEN);
    await page.click('#admin-form button[type="submit"]');
    await until(
      'unlocked',
      async () => (await page.textContent('#admin-state')) === 'Actions unlocked for this page.',
    );
    await until(
      'action buttons',
      async () => (await page.locator('#queue-rows button[data-action="delete-queue"]').count()) === 1,
    );
    await page.click('#queue-rows button[data-action="delete-queue"]');
    await until(
      'the confirm dialog',
      async () => dialogs.at(-1) === 'Delete the whole typeHold queue of wiki1 (4 jobs)? They are lost.',
    );
    await until('the deletion', async () =>
      ((await page.textContent('#admin-state')) ?? '').startsWith('Deleted 1 queue(s) (4 job(s))'),
    );
    expect(await client.exists('wiki1:jobqueue:typeHold:h-data')).toBe(0);
    await until('the row to go', async () => (await pageRows()).length === 0);
    expect((await cliRows()).rows.some((r) => r.type === 'typeHold')).toBe(false);

    // Nothing secret reached the page or the logs.
    const html = await page.content();
    for (const text of [html, logs.join('')]) {
      for (const secret of [PASSWORD, TOKEN, farm.secretKey]) expect(text).not.toContain(secret);
    }
  });

  it('pauses a queue for every runner (also a restarted one) until resumed, and shows closing slots', async () => {
    await page.fill('#filter', '');
    await until('all rows back', async () => (await pageRows()).length >= 1);
    // A queue to pause: wiki1's null queue, pushed while no runner runs.
    await runner.stop(true);
    const unclaimed = async (wiki: string) => client.llen(`${wiki}:jobqueue:null:l-unclaimed`);
    await farm.pushJobs('wiki1', { type: 'null', count: 3 });
    await until('wiki1 null on the page', async () =>
      (await pageRows()).some((r) => r.wiki === 'wiki1' && r.type === 'null'),
    );
    const row = '#queue-rows tr[data-wiki="wiki1"][data-type="null"]';
    await page.locator(`${row} button[data-action="pause-queue"]`).click();
    await until(
      'the confirm dialog',
      async () => dialogs.at(-1) === 'Pause null on wiki1 (3 jobs wait)? No runner starts it until resumed.',
    );
    await until('the result under the row', async () =>
      ((await page.textContent('#queue-rows tr.row-result')) ?? '').startsWith('Paused null on wiki1'),
    );
    await until('the paused badge', async () => ((await page.textContent(row)) ?? '').includes('paused'));
    expect(await page.textContent('#paused-list')).toContain('wiki1 null');
    // … and in /metrics and /status.
    await until('the paused gauge', async () =>
      /^jobqueue_paused_queues 1$/m.test(await (await fetch(`${runnerStatus.url}/metrics`)).text()),
    );
    const status = (await (await fetch(`${runnerStatus.url}/status`)).json()) as {
      queues: { paused: { wiki: string; type: string }[] };
    };
    expect(status.queues.paused).toEqual([expect.objectContaining({ wiki: 'wiki1', type: 'null' })]);
    await page.locator('#farm').screenshot({ path: join(ARTIFACTS, 'dashboard-paused.png') });

    // A (re)started runner honours the pause from its first poll: another queue drains, this one stays.
    runner = new JobRunner(config, {
      backend,
      dispatcher,
      logger: logger('jobrunner'),
      metrics: daemonMetrics(noMetrics, 'jobrunner').metrics,
      random: () => 0,
    });
    runner.start();
    await farm.pushJobs('wiki2', { type: 'null', count: 2 });
    await until('wiki2 null drained by the runner', async () => (await unclaimed('wiki2')) === 0);
    expect(await unclaimed('wiki1')).toBe(3);

    // Resume from the page: the queue runs again.
    await page
      .locator('#queue-rows tr[data-wiki="wiki1"][data-type="null"] button[data-action="resume-queue"]')
      .click();
    await until('wiki1 null drained after resume', async () => (await unclaimed('wiki1')) === 0, 60_000);
    expect(await page.textContent('#paused-list')).toBe('');

    // Slots a reload removes finish their job and show as closing meanwhile.
    for (const wiki of ['wiki1', 'wiki2'])
      await farm.pushJobs(wiki, { type: 'null', count: 150, usleep: 100_000 });
    // 150 jobs of 0.1 s per child, in one dispatch (60 s slices): the page has 15 s to show the
    // closing slot (it refreshes every 2 s) before it ends.
    await until('both slots busy', async () => runner.stats().groups[0]?.busy === 2);
    const shrunk = join(dir, 'shrunk.conf');
    writeFileSync(shrunk, readFileSync(configFile, 'utf8').replace('"runners":2', '"runners":1'));
    runner.reload(loadConfigFile(shrunk));
    await until('a closing slot', async () => (await page.locator('#groups .slot.retiring').count()) === 1);
    expect(await page.textContent('#groups')).toMatch(/1 of 1 busy, 1 closing when their job ends/);
    await page.locator('#runner').screenshot({ path: join(ARTIFACTS, 'dashboard-closing-slot.png') });
    await until(
      'the closing slot gone',
      async () => (await page.locator('#groups .slot').count()) === 1,
      60_000,
    );
  });

  it('opens a queue: its jobs by state, retry or delete of one job; row order held under the pointer', async () => {
    // wiki2's refreshLinks queue holds 2 delayed jobs; wiki2's mwlabFail job is moved to
    // z-abandoned as jobchron does after its last attempt.
    const failKeys = (k: string) => `wiki2:jobqueue:mwlabFail:${k}`;
    const [claimedId] = await client.zrange(failKeys('z-claimed'), 0, 0);
    expect(claimedId).toBeDefined();
    await client
      .multi()
      .zrem(failKeys('z-claimed'), claimedId!)
      .zadd(failKeys('z-abandoned'), 1_700_000_000, claimedId!)
      .exec();

    const open = async (wiki: string, type: string) => {
      await page
        .locator(`#queue-rows tr[data-wiki="${wiki}"][data-type="${type}"] button[data-open]`)
        .click();
      await until(
        'the queue panel',
        async () => ((await page.textContent('#detail-name')) ?? '') === `${wiki} · ${type}`,
      );
    };
    await until('refreshLinks listed', async () => (await pageRows()).some((r) => r.type === 'refreshLinks'));
    await open('wiki2', 'refreshLinks');
    expect(await page.textContent('#detail-states')).toContain('delayed 2');
    await page.click('#detail-states button[data-state="delayed"]');
    await until(
      'two delayed jobs',
      async () => (await page.locator('#detail-rows tr[data-id]').count()) === 2,
    );
    const ids = await page.$$eval('#detail-rows tr[data-id]', (trs) =>
      trs.map((tr) => tr.getAttribute('data-id')),
    );
    await page.locator(`#detail-rows tr[data-id="${ids[0]}"] button[data-job-action="delete-job"]`).click();
    await until(
      'the confirm dialog',
      async () => dialogs.at(-1) === `Delete job ${ids[0]} of refreshLinks on wiki2? It is lost.`,
    );
    await until(
      'one delayed job left',
      async () => (await page.locator('#detail-rows tr[data-id]').count()) === 1,
    );
    await until('the deletion reported', async () =>
      ((await page.textContent('#detail-note')) ?? '').includes(`Deleted job ${ids[0]} on ${redis.address}`),
    );
    expect(await client.zscore('wiki2:jobqueue:refreshLinks:z-delayed', ids[0]!)).toBeNull();
    expect(await client.hexists('wiki2:jobqueue:refreshLinks:h-data', ids[0]!)).toBe(0);
    expect(await client.zcard('wiki2:jobqueue:refreshLinks:z-delayed')).toBe(1);
    await page.locator('#queue-detail').screenshot({ path: join(ARTIFACTS, 'dashboard-queue.png') });

    await until('mwlabFail listed', async () =>
      (await pageRows()).some((r) => r.wiki === 'wiki2' && r.type === 'mwlabFail' && r.abandoned === 1),
    );
    await open('wiki2', 'mwlabFail');
    await page.click('#detail-states button[data-state="abandoned"]');
    await until(
      'the abandoned job',
      async () => (await page.locator(`#detail-rows tr[data-id="${claimedId}"]`).count()) === 1,
    );
    await page.locator(`#detail-rows tr[data-id="${claimedId}"] button[data-job-action="retry-job"]`).click();
    await until('the retry reported', async () =>
      ((await page.textContent('#detail-note')) ?? '').includes(`Retried job ${claimedId}`),
    );
    expect(await client.zscore(failKeys('z-abandoned'), claimedId!)).toBeNull();
    await page.click('#detail-close');
    expect(await page.isVisible('#queue-detail')).toBe(false);

    // A reload still on its way when the panel is closed (a refresh tick, an action's reload, a
    // state tab) does not open the panel again when its answer comes.
    await open('wiki2', 'mwlabFail');
    let answer!: () => void;
    const held = new Promise<void>((resolve) => (answer = resolve));
    await page.route('**/api/queue?*', async (route) => {
      await held;
      await route.continue();
    });
    const reloaded = page.waitForResponse((response) => response.url().includes('/api/queue?'));
    await page.click('#detail-states button[data-state="abandoned"]');
    await page.click('#detail-close');
    answer();
    // Its whole body received, then one task of the page: the answer has been handled by then.
    await (await reloaded).finished();
    await page.unroute('**/api/queue?*');
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
    expect(await page.isVisible('#queue-detail')).toBe(false);

    // While the pointer is over the table the rows keep their order (numbers still update), so a
    // refresh never puts another queue's button under it; moving away lets the order follow.
    await jobqueue('push', '--wiki', 'wiki1', '--type', 'freezeA', '--count', '5');
    await jobqueue('push', '--wiki', 'wiki2', '--type', 'freezeB', '--count', '1');
    await page.click('#queues th[data-sort="unclaimed"]');
    const order = async () => (await pageRows()).map((r) => r.type).filter((t) => t.startsWith('freeze'));
    await until('A above B', async () => (await order()).join() === 'freezeA,freezeB');
    await page.hover('#queue-rows tr:first-child td[data-col="wiki"]');
    await jobqueue('push', '--wiki', 'wiki2', '--type', 'freezeB', '--count', '10');
    await until('B updated in place', async () =>
      (await pageRows()).some((r) => r.type === 'freezeB' && r.unclaimed === 11),
    );
    expect(await order()).toEqual(['freezeA', 'freezeB']);
    await page.mouse.move(5, 5);
    await until('B above A once the pointer left', async () => (await order()).join() === 'freezeB,freezeA');
  });
});
