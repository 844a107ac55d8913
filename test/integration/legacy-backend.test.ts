// backend memcached, the legacy era, on the real farm: MediaWiki 1.39 with JobQueueDB (SQLite job
// tables) and memcached as its main cache. Jobs come from real edits; jobchron publishes the
// registry in JobQueueAggregatorMemc's format (read back by MediaWiki's own memcached client), and
// jobrunner dispatches runJobs from it until every job table is empty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startMemcached, type MemcachedHandle } from '../../src/farm/memcached-server.js';
import { LegacyBackend, tablePartition } from '../../src/legacy/legacy-backend.js';
import { noMetrics } from '../../src/observability/statsd.js';
import { daemonMetrics, startDaemonStatus } from '../../src/status/daemon-status.js';
import { JobTableClient } from '../../src/legacy/job-table-client.js';
import { LegacyChron } from '../../src/legacy/registry-chron.js';
import { RegistryStore } from '../../src/legacy/registry-store.js';
import { silentLogger } from '../support/log-capture.js';
import { killDaemons, startDaemon, type Daemon } from '../support/daemon.js';
import { until } from '../support/until.js';
import {
  JOBCHRON,
  JOBRUNNER,
  jobTableRows,
  requireBuiltClis,
  total,
  writeFarmConfig,
} from './migrate-support.js';

let memcached: MemcachedHandle;
let farm: MediaWikiFarm;
let tables: JobTableClient;
let configFile: string;
const daemons: Daemon[] = [];
const quiet = silentLogger();

/** MediaWiki code through eval.php on wiki1 (prints what the snippet prints). */
async function mwEval(code: string): Promise<string> {
  return (await farm.maintenance('wiki1', 'eval.php', [], code)).stdout;
}

beforeAll(async () => {
  requireBuiltClis();
  memcached = await startMemcached();
  farm = await buildFarm({ redis: '127.0.0.1:9', queue: 'db', memcached: memcached.address });
  tables = new JobTableClient();
  configFile = writeFarmConfig(join(farm.dir, 'legacy.conf'), {
    farm,
    memcached: memcached.address,
    backend: 'memcached',
  });
  // Real edits: a template used by three pages, edited again (recursive refreshLinks), and a link.
  await farm.edit('wiki1', 'Template:Box', 'box v1');
  await farm.importPages('wiki1', { Alpha: 'a {{Box}}', Beta: 'b {{Box}}', Gamma: 'c {{Box}}' });
  await farm.edit('wiki1', 'Template:Box', 'box v2');
  await farm.edit('wiki2', 'Foo', 'see [[Bar]]');
}, 120_000);

afterAll(async () => {
  await killDaemons(daemons);
  tables?.close();
  try {
    await farm?.destroy();
  } finally {
    await memcached?.stop();
  }
});

describe('backend memcached (legacy JobQueueDB era)', () => {
  it('runs the farm on JobQueueDB with memcached as its main cache', async () => {
    const out = await mwEval(
      'echo get_class( ObjectCache::getLocalClusterInstance() ), " ", get_class( MediaWiki\\MediaWikiServices::getInstance()->getJobQueueGroupFactory()->makeJobQueueGroup()->get( "refreshLinks" ) ), "\\n";',
    );
    expect(out.trim()).toBe('MemcachedPhpBagOStuff JobQueueDB');
    const rows = await jobTableRows(tables, farm);
    expect(rows.get('wiki1')).toBeGreaterThanOrEqual(4);
    expect(rows.get('wiki2')).toBeGreaterThanOrEqual(1);
  });

  it("publishes the registry in JobQueueAggregatorMemc's format, readable by MediaWiki's memcached client", async () => {
    const config = loadConfigFile(configFile);
    const chron = new LegacyChron(config, { logger: quiet });
    try {
      const report = await chron.runPass();
      expect(report.wikiErrors).toEqual([]);
      expect(report.written).toEqual([memcached.address]);
      const rows = await jobTableRows(tables, farm);
      expect(report.readyJobs).toBe(total(rows));
    } finally {
      await chron.stop();
    }
    const seen = JSON.parse(
      await mwEval(
        'echo json_encode( ObjectCache::getInstance( CACHE_MEMCACHED )->get( "jobqueue:aggregator:ready-queues:v1" ) ), "\\n";',
      ),
    ) as { pendingDBs: Record<string, string[]>; timestamp: number };
    expect(seen.pendingDBs.htmlCacheUpdate).toEqual(expect.arrayContaining(['wiki1']));
    expect(seen.pendingDBs.refreshLinks).toEqual(['wiki1']);
    expect(seen.pendingDBs.recentChangesUpdate).toEqual(expect.arrayContaining(['wiki1', 'wiki2']));
    expect(Math.abs(seen.timestamp - Date.now() / 1000)).toBeLessThan(120);

    // And the other way: a value stored the way MediaWiki's aggregator stored it is read by the runner.
    await mwEval(
      'ObjectCache::getInstance( CACHE_MEMCACHED )->set( "jr-test:registry", [ "pendingDBs" => [ "null" => [ "wiki2" ] ], "timestamp" => time() ] );',
    );
    const store = new RegistryStore({ ...config.memcached!, registryKey: 'jr-test:registry' });
    try {
      const { registry } = await store.read();
      expect(registry?.pending.get('null')).toEqual(['wiki2']);
      expect(registry?.readyCounts).toBeNull();
    } finally {
      store.close();
    }
  });

  it('reports a registry that jobchron stopped keeping current instead of running stale work', async () => {
    const config = loadConfigFile(configFile);
    const later = () => Date.now() + 3600_000;
    const backend = new LegacyBackend(config, quiet, later);
    try {
      const listing = await backend.listReadyQueues();
      expect(listing.queues).toEqual([]);
      expect(listing.errors[0]?.error).toMatch(/s old \(staleAfterSeconds 300\); is jobchron running\?/);
    } finally {
      await backend.close();
    }
  });

  it("the status server lists the job tables' queues, not the redis section's", async () => {
    const statusConfig = writeFarmConfig(join(farm.dir, 'legacy-status.conf'), {
      farm,
      memcached: memcached.address,
      backend: 'memcached',
      extra: { status: { enabled: true, address: '127.0.0.1', runnerPort: 0, chronPort: 0 } },
    });
    const config = loadConfigFile(statusConfig);
    const { registry } = daemonMetrics(noMetrics, 'jobrunner');
    const server = await startDaemonStatus({
      role: 'jobrunner',
      config,
      logger: quiet,
      registry,
      status: () => ({}),
      ready: () => true,
    });
    if (!server) throw new Error('status server did not start');
    try {
      const expected = await jobTableRows(tables, farm);
      expect(total(expected)).toBeGreaterThan(0);
      const body = (await (await fetch(`${server.url}/status`)).json()) as {
        queues: { totals: { total: number }; partitions: { name: string; ok: boolean }[] };
      };
      expect(body.queues.totals.total).toBe(total(expected));
      expect(body.queues.partitions.map((p) => [p.name, p.ok])).toEqual(
        farm.wikis.map((wiki) => [tablePartition(wiki), true]),
      );
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(server.adminEnabled).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('jobchron and jobrunner (backend memcached) run every job made by the edits', async () => {
    expect(total(await jobTableRows(tables, farm))).toBeGreaterThan(0);
    const chron = startDaemon(JOBCHRON, configFile);
    const runner = startDaemon(JOBRUNNER, configFile);
    daemons.push(chron, runner);
    await until(async () => total(await jobTableRows(tables, farm)) === 0, 'every job table empty');
    const ends = runner.logs.filter((l) => l.msg === 'dispatch end');
    expect(ends.length).toBeGreaterThan(0);
    expect(ends.every((l) => l.outcome === 'ok')).toBe(true);
    // The runner dispatched from the registry: wikis and types it named.
    const dispatched = new Set(
      runner.logs.filter((l) => l.msg === 'dispatch start').map((l) => `${String(l.wiki)}/${String(l.type)}`),
    );
    expect([...dispatched].some((q) => q.startsWith('wiki1/'))).toBe(true);
    expect([...dispatched].some((q) => q.startsWith('wiki2/'))).toBe(true);
    // With the tables empty, the next registry pass lists nothing.
    const store = new RegistryStore(loadConfigFile(configFile).memcached!);
    try {
      await until(async () => ((await store.read()).registry?.pending.size ?? -1) === 0, 'empty registry');
    } finally {
      store.close();
    }
    chron.child.kill('SIGTERM');
    runner.child.kill('SIGTERM');
    expect((await chron.exited).code).toBe(0);
    expect((await runner.exited).code).toBe(0);
    expect(runner.logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(chron.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
