// jobchron in backend memcached: each pass scans every wiki's job table and replaces the memcached
// registry with the queues that have work. A wiki whose table cannot be read keeps the entries of its
// last good scan (so its runners keep going) until it answers again.
import type { JobrunnerConfig } from '../config/types.js';
import type { JobTableClient } from './job-table-client.js';
import { registryFromCounts, type LegacyRegistry } from './registry-format.js';
import type { RegistryStore } from './registry-store.js';
import { readyJobs, scanJobTables, type LegacyQueueSummary } from './table-scan.js';

export interface SyncReport {
  readonly timestamp: number;
  readonly wikis: number;
  /** (wiki, type) queues listed in the registry. */
  readonly queues: number;
  readonly readyJobs: number;
  /** Wikis that could not be scanned this pass (their previous entries were kept). */
  readonly wikiErrors: { wiki: string; error: string }[];
  /** Servers written / failed. */
  readonly written: string[];
  readonly serverErrors: { server: string; error: string }[];
  readonly registry: LegacyRegistry;
}

export class RegistrySync {
  /** Last good scan per wiki. */
  private readonly lastGood = new Map<string, LegacyQueueSummary[]>();

  constructor(
    private readonly tables: JobTableClient,
    private readonly store: RegistryStore,
  ) {}

  async pass(config: JobrunnerConfig, nowSeconds: number): Promise<SyncReport> {
    const memcached = config.memcached;
    if (!memcached) throw new Error('backend memcached needs the memcached section');
    const scan = await scanJobTables(this.tables, memcached.wikis, config.limits, nowSeconds);
    const byWiki = new Map<string, LegacyQueueSummary[]>();
    for (const q of scan.queues) {
      const list = byWiki.get(q.wiki);
      if (list) list.push(q);
      else byWiki.set(q.wiki, [q]);
    }
    const failed = new Set(scan.errors.map((e) => e.wiki));
    for (const wiki of memcached.wikis) {
      if (!failed.has(wiki.wiki)) this.lastGood.set(wiki.wiki, byWiki.get(wiki.wiki) ?? []);
    }
    const configured = new Set(memcached.wikis.map((w) => w.wiki));
    for (const wiki of [...this.lastGood.keys()]) if (!configured.has(wiki)) this.lastGood.delete(wiki);
    const all = [...this.lastGood.values()].flat();
    const registry = registryFromCounts(
      all.map((q) => ({ type: q.type, wiki: q.wiki, ready: readyJobs(q) })),
      Math.floor(nowSeconds),
    );
    const { written, errors } = await this.store.write(registry);
    let queues = 0;
    let ready = 0;
    for (const byWikiCounts of registry.readyCounts?.values() ?? []) {
      for (const count of byWikiCounts.values()) {
        queues++;
        ready += count;
      }
    }
    return {
      timestamp: registry.timestamp,
      wikis: memcached.wikis.length,
      queues,
      readyJobs: ready,
      wikiErrors: scan.errors,
      written,
      serverErrors: errors,
      registry,
    };
  }
}
