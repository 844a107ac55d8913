// The three dispatchers against the REAL MediaWiki 1.39 farm (SQLite wikis, Redis job queue, php -S):
// jobs pushed through MediaWiki are run by runJobs.php, rpc/RunJobs.php and Special:RunJobs, and the
// counts reported by each dispatcher match what was pushed.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { freePort } from '../../src/farm/free-port.js';
import { buildFarm, type FarmWebServer, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { silentLogger } from '../support/log-capture.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import { CommandDispatcher } from '../../src/runner/dispatch/command-dispatcher.js';
import { createMasker } from '../../src/runner/dispatch/masking.js';
import { SpecialRunJobsDispatcher } from '../../src/runner/dispatch/special-runjobs-dispatcher.js';
import type { DispatchRequest, DispatchResult, Dispatcher } from '../../src/runner/dispatch/types.js';

const logger = silentLogger();

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let web: FarmWebServer;
const dispatchers: Record<'command' | 'http' | 'special-runjobs', Dispatcher> = {} as Record<
  'command' | 'http' | 'special-runjobs',
  Dispatcher
>;

function config(extra: Record<string, unknown>): ReturnType<typeof parseConfigText> {
  return parseConfigText(
    JSON.stringify({
      groups: { basic: { runners: 2, include: ['*'] } },
      redis: { aggregators: [redis.address], queues: [redis.address] },
      ...extra,
    }),
    join(farm.dir, 'jobrunner.json'),
  );
}

beforeAll(async () => {
  redis = await startRedisServer();
  farm = await buildFarm({ redis });
  web = await farm.startWebServer();
  dispatchers.command = createDispatcher(config({ dispatcher: farm.runJobsCommand() }), { logger });
  dispatchers.http = createDispatcher(config({ dispatcher: web.rpcRunJobsTemplate() }), { logger });
  dispatchers['special-runjobs'] = createDispatcher(
    config({
      dispatch: {
        kind: 'special-runjobs',
        baseUrls: { wiki1: web.indexUrl('wiki1'), '*': `${web.baseUrl}/index.php?wiki=%(db)u` },
        secretKeyFile: farm.secretKeyFile,
      },
    }),
    { logger },
  );
});

afterAll(async () => {
  await Promise.all(Object.values(dispatchers).map((d) => d.close()));
  await farm?.destroy();
  await redis?.stop();
});

function request(wiki: string, type: string, overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return {
    wiki,
    domain: wiki,
    type,
    maxTime: 30,
    maxMem: '300M',
    realLimitSeconds: 120,
    maxJobs: 0,
    ...overrides,
  };
}

async function run(kind: keyof typeof dispatchers, req: DispatchRequest): Promise<DispatchResult> {
  return dispatchers[kind].dispatch(req, new AbortController().signal);
}

const KINDS = ['command', 'http', 'special-runjobs'] as const;

describe.each(KINDS)('%s dispatcher on the real farm', (kind) => {
  it('runs the pushed null jobs of each wiki and the counts match', async () => {
    expect(dispatchers[kind].kind).toBe(kind);
    expect(await farm.pushJobs('wiki1', { count: 5 })).toBe(5);
    expect(await farm.pushJobs('wiki2', { count: 3 })).toBe(3);
    const first = await run(kind, request('wiki1', 'null'));
    expect(first.outcome, first.error).toBe('ok');
    expect(first.okJobs).toBe(5);
    expect(first.failedJobs).toBe(0);
    expect(first.byType).toEqual({ null: { ok: 5, failed: 0 } });
    expect(first.result?.reached).toBe('none-ready');
    const second = await run(kind, request('wiki2', 'null'));
    expect(second.outcome, second.error).toBe('ok');
    expect(second.okJobs).toBe(3);
    const empty = await run(kind, request('wiki1', 'null'));
    expect(empty.outcome).toBe('ok');
    expect(empty.okJobs).toBe(0);
    expect(empty.result?.reached).toBe('none-ready');
  });

  it('counts failed jobs without calling the dispatch a failure', async () => {
    await farm.pushJobs('wiki2', { type: 'mwlabFail', count: 2 });
    // MediaWiki's JobRunner backs a type off for 1 s after 1 failure in 50 (mt_rand), in a file under the
    // farm's temp dir; a run that meets it stops early, so drop the file and run again, as runJobs would.
    let failed = 0;
    for (let round = 0; round < 5 && failed < 2; round++) {
      rmSync(join(farm.dir, 'tmp', 'mw-runJobs-backoffs.json'), { force: true });
      const result = await run(kind, request('wiki2', 'mwlabFail'));
      expect(result.outcome, result.error).toBe('ok');
      expect(result.okJobs, JSON.stringify(result)).toBe(0);
      expect(result.failedJobs).toBe(result.result?.jobs.length);
      for (const job of result.result?.jobs ?? []) expect(job.error).toMatch(/mwlabFail/);
      failed += result.failedJobs;
    }
    expect(failed).toBe(2);
  });

  it('reports an unknown job type as reached none-possible', async () => {
    const result = await run(kind, request('wiki1', 'noSuchType'));
    expect(result.outcome, result.error).toBe('ok');
    expect(result.result?.reached).toBe('none-possible');
    expect(result.result?.elapsed).toBeNull();
  });
});

describe('failures on the real farm', () => {
  it('command: Redis down gives exit 1 with the JobQueueConnectionError line', async () => {
    const deadAddress = `127.0.0.1:${await freePort('127.0.0.1')}`;
    const d = new CommandDispatcher({
      template: farm.runJobsCommand().split(redis.address).join(deadAddress),
      killGraceSeconds: 1,
      env: process.env,
      logger,
      mask: createMasker([]),
    });
    const result = await d.dispatch(request('wiki1', 'null'), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('exit-code');
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/JobQueueConnectionError.*Unable to connect to redis server/);
    await d.close();
  });

  it('http: an unknown wiki is an HTTP error status', async () => {
    const result = await run('http', request('nosuchwiki', 'null'));
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('http-status');
    expect(result.httpStatus).toBeGreaterThanOrEqual(400);
  });

  it('special-runjobs: a wrong secret is rejected by MediaWiki with a clear error', async () => {
    const d = new SpecialRunJobsDispatcher({
      baseUrls: { '*': `${web.baseUrl}/index.php?wiki=%(db)u` },
      secretKey: 'not-the-wiki-secret',
      connectTimeoutMs: 2000,
      logger,
      mask: createMasker(['not-the-wiki-secret']),
    });
    const result = await d.dispatch(request('wiki1', 'null'), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('http-status');
    expect(result.httpStatus).toBe(400);
    expect(result.error).toMatch(/invalid or stale signature/);
    expect(JSON.stringify(result)).not.toContain(farm.secretKey);
    await d.close();
  });
});

describe('per-dispatch overhead (1 null job; printed, not asserted)', () => {
  it('measures each dispatcher', async () => {
    const rounds = 7;
    const lines: string[] = [];
    for (const kind of KINDS) {
      const durations: number[] = [];
      for (let i = 0; i < rounds; i++) {
        await farm.pushJobs('wiki1', { count: 1 });
        const result = await run(kind, request('wiki1', 'null'));
        expect(result.okJobs, result.error).toBe(1);
        durations.push(result.durationMs);
      }
      durations.sort((a, b) => a - b);
      const median = durations[Math.floor(rounds / 2)] as number;
      lines.push(
        `${kind}: median ${median.toFixed(1)} ms (min ${durations[0]?.toFixed(1)}, max ${durations[rounds - 1]?.toFixed(1)})`,
      );
    }
    console.log(`dispatch overhead, 1 null job, ${rounds} rounds:\n  ${lines.join('\n  ')}`);
  });
});
