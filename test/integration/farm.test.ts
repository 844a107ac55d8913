// The server fixtures and the real MediaWiki 1.39 farm that other integration tests, the demo and the
// benchmarks build on: real redis-server, memcached, PHP and MediaWiki; nothing mocked.
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { runCommand, FarmCommandError } from '../../src/farm/php-command.js';
import { isAlive } from '../../src/farm/process-tree.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { startMemcached } from '../../src/farm/memcached-server.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';

interface RunJobsJson {
  jobs: { type: string; status: string; error: string | null }[];
  reached: string;
}

// A type name that needs rawurlencode in keys and escaping in JSON and shell commands.
const ODD_TYPE = `a;b$(x)'" c/d é`;
const ODD_WIKI = 'wiki+é';
const PREFIX_WIKI = 'wikip-pfx_'; // DB "wikip", table prefix "pfx_"

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;

beforeAll(async () => {
  ({ redis, farm, client } = await startFarmStack({ extraWikis: [ODD_WIKI, PREFIX_WIKI] }));
});

afterAll(async () => {
  await stopFarmStack({ redis, farm, client });
});

beforeEach(async () => {
  await client.flushall();
});

const keys = async (): Promise<string[]> => (await client.keys('*')).sort();

describe('server fixtures', () => {
  it('restarts Redis on the same port with AOF data, after SIGKILL too, and cleans up on stop', async () => {
    const server = await startRedisServer({ appendOnly: true, password: 'pw with space' });
    const c = new Redis({ port: server.port, password: 'pw with space', lazyConnect: true });
    try {
      await c.connect();
      await c.set('k', 'v1');
      await server.restart();
      expect(await c.get('k')).toBe('v1'); // ioredis reconnects to the same port
      const oldPid = server.pid;
      await c.set('k', 'v2');
      await server.kill9();
      expect(isAlive(oldPid)).toBe(false);
      await server.restart();
      expect(server.pid).not.toBe(oldPid);
      expect(await c.get('k')).toBe('v2');
    } finally {
      c.disconnect();
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
  });

  it('names the missing binary and the setup command', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startRedisServer()).rejects.toThrow(/redis-server.*missing.*sudo bash scripts\/setup\.sh/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('starts and stops memcached', async () => {
    const mc = await startMemcached();
    expect(mc.address).toBe(`127.0.0.1:${mc.port}`);
    await mc.stop();
    expect(isAlive(mc.pid)).toBe(false);
  });
});

describe('MediaWiki farm', () => {
  it('has the wikis and a private secret key', () => {
    expect(farm.wikis).toEqual(['wiki1', 'wiki2', ODD_WIKI, PREFIX_WIKI]);
    expect(farm.secretKey).toMatch(/^[0-9a-f]{64}$/);
    expect(farm.mediawikiVersion).toMatch(/^1\.39\./);
  });

  it('pushes null jobs into the documented keys and runs them', async () => {
    expect(await farm.pushJobs('wiki1', { count: 3 })).toBe(3);
    expect(await keys()).toEqual([
      'global:jobqueue:s-queuesWithJobs',
      'wiki1:jobqueue:null:h-data',
      'wiki1:jobqueue:null:l-unclaimed',
    ]);
    expect(await client.smembers('global:jobqueue:s-queuesWithJobs')).toEqual(['["null","wiki1"]']);
    expect(await client.llen('wiki1:jobqueue:null:l-unclaimed')).toBe(3);

    const result = (await farm.runJobs('wiki1', { type: 'null' })) as RunJobsJson;
    expect(result.reached).toBe('none-ready');
    expect(result.jobs.map((j) => `${j.type}:${j.status}`)).toEqual(['null:ok', 'null:ok', 'null:ok']);
    expect(await keys()).toEqual(['global:jobqueue:s-queuesWithJobs']);
  });

  it('leaves a failed retryable job claimed with one attempt', async () => {
    await farm.pushJobs('wiki2', { type: 'mwlabFail' });
    await farm.pushJobs('wiki2', { type: 'mwlabThrow' });
    const fail = (await farm.runJobs('wiki2', { type: 'mwlabFail' })) as RunJobsJson;
    expect(fail.jobs).toEqual(
      [{ type: 'mwlabFail', status: 'failed', error: 'mwlabFail: deliberate failure', time: 0 }].map((j) => ({
        ...j,
        time: expect.any(Number),
      })),
    );
    const thrown = (await farm.runJobs('wiki2', { type: 'mwlabThrow' })) as RunJobsJson;
    expect(thrown.jobs[0]?.error).toBe('RuntimeException: mwlabThrow: deliberate exception');

    for (const type of ['mwlabFail', 'mwlabThrow']) {
      const claimed = await client.zrange(`wiki2:jobqueue:${type}:z-claimed`, 0, -1);
      expect(claimed).toHaveLength(1);
      expect(await client.hget(`wiki2:jobqueue:${type}:h-attempts`, claimed[0] ?? '')).toBe('1');
      expect(await client.llen(`wiki2:jobqueue:${type}:l-unclaimed`)).toBe(0);
    }
  });

  it('puts delayed jobs in z-delayed and does not run them', async () => {
    const before = Math.floor(Date.now() / 1000);
    await farm.pushJobs('wiki1', { count: 2, delaySeconds: 3600 });
    const delayed = await client.zrange('wiki1:jobqueue:null:z-delayed', 0, -1, 'WITHSCORES');
    expect(delayed).toHaveLength(4);
    expect(Number(delayed[1])).toBeGreaterThanOrEqual(before + 3600);
    const result = (await farm.runJobs('wiki1', { type: 'null' })) as RunJobsJson;
    expect(result.jobs).toEqual([]);
    expect(await client.zcard('wiki1:jobqueue:null:z-delayed')).toBe(2);
  });

  it('de-duplicates identical jobs', async () => {
    expect(await farm.pushJobs('wiki1', { count: 5, dedupe: true })).toBe(5);
    expect(await client.llen('wiki1:jobqueue:null:l-unclaimed')).toBe(1);
    expect(await client.hlen('wiki1:jobqueue:null:h-idBySha1')).toBe(1);
  });

  it('gets real jobs from a real edit', async () => {
    await farm.edit('wiki1', 'Template:Box', 'a box');
    const summary = await farm.showJobs('wiki1', { group: true });
    expect(summary).toMatch(/htmlCacheUpdate: \d+ queued/);
    // The cache-update job always; RecentChange::save adds a purge job on 1 save in 10 (mt_rand).
    expect(summary).toMatch(/recentChangesUpdate: [12] queued/);
    expect(await client.exists('wiki1:jobqueue:recentChangesUpdate:l-unclaimed')).toBe(1);
    const result = (await farm.runJobs('wiki1')) as RunJobsJson;
    expect(result.jobs.length).toBeGreaterThanOrEqual(2);
    expect(result.jobs.every((j) => j.status === 'ok')).toBe(true);
  });

  it('handles a wiki ID and a job type that need rawurlencode, end to end', async () => {
    await farm.setExtraJobTypes({ [ODD_TYPE]: 'null' });
    await farm.pushJobs(ODD_WIKI, { type: ODD_TYPE, count: 2 });
    expect(await keys()).toEqual([
      'global:jobqueue:s-queuesWithJobs',
      'wiki%2B%C3%A9:jobqueue:a%3Bb%24%28x%29%27%22%20c%2Fd%20%C3%A9:h-data',
      'wiki%2B%C3%A9:jobqueue:a%3Bb%24%28x%29%27%22%20c%2Fd%20%C3%A9:l-unclaimed',
    ]);
    expect(await client.smembers('global:jobqueue:s-queuesWithJobs')).toEqual([
      '["a;b$(x)\'\\" c\\/d \\u00e9","wiki+\\u00e9"]',
    ]);

    // Through the dispatcher template, as a runner would run it: placeholders shell-escaped.
    const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
    const command = farm
      .runJobsCommand()
      .replace('%(db)x', quote(ODD_WIKI))
      .replace('%(type)x', quote(ODD_TYPE))
      .replace('%(maxtime)x', quote('30'))
      .replace('%(maxmem)x', quote('300M'));
    const { stdout } = await runCommand('sh', ['-c', command], { env: { PATH: process.env.PATH } });
    const result = JSON.parse(stdout) as RunJobsJson;
    expect(result.jobs.map((j) => `${j.type}:${j.status}`)).toEqual([`${ODD_TYPE}:ok`, `${ODD_TYPE}:ok`]);
  });

  it('supports a wiki with a table prefix', async () => {
    await farm.pushJobs(PREFIX_WIKI, { count: 1 });
    expect(await client.smembers('global:jobqueue:s-queuesWithJobs')).toEqual(['["null","wikip-pfx_"]']);
    expect(await client.llen('wikip-pfx_:jobqueue:null:l-unclaimed')).toBe(1);
    const result = (await farm.runJobs(PREFIX_WIKI, { type: 'null' })) as RunJobsJson;
    expect(result.jobs.map((j) => j.status)).toEqual(['ok']);
  });

  it('compresses large job blobs with JOBRUNNER_FARM_GZIP=1', async () => {
    const args = [
      join(farm.dir, 'farm', 'pushJobs.php'),
      '--wiki=wiki1',
      `--params={"pad":"${'x'.repeat(4000)}"}`,
    ];
    await runCommand('php', args, { env: farm.env({ JOBRUNNER_FARM_GZIP: '1' }) });
    const blobs = await client.hvals('wiki1:jobqueue:null:h-data');
    expect(blobs[0]).toMatch(/^O:8:"stdClass":2:\{s:4:"blob";/);
  });

  it('fails clearly for an unknown wiki and a missing Redis setting', async () => {
    const unknown = await farm.maintenance('nosuch', 'runJobs.php').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(FarmCommandError);
    expect((unknown as FarmCommandError).exitCode).toBe(1);
    expect((unknown as FarmCommandError).stdout).toContain("mwfarm: unknown wiki 'nosuch'");

    const env = farm.env();
    delete env.JOBRUNNER_FARM_REDIS;
    const script = join(farm.mediawikiPath, 'maintenance', 'runJobs.php');
    const noRedis = await runCommand('php', [script, '--wiki=wiki1'], { env }).catch((e: unknown) => e);
    expect((noRedis as FarmCommandError).stdout).toContain('JOBRUNNER_FARM_REDIS');
  });

  it('serves the wikis, Special:RunJobs and rpc/RunJobs.php over HTTP', async () => {
    const web = await farm.startWebServer({ workers: 2 });
    try {
      const page = await fetch(`${web.indexUrl('wiki2')}&title=Main_Page`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('wiki2');
      expect((await fetch(web.indexUrl('nosuch'))).status).toBe(404);

      await farm.pushJobs('wiki2', { count: 2 });
      const params: Record<string, string> = {
        async: '0',
        maxjobs: '100',
        maxtime: '30',
        sigexpiry: String(Math.floor(Date.now() / 1000) + 60),
        stats: '1',
        tasks: 'jobs',
        title: 'Special:RunJobs',
        type: 'null',
      };
      // ksort + PHP urlencode of these values is plain encodeURIComponent (no spaces or ~ involved).
      const signed = Object.keys(params)
        .sort()
        .map((k) => `${k}=${encodeURIComponent(params[k] ?? '')}`)
        .join('&');
      const signature = createHmac('sha1', farm.secretKey).update(signed).digest('hex');
      const special = await fetch(web.indexUrl('wiki2'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `${signed}&signature=${signature}`,
      });
      expect(special.status).toBe(200);
      const json = (await special.json()) as RunJobsJson;
      expect(json.jobs.map((j) => j.status)).toEqual(['ok', 'ok']);

      const forged = await fetch(web.indexUrl('wiki2'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `${signed}&signature=${'0'.repeat(40)}`,
      });
      expect(forged.status).toBe(400);

      await farm.pushJobs('wiki1', { type: 'mwlabFail' });
      const url = web
        .rpcRunJobsTemplate()
        .replace('%(db)u', 'wiki1')
        .replace('%(type)u', 'mwlabFail')
        .replace('%(maxtime)u', '30')
        .replace('%(maxmem)u', '300M');
      expect(await (await fetch(url)).text()).toBe('Request must use POST.\n');
      const rpc = (await (await fetch(url, { method: 'POST' })).json()) as RunJobsJson;
      expect(rpc.jobs).toEqual([
        {
          type: 'mwlabFail',
          status: 'failed',
          error: 'mwlabFail: deliberate failure',
          time: expect.any(Number),
        },
      ]);
    } finally {
      await web.stop();
    }
    expect(isAlive(web.pid)).toBe(false);
  });
});
