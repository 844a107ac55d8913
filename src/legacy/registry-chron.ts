// jobchron for backend memcached: every chron.intervalMs (start to start) it rebuilds the memcached
// registry from the wikis' job tables (RegistrySync). Same surface as the Redis Chron so the jobchron
// CLI can run either:
//
//   const chron = new LegacyChron(config, { logger, metrics });
//   await chron.start(); chron.reload(next); chron.getStats(); await chron.stop();
//
// Tests call `await chron.runPass()` for exactly one pass.
import type { JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { noMetrics, type Metrics } from '../observability/statsd.js';
import { JobTableClient } from './job-table-client.js';
import { RegistryStore } from './registry-store.js';
import { RegistrySync, type SyncReport } from './registry-sync.js';

export interface LegacyChronDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Clock in ms (claim ages are judged against it). Default Date.now. */
  readonly now?: () => number;
}

export interface LegacyChronStats {
  readonly backend: 'memcached';
  readonly running: boolean;
  readonly startedAt: number | null;
  readonly passes: number;
  readonly failedPasses: number;
  readonly lastPassAt: number | null;
  readonly lastPassMs: number | null;
  readonly lastError: string | null;
  readonly registryKey: string;
  readonly wikis: number;
  readonly queues: number;
  readonly readyJobs: number;
  readonly failingWikis: readonly string[];
  readonly failingServers: readonly string[];
}

/** How long stop() waits for the pass in hand. */
const STOP_BUDGET_MS = 4000;

export class LegacyChron {
  private config: JobrunnerConfig;
  private pendingConfig: JobrunnerConfig | null = null;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly now: () => number;
  private tables: JobTableClient;
  private store: RegistryStore;
  private sync: RegistrySync;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private stopping = false;
  private startedAt: number | null = null;
  private passes = 0;
  private failedPasses = 0;
  private lastPassAt: number | null = null;
  private lastPassMs: number | null = null;
  private lastError: string | null = null;
  private last: SyncReport | null = null;
  /** Wiki → the table error last logged, so a wiki that stays down is one log line, not one per pass. */
  private readonly loggedWikiErrors = new Map<string, string>();

  constructor(config: JobrunnerConfig, deps: LegacyChronDeps) {
    if (!config.memcached) throw new Error('backend memcached needs the memcached section');
    this.config = config;
    this.logger = deps.logger.child({ component: 'legacy-chron' });
    this.metrics = deps.metrics ?? noMetrics;
    this.now = deps.now ?? Date.now;
    this.tables = new JobTableClient(config.memcached.php);
    this.store = new RegistryStore(config.memcached);
    this.sync = new RegistrySync(this.tables, this.store);
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.startedAt = Date.now();
    this.logger.info('jobchron started (backend memcached)', {
      wikis: this.config.memcached?.wikis.length,
      servers: this.store.servers,
      registryKey: this.store.key,
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    if (this.loop) {
      await Promise.race([this.loop, new Promise((resolve) => setTimeout(resolve, STOP_BUDGET_MS).unref())]);
    }
    this.loop = null;
    this.tables.close();
    this.store.close();
  }

  /** Applied before the next pass. */
  reload(config: JobrunnerConfig): void {
    if (!config.memcached) throw new Error('backend memcached needs the memcached section');
    this.pendingConfig = config;
  }

  /** One pass now (tests, and the loop). */
  async runPass(): Promise<SyncReport> {
    this.applyPendingConfig();
    const started = Date.now();
    try {
      const report = await this.sync.pass(this.config, this.now() / 1000);
      this.passes++;
      this.last = report;
      this.lastError = null;
      this.lastPassAt = Date.now();
      this.lastPassMs = this.lastPassAt - started;
      this.metrics.gauge(['registry', 'queues'], report.queues);
      this.metrics.gauge(['registry', 'ready'], report.readyJobs);
      this.metrics.timing(['registry', 'pass'], this.lastPassMs);
      this.logWikiErrors(report.wikiErrors);
      for (const e of report.serverErrors) this.logger.warn('registry not written to a memcached server', e);
      if (report.written.length === 0) throw new Error('the registry was written to no memcached server');
      return report;
    } catch (error) {
      this.failedPasses++;
      this.lastError = error instanceof Error ? error.message : String(error);
      this.metrics.increment(['registry', 'pass-failed']);
      throw error;
    }
  }

  /** Logs a wiki's table error when it starts or changes, and once when the wiki answers again. */
  private logWikiErrors(errors: readonly { wiki: string; error: string }[]): void {
    const now = new Map(errors.map((e) => [e.wiki, e.error]));
    for (const [wiki, error] of now) {
      if (this.loggedWikiErrors.get(wiki) === error) continue;
      this.loggedWikiErrors.set(wiki, error);
      this.logger.warn('job table could not be read; keeping its last entries', { wiki, error });
    }
    for (const wiki of [...this.loggedWikiErrors.keys()]) {
      if (now.has(wiki)) continue;
      this.loggedWikiErrors.delete(wiki);
      this.logger.info('job table readable again', { wiki });
    }
  }

  getStats(): LegacyChronStats {
    return {
      backend: 'memcached',
      running: this.loop !== null && !this.stopping,
      startedAt: this.startedAt,
      passes: this.passes,
      failedPasses: this.failedPasses,
      lastPassAt: this.lastPassAt,
      lastPassMs: this.lastPassMs,
      lastError: this.lastError,
      registryKey: this.store.key,
      wikis: this.config.memcached?.wikis.length ?? 0,
      queues: this.last?.queues ?? 0,
      readyJobs: this.last?.readyJobs ?? 0,
      failingWikis: this.last?.wikiErrors.map((e) => e.wiki) ?? [],
      failingServers: this.last?.serverErrors.map((e) => e.server) ?? [],
    };
  }

  private applyPendingConfig(): void {
    const next = this.pendingConfig;
    if (!next?.memcached) return;
    this.pendingConfig = null;
    const before = JSON.stringify([
      this.config.memcached?.servers,
      this.config.memcached?.registryKey,
      this.config.memcached?.php,
    ]);
    this.config = next;
    if (before !== JSON.stringify([next.memcached.servers, next.memcached.registryKey, next.memcached.php])) {
      this.tables.close();
      this.store.close();
      this.tables = new JobTableClient(next.memcached.php);
      this.store = new RegistryStore(next.memcached);
      this.sync = new RegistrySync(this.tables, this.store);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const started = Date.now();
      try {
        await this.runPass();
      } catch (error) {
        this.logger.error('registry pass failed', {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      const wait = Math.max(0, this.config.chron.intervalMs - (Date.now() - started));
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}
