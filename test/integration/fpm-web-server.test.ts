// The farm behind real Apache httpd + php-fpm (src/farm/fpm-web-server.ts), as production serves
// MediaWiki: the farm's HTTP entry points answer through it (rpc/RunJobs.php, index.php?wiki= with
// Special:RunJobs, rest.php with PATH_INFO to EventBus's job executor), a request never waits behind
// a running one while a php-fpm child is idle, waits in php-fpm's backlog while none is, and stop()
// leaves no process behind.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { startFpmWebServer, type FpmWebServer } from '../../src/farm/fpm-web-server.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { childPids, isAlive } from '../../src/farm/process-tree.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { EventExecutor } from '../../src/kafka/executor.js';
import { buildJobEvent } from '../../src/kafka/job-event-builder.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import type { DispatchRequest, Dispatcher } from '../../src/runner/dispatch/types.js';
import { silentLogger } from '../support/log-capture.js';
import { until } from '../support/until.js';

const CHILDREN = 2;
/** How long a held request waits for its release before it gives up (a failing run then ends). */
const HOLD_LIMIT_SECONDS = 20;

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let web: FpmWebServer;
let agent: Agent;
let holdDir: string;
const dispatchers: Dispatcher[] = [];

// A test page in the farm's docroot: marks its start, holds until the test releases it (or gives
// up), and reports which php-fpm child ran it and when (PHP's clock, so no timing in the test).
const HOLD_PHP = (dir: string): string => `<?php
header('Content-Type: application/json');
$id = (string)($_GET['id'] ?? '');
if (!preg_match('/^[a-z0-9]+$/', $id)) { http_response_code(400); exit; }
$started = microtime(true);
file_put_contents(${JSON.stringify(dir)} . "/$id.started", (string)$started);
$released = false;
if (($_GET['hold'] ?? '0') === '1') {
  $limit = $started + ${HOLD_LIMIT_SECONDS};
  while (!($released = file_exists(${JSON.stringify(dir)} . "/$id.release")) && microtime(true) < $limit) {
    usleep(5000);
  }
}
echo json_encode(['pid' => getmypid(), 'started' => $started, 'ended' => microtime(true), 'released' => $released]);
`;

beforeAll(async () => {
  redis = await startRedisServer();
  farm = await buildFarm({ redis, wikis: 2, eventBus: true, debugLog: true });
  await farm.setExtraJobTypes({ fpmNull: 'null' });
  holdDir = join(farm.dir, 'tmp', 'fpm-hold');
  mkdirSync(holdDir, { recursive: true });
  writeFileSync(join(farm.dir, 'docroot', 'fpm-hold.php'), HOLD_PHP(holdDir));
  web = await startFpmWebServer({
    docroot: join(farm.dir, 'docroot'),
    env: farm.env(),
    logDir: join(farm.dir, 'logs'),
    workers: CHILDREN,
  });
  agent = new Agent({ keepAliveTimeout: 4000 });
}, 120_000);

afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.close()));
  await agent?.close();
  await web?.stop();
  await farm?.destroy();
  await redis?.stop();
}, 60_000);

function dispatcher(extra: Record<string, unknown>): Dispatcher {
  const config = parseConfigText(
    JSON.stringify({
      groups: { basic: { runners: 2, include: ['*'] } },
      redis: { aggregators: [redis.address], queues: [redis.address] },
      ...extra,
    }),
    join(farm.dir, 'jobrunner.json'),
  );
  const d = createDispatcher(config, { logger: silentLogger() });
  dispatchers.push(d);
  return d;
}

function request(wiki: string, type: string): DispatchRequest {
  return { wiki, domain: wiki, type, maxTime: 30, maxMem: '300M', realLimitSeconds: 120, maxJobs: 0 };
}

interface Held {
  status: number;
  pid: number;
  started: number;
  ended: number;
  released: boolean;
}

async function hold(id: string, held: boolean): Promise<Held> {
  const res = await agent.request({
    origin: web.baseUrl,
    path: `/fpm-hold.php?id=${id}&hold=${held ? 1 : 0}`,
    method: 'GET',
  });
  const text = await res.body.text();
  return { status: res.statusCode, ...(JSON.parse(text) as Omit<Held, 'status'>) };
}

const started = (id: string): boolean => existsSync(join(holdDir, `${id}.started`));
const release = (id: string): void => writeFileSync(join(holdDir, `${id}.release`), '');

/** Connections waiting to be accepted on php-fpm's listen socket (rx_queue of a LISTEN socket). */
function fpmBacklog(): number {
  const local = `0100007F:${web.fpmPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === '0A')
      return parseInt((fields[4] ?? '0:0').split(':')[1] ?? '0', 16);
  }
  throw new Error(`php-fpm's listen socket ${local} is not in /proc/net/tcp`);
}

/** Job runs in MediaWiki's runJobs log (debugLog) that ended "good", by marker. */
function ranMarkers(): string[] {
  const file = join(farm.dir, 'logs', 'runJobs.log');
  if (!existsSync(file)) return [];
  return [...readFileSync(file, 'utf8').matchAll(/ marker=(fpm[0-9a-z-]+)\b[^\n]* good$/gm)].map(
    (m) => m[1] as string,
  );
}

describe('Apache + php-fpm serving the farm', () => {
  it('runs jobs through rpc/RunJobs.php and through Special:RunJobs at index.php?wiki=', async () => {
    const rpc = dispatcher({ dispatcher: web.rpcRunJobsTemplate() });
    const special = dispatcher({
      dispatch: {
        kind: 'special-runjobs',
        baseUrls: { '*': `${web.baseUrl}/index.php?wiki=%(db)u` },
        secretKeyFile: farm.secretKeyFile,
      },
    });
    expect(await farm.pushJobs('wiki2', { type: 'fpmNull', count: 3 })).toBe(3);
    const viaRpc = await rpc.dispatch(request('wiki2', 'fpmNull'), new AbortController().signal);
    expect(viaRpc.outcome, viaRpc.error).toBe('ok');
    expect(viaRpc.okJobs).toBe(3);
    expect(await farm.pushJobs('wiki1', { type: 'fpmNull', count: 2 })).toBe(2);
    const viaSpecial = await special.dispatch(request('wiki1', 'fpmNull'), new AbortController().signal);
    expect(viaSpecial.outcome, viaSpecial.error).toBe('ok');
    expect(viaSpecial.okJobs).toBe(2);
    // The wiki comes from ?wiki=: wiki2's queue was emptied above, wiki1's just now.
    const again = await rpc.dispatch(request('wiki1', 'fpmNull'), new AbortController().signal);
    expect(again.okJobs).toBe(0);
  });

  it("hands rest.php's PATH_INFO to EventBus's job executor, which runs a signed event", async () => {
    const url = `${web.baseUrl}/rest.php/eventbus/v0/internal/job/execute?wiki=wiki2`;
    const post = async (bytes: Buffer) => {
      const res = await fetch(url, {
        method: 'POST',
        body: bytes,
        headers: { 'content-type': 'application/json' },
      });
      return { status: res.status, text: await res.text() };
    };
    const spec = { type: 'fpmNull', database: 'wiki2', params: { marker: 'fpmrest' } };
    const unsigned = await post(buildJobEvent(spec).bytes);
    // EventBus's EventBodyValidator answered: the route reached its handler.
    expect(unsigned.status).toBe(403);
    expect(unsigned.text).toContain('Missing mediawiki signature');
    const signed = await post(buildJobEvent(spec, { secretKey: farm.secretKey }).bytes);
    expect(signed.status, signed.text).toBe(200);
    expect(ranMarkers()).toEqual(['fpmrest']);
  });

  it("the Kafka executor's own HTTP/1.1 client: keep-alive past Apache's limit, chunked failures, EventBus's executor", async () => {
    // Echoes a status and a body of ?n bytes; PHP output without a length goes out chunked.
    writeFileSync(
      join(farm.dir, 'docroot', 'fpm-echo.php'),
      `<?php
$s = (int)($_GET['s'] ?? 200);
http_response_code($s);
if ($s >= 500) header('X-Readonly: 1');
$n = (int)($_GET['n'] ?? 2);
for ($i = 0; $i < $n; $i += 1000) { echo str_repeat('x', min(1000, $n - $i)); flush(); }
`,
    );
    const executor = new EventExecutor(2);
    try {
      // More than Apache's MaxKeepAliveRequests (100) per connection: it closes them on the way.
      const ok = new URL(`${web.baseUrl}/fpm-echo.php?s=200`);
      const results = await Promise.all(
        Array.from({ length: 250 }, () =>
          executor.execute({ url: ok, body: Buffer.from('{}'), timeoutMs: 30_000 }),
        ),
      );
      expect(results.filter((r) => r.kind === 'response' && r.status === 200)).toHaveLength(250);
      const failed = await executor.execute({
        url: new URL(`${web.baseUrl}/fpm-echo.php?s=503&n=70000`),
        body: Buffer.from('{}'),
        timeoutMs: 30_000,
      });
      expect(failed).toMatchObject({ kind: 'response', status: 503, readonly: true });
      expect(failed.kind === 'response' && failed.headers['transfer-encoding']).toBe('chunked');
      expect(failed.kind === 'response' && failed.body).toBe('x'.repeat(64 * 1024));
      const rest = new URL(`${web.baseUrl}/rest.php/eventbus/v0/internal/job/execute?wiki=wiki2`);
      const spec = { type: 'fpmNull', database: 'wiki2', params: { marker: 'fpmexec' } };
      const refused = await executor.execute({
        url: rest,
        body: buildJobEvent(spec).bytes,
        timeoutMs: 30_000,
      });
      expect(refused).toMatchObject({
        kind: 'response',
        status: 403,
        body: expect.stringContaining('Missing mediawiki signature'),
      });
      const ran = await executor.execute({
        url: rest,
        body: buildJobEvent(spec, { secretKey: farm.secretKey }).bytes,
        timeoutMs: 30_000,
      });
      expect(ran).toMatchObject({ kind: 'response', status: 200 });
      expect(ranMarkers()).toContain('fpmexec');
    } finally {
      await executor.close();
    }
  });

  it('runs a request at once in an idle child while another child is inside a long one', async () => {
    for (let round = 0; round < 3; round++) {
      const long = hold(`long${round}`, true);
      await until(() => started(`long${round}`), `held request long${round} running in a child`, 30_000);
      const short = await hold(`short${round}`, false);
      release(`long${round}`);
      const done = await long;
      expect(short.status).toBe(200);
      expect(done).toMatchObject({ status: 200, released: true });
      expect(short.pid).not.toBe(done.pid);
      // Answered while the long request was still held (it ended only after the release).
      expect(short.ended).toBeLessThan(done.ended);
    }
  });

  it("holds a request in php-fpm's backlog while every child is busy, then runs it in the first freed", async () => {
    const a = hold('busya', true);
    const b = hold('busyb', true);
    await until(() => started('busya') && started('busyb'), 'both children inside a held request', 30_000);
    const waiting = hold('waiting', false);
    // It got through Apache and waits for php-fpm to accept it; no third child takes it.
    await until(() => fpmBacklog() === 1, "one connection in php-fpm's listen backlog", 30_000, {
      detail: () => `backlog: ${fpmBacklog()}`,
    });
    expect(started('waiting')).toBe(false);
    release('busya');
    const first = await a;
    const late = await waiting;
    release('busyb');
    const second = await b;
    expect(late).toMatchObject({ status: 200, pid: first.pid });
    expect(late.started).toBeGreaterThanOrEqual(first.ended);
    expect(second).toMatchObject({ status: 200, released: true });
    expect(fpmBacklog()).toBe(0);
  });

  it('stop() ends Apache, php-fpm and every child and removes its run dir', async () => {
    const pids = [web.pid, web.fpmPid, ...childPids(web.pid), ...childPids(web.fpmPid)];
    // Apache's parent and at least one worker process; php-fpm's master and its static pool.
    expect(childPids(web.fpmPid)).toHaveLength(CHILDREN);
    expect(childPids(web.pid).length).toBeGreaterThanOrEqual(1);
    await web.stop();
    expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
    expect(existsSync(web.runDir)).toBe(false);
  });
});
