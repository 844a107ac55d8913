// JobRunner against executors that misbehave, on a real redis-server and a real MediaWiki farm:
// garbage, empty and huge output, non-zero exit, a hang, a job over limits.real, HTTP 500 and HTML
// answers, and a job type full of shell metacharacters. Each failure gives one clear log line and
// a metric, the failing queue backs off, its jobs are not lost, no process is left behind, and the
// healthy queues keep being served.
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { FarmWebServer, MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { escapeshellarg } from '../../src/mediawiki/php-encoding.js';
import type { RedisServerHandle } from '../../src/farm/redis-server.js';
import { queueKey } from '../../src/mediawiki/queue-keys.js';
import { runnerHarness } from '../support/runner-harness.js';
import { StatsdSink } from '../support/statsd-sink.js';
import { until } from '../support/until.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';

const HOST = 'testhost';
const MARK = `runner-failures-${process.pid}-${Date.now()}`;

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
const sink = new StatsdSink();
let sentinel: string;
let metaType: string;

const BAD_TYPES = ['badGarbage', 'badEmpty', 'badHuge', 'badExit', 'badHang'] as const;

beforeAll(async () => {
  ({ redis, farm, client } = await startFarmStack());
  sentinel = join(farm.dir, 'injected');
  metaType = `meta;touch ${sentinel};$(touch ${sentinel})\`touch ${sentinel}\`'"`;
  const extra: Record<string, 'null' | 'sleep'> = {
    [metaType]: 'null',
    httpFail500: 'null',
    httpHtml: 'null',
  };
  for (const t of BAD_TYPES) extra[t] = 'null';
  await farm.setExtraJobTypes(extra);
  await sink.start();
});

afterAll(async () => {
  sink.stop();
  await stopFarmStack({ redis, farm, client });
});

beforeEach(async () => {
  await client.flushall();
  sink.lines.length = 0;
});

const unclaimed = (wiki: string, type: string) => client.llen(queueKey(type, wiki, 'l-unclaimed'));
const claimed = (wiki: string, type: string) => client.zcard(queueKey(type, wiki, 'z-claimed'));

/** PIDs of live processes carrying this test's marker in their environment. */
function markedProcesses(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`RUNNER_TEST_MARK=${MARK}`)) {
        const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
        if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z')
          found.push(Number(entry));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** An executor that misbehaves per job type and runs the real runJobs.php for the others. */
function writeExecutor(): string {
  const exports = Object.entries(farm.farmEnv())
    .map(([k, v]) => `export ${k}=${escapeshellarg(v)}`)
    .join('\n');
  const runJobs = `php ${join(farm.mediawikiPath, 'maintenance', 'runJobs.php')} --wiki="$1" --type="$2" --maxtime="$3" --memory-limit="$4" --result=json`;
  const script = `#!/bin/bash
${exports}
case "$2" in
  badGarbage) echo 'PHP Fatal error: this is not JSON at all' ;;
  badEmpty) ;;
  badHuge) head -c $((8 * 1024 * 1024)) /dev/zero | tr '\\0' 'x' ;;
  badExit) echo 'executor broke: cannot reach the database' >&2; exit 3 ;;
  badHang) sleep 1000 ;;
  mwlabSleep) ${runJobs}; true ;;
  *) exec ${runJobs} ;;
esac
`;
  const file = join(farm.dir, 'bad-executor.sh');
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return file;
}

function failuresFor(logs: Record<string, unknown>[], type: string): Record<string, unknown>[] {
  return logs.filter((l) => l.msg === 'Dispatch failed' && l.type === type);
}

/** Most attempts a back-off of base·2^k seconds, capped at max, allows within `elapsed` seconds. */
function attemptsWithin(elapsed: number, base: number, max: number): number {
  let attempts = 1;
  for (let waited = 0, wait = base; waited + Math.min(wait, max) <= elapsed; wait *= 2) {
    waited += Math.min(wait, max);
    attempts += 1;
  }
  return attempts;
}

describe('JobRunner with misbehaving executors', () => {
  it('logs each command failure once, backs off, kills overruns with their tree, keeps serving others', async () => {
    const executor = writeExecutor();
    const config = parseConfigText(
      JSON.stringify({
        groups: { basic: { runners: 3, include: ['*'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: `env RUNNER_TEST_MARK=${MARK} ${executor} %(db)x %(type)x %(maxtime)x %(maxmem)x`,
        statsd: `127.0.0.1:${sink.port}`,
        limits: { real: { '*': 300, badHang: 1, mwlabSleep: 1 } },
        runner: {
          minRealSeconds: 0,
          killGraceSeconds: 1,
          failureBackoffSeconds: 1,
          maxFailureBackoffSeconds: 4,
        },
      }),
      join(farm.dir, 'jobrunner.conf'),
    );
    for (const type of BAD_TYPES) await farm.pushJobs('wiki1', { type, count: 3 });
    await farm.pushJobs('wiki1', { type: 'mwlabSleep', count: 1, params: { seconds: 30 } });
    await farm.pushJobs('wiki1', { type: metaType, count: 5 });
    await farm.pushJobs('wiki2', { type: 'null', count: 20 });

    const harness = runnerHarness(config, { hostname: HOST });
    const { runner, logs } = harness;
    const startedAt = Date.now();
    runner.start();
    try {
      // The process scan below sees this test's executors while they run.
      await until(() => markedProcesses().length > 0, 'executor processes visible');
      await until(
        () => [...BAD_TYPES, 'mwlabSleep'].every((t) => failuresFor(logs, t).length > 0),
        'a failure line for every bad executor',
      );
      // Healthy queues pushed now are still served while the bad ones keep failing.
      await farm.pushJobs('wiki2', { type: 'null', count: 30 });
      await until(async () => (await unclaimed('wiki2', 'null')) === 0, 'healthy queue served');
      await until(async () => (await unclaimed('wiki1', metaType)) === 0, 'metacharacter type served');
      await until(() => runner.stats().totals.jobsOk >= 55, 'healthy jobs counted');

      const elapsedSeconds = (Date.now() - startedAt) / 1000;
      const expectKinds: Record<string, Record<string, unknown>> = {
        badGarbage: { outcome: 'error', errorKind: 'bad-output' },
        badEmpty: { outcome: 'error', errorKind: 'bad-output' },
        badHuge: { outcome: 'error', errorKind: 'bad-output' },
        badExit: { outcome: 'error', errorKind: 'exit-code', exitCode: 3 },
        badHang: { outcome: 'timeout' },
        mwlabSleep: { outcome: 'timeout' },
      };
      for (const [type, shape] of Object.entries(expectKinds)) {
        const lines = failuresFor(logs, type);
        expect(lines[0], type).toMatchObject({ level: 'error', wiki: 'wiki1', type, ...shape });
        expect(typeof lines[0]?.error, type).toBe('string');
        expect(String(lines[0]?.target), type).toContain(executor);
        // Exponential back-off from 1 s, capped at 4 s (B8): attempt k+1 starts at least
        // 1 + 2 + … (each wait at most 4) seconds after the first, whatever the machine's speed.
        expect(lines.length, type).toBeLessThanOrEqual(attemptsWithin(elapsedSeconds, 1, 4));
      }
      expect(String(failuresFor(logs, 'badExit')[0]?.excerpt)).toContain('cannot reach the database');
      expect(String(failuresFor(logs, 'badGarbage')[0]?.excerpt)).toContain('this is not JSON');
      expect(String(failuresFor(logs, 'badHuge')[0]?.excerpt ?? '').length).toBeLessThan(10_000);

      // Jobs of failing queues are not lost: never popped, or (the killed one) still claimed.
      for (const type of BAD_TYPES) expect(await unclaimed('wiki1', type), type).toBe(3);
      expect((await unclaimed('wiki1', 'mwlabSleep')) + (await claimed('wiki1', 'mwlabSleep'))).toBe(1);
      // The metacharacters reached MediaWiki as one literal type name, never a shell.
      expect(existsSync(sentinel)).toBe(false);

      await until(() => sink.counter('jobrunner.runner-status.timeout') >= 2, 'timeout metric');
      await until(() => sink.counter('jobrunner.runner-status.error') >= 4, 'error metric');
      expect(runner.stats().recentFailures.length).toBeGreaterThanOrEqual(6);
    } finally {
      await harness.stop();
    }
    // No executor, sleep or php process of this test outlives its dispatch (W3, B7).
    expect(markedProcesses()).toEqual([]);
  });

  it('logs HTTP 500 and HTML answers once each and keeps serving the healthy queue', async () => {
    const web: FarmWebServer = await farm.startWebServer();
    // In front of the real rpc/RunJobs.php: two types get broken answers, the rest pass through.
    const proxy: Server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const type = url.searchParams.get('type');
      if (type === 'httpFail500') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error: database gone');
        return;
      }
      if (type === 'httpHtml') {
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<!DOCTYPE html><html><body>Maintenance</body></html>');
        return;
      }
      const upstream = request(
        { host: '127.0.0.1', port: web.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    const config = parseConfigText(
      JSON.stringify({
        groups: { basic: { runners: 2, include: ['*'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: `http://127.0.0.1:${port}/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u`,
        statsd: `127.0.0.1:${sink.port}`,
        runner: { failureBackoffSeconds: 1, maxFailureBackoffSeconds: 4 },
      }),
      join(farm.dir, 'jobrunner-http.conf'),
    );
    await farm.pushJobs('wiki1', { type: 'httpFail500', count: 2 });
    await farm.pushJobs('wiki1', { type: 'httpHtml', count: 2 });
    await farm.pushJobs('wiki2', { type: 'null', count: 10 });
    const harness = runnerHarness(config, { hostname: HOST });
    const { runner, logs } = harness;
    runner.start();
    try {
      await until(
        () => failuresFor(logs, 'httpFail500').length > 0 && failuresFor(logs, 'httpHtml').length > 0,
        'HTTP failure lines',
      );
      await farm.pushJobs('wiki2', { type: 'null', count: 10 });
      await until(async () => (await unclaimed('wiki2', 'null')) === 0, 'healthy queue served over HTTP');
      await until(() => runner.stats().totals.jobsOk >= 20, 'healthy jobs counted');
      expect(failuresFor(logs, 'httpFail500')[0]).toMatchObject({
        outcome: 'error',
        httpStatus: 500,
        wiki: 'wiki1',
      });
      expect(String(failuresFor(logs, 'httpFail500')[0]?.excerpt)).toContain('database gone');
      expect(failuresFor(logs, 'httpHtml')[0]).toMatchObject({
        outcome: 'error',
        httpStatus: 200,
        wiki: 'wiki1',
      });
      expect(String(failuresFor(logs, 'httpHtml')[0]?.target)).toContain(`127.0.0.1:${port}/rpc/RunJobs.php`);
      expect(await unclaimed('wiki1', 'httpFail500')).toBe(2);
      expect(await unclaimed('wiki1', 'httpHtml')).toBe(2);
      await until(() => sink.counter('jobrunner.runner-status.error') >= 2, 'error metric');
    } finally {
      await harness.stop();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await web.stop();
    }
  });
});
