// The real `node dist/cli/jobchron.js` process with a config file: --check-config, upkeep on a real
// redis-server, SIGHUP reload (a bad file is refused and the running config kept), statsd, and a
// SIGTERM that exits 0 promptly with the partition lease released.
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCES_KEY, LEASE_KEY } from '../../src/chron/keys.js';
import { isAlive, waitForExit } from '../../src/farm/process-tree.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { newJobFields } from '../../src/mediawiki/new-job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import { queueKeys } from '../../src/mediawiki/queue-keys.js';
import { metricSegment } from '../../src/observability/statsd.js';
import { RedisQueueStore } from '../../src/redis/queue-store.js';
import { runProcess, type ProcessRun } from '../support/run-process.js';
import { StatsdSink } from '../support/statsd-sink.js';
import { ConfigDir, startChron, waitFor, type ChronProcess } from './chron-support.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const CLI = join(import.meta.dirname, '../../dist/cli/jobchron.js');

let redis: RedisServerHandle;
let client: Redis;
let configs: ConfigDir;
const sink = new StatsdSink();

beforeAll(async () => {
  requireFreshBuild([CLI]);
  redis = await startRedisServer();
  client = new Redis({ host: redis.host, port: redis.port });
  configs = new ConfigDir();
  await sink.start();
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
  configs?.cleanup();
  sink.stop();
});

function run(args: string[]): Promise<ProcessRun> {
  return runProcess(process.execPath, [CLI, ...args]);
}

function daemon(file: string): ChronProcess {
  return startChron(CLI, file, false);
}

async function pushDueJob(domain: string): Promise<void> {
  const params = PhpArray.fromRecord({ jobReleaseTimestamp: Math.floor(Date.now() / 1000) - 5 });
  await new RedisQueueStore(client).pushJobs('null', domain, [newJobFields({ type: 'null', params })]);
}

describe('jobchron command', () => {
  it('checks a config file without starting', async () => {
    const good = configs.write({ queues: [redis.address] });
    const ok = await run([`--config-file=${good}`, '--check-config']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('config OK');

    const bad = join(configs.dir, 'bad.conf');
    writeFileSync(bad, '{ "redis": { "queues": [] } }');
    const notOk = await run([`--config-file=${bad}`, '--check-config']);
    expect(notOk.code).toBe(1);
    expect(notOk.stderr).toContain(bad);

    const started = await run([`--config-file=${bad}`]);
    expect(started.code).toBe(1);
    expect(started.stderr).toContain('invalid configuration');
    expect(await client.exists(LEASE_KEY)).toBe(0);
  });

  it('maintains queues, reloads on SIGHUP (keeping the old config if the new one is bad), stops on SIGTERM', async () => {
    const options = {
      queues: [redis.address],
      statsd: `127.0.0.1:${sink.port}`,
      chron: { intervalMs: 100 },
      limits: { claimTTL: { '*': 3600 } },
    };
    const file = configs.write(options, 'live.conf');
    const { child, lines, exit } = daemon(file);
    try {
      await pushDueJob('wikiA');
      await waitFor(
        'a due delayed job made ready',
        async () => (await client.llen(queueKeys('null', 'wikiA')['l-unclaimed'])) === 1,
      );
      expect(await client.get(LEASE_KEY)).toMatch(/^\d+ /);

      // A job claimed 60 s ago is not stale under claimTTL 3600: a pass makes the due job of the
      // same queue ready and leaves the claim alone.
      const k = queueKeys('null', 'wikiB');
      const id = '0123456789abcdef0123456789abcdef';
      await client.hset(k['h-data'], id, 'a:0:{}');
      await client.hset(k['h-attempts'], id, '1');
      await client.zadd(k['z-claimed'], Math.floor(Date.now() / 1000) - 60, id);
      await pushDueJob('wikiB');
      await waitFor('a pass over wikiB', async () => (await client.llen(k['l-unclaimed'])) === 1);
      expect(await client.zscore(k['z-claimed'], id)).not.toBeNull();

      // … an invalid file on SIGHUP is refused and the daemon keeps going with the old config …
      writeFileSync(file, '{ "redis": ');
      child.kill('SIGHUP');
      await waitFor('the refused reload', () =>
        lines.find((l) => l.msg === 'Configuration reload failed; keeping the running configuration'),
      );
      await pushDueJob('wikiC');
      await waitFor(
        'still working',
        async () => (await client.llen(queueKeys('null', 'wikiC')['l-unclaimed'])) === 1,
      );
      expect(await client.zscore(k['z-claimed'], id)).not.toBeNull();

      // … and a valid one with claimTTL 30 takes effect: the claim is now stale and recycled.
      configs.write({ ...options, limits: { claimTTL: { '*': 30 } } }, 'live.conf');
      child.kill('SIGHUP');
      await waitFor('the reload', () => lines.find((l) => l.msg === 'Configuration reloaded'));
      await waitFor('the stale claim recycled', async () => (await client.llen(k['l-unclaimed'])) === 2);
      expect(await client.lrange(k['l-unclaimed'], -1, -1)).toEqual([id]);
      expect(isAlive(child.pid ?? 0)).toBe(true);

      // SIGTERM: leases released, exit 0 well within systemd's patience (5 s).
      child.kill('SIGTERM');
      expect(await waitForExit(child.pid ?? 0, 5000)).toBe(true);
      expect(await exit).toBe(0);
      expect(await client.exists(LEASE_KEY)).toBe(0);
      expect(await client.zcard(INSTANCES_KEY)).toBe(0);
      expect(lines.find((l) => l.msg === 'Partition lease released')).toBeDefined();
      expect(lines.find((l) => l.msg === 'jobchron stopped')).toBeDefined();
      await waitFor(
        'statsd datagrams',
        () => sink.counter(`jobrunner.start-chron.${metricSegment(hostname())}`) === 1,
      );
      expect(sink.counter(`jobrunner.job-undelay.null`)).toBe(3);
      expect(sink.counter(`jobrunner.job-recycle.null`)).toBe(1);
    } finally {
      if (child.pid !== undefined && isAlive(child.pid)) {
        child.kill('SIGKILL');
        await waitForExit(child.pid, 5000);
      }
    }
  });

  it('exits 0 promptly on SIGTERM in the middle of a long pass', async () => {
    const store = new RedisQueueStore(client);
    const params = PhpArray.fromRecord({ jobReleaseTimestamp: Math.floor(Date.now() / 1000) - 5 });
    for (let start = 0; start < 5000; start += 250) {
      await Promise.all(
        Array.from({ length: 250 }, (_, i) =>
          store.pushJobs('null', `wiki${start + i}`, [newJobFields({ type: 'null', params })]),
        ),
      );
    }
    const file = configs.write(
      { queues: [redis.address], chron: { intervalMs: 100, batchSize: 20 } },
      'long.conf',
    );
    const { child, exit } = daemon(file);
    try {
      await waitFor('the first pass to start', () => client.get(LEASE_KEY), 10_000);
      child.kill('SIGTERM');
      expect(await waitForExit(child.pid ?? 0, 5000)).toBe(true);
      expect(await exit).toBe(0);
      expect(await client.exists(LEASE_KEY)).toBe(0);
    } finally {
      if (child.pid !== undefined && isAlive(child.pid)) {
        child.kill('SIGKILL');
        await waitForExit(child.pid, 5000);
      }
    }
  });
});
