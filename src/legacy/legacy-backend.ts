// QueueBackend for backend memcached: ready queues come from the memcached registry that jobchron
// keeps (one GET per poll, like nextJobDB.php read it); operator counts come straight from the job
// tables. A registry that is missing or older than memcached.staleAfterSeconds gives no queues and
// an error naming why, so a dead jobchron is visible instead of silently running stale work.
import type { JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type {
  PartitionError,
  QueueBackend,
  QueueCounts,
  QueueListing,
  ReadyQueue,
} from '../backend/types.js';
import { JobTableClient } from './job-table-client.js';
import { RegistryFormatError } from './registry-format.js';
import { RegistryStore, RegistryUnavailableError } from './registry-store.js';
import { scanJobTables } from './table-scan.js';

/** Partition name of a wiki's job table in counts (there are no Redis partitions here). */
export function tablePartition(wiki: string): string {
  return `job-table:${wiki}`;
}

export class LegacyBackend implements QueueBackend {
  readonly kind = 'memcached' as const;
  private readonly store: RegistryStore;
  private tables: JobTableClient | null = null;
  private readonly log: Logger;
  private lastProblem: string | null = null;

  constructor(
    private readonly config: JobrunnerConfig,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    if (!config.memcached) throw new Error('backend memcached needs the memcached section');
    this.store = new RegistryStore(config.memcached);
    this.log = logger.child({ component: 'legacy-backend' });
  }

  async listReadyQueues(): Promise<QueueListing<ReadyQueue>> {
    const memcached = this.config.memcached;
    if (!memcached) return { queues: [], errors: [] };
    let problem: PartitionError | null = null;
    const queues: ReadyQueue[] = [];
    try {
      const { registry, server, errors } = await this.store.read();
      const age = this.now() / 1000 - (registry?.timestamp ?? 0);
      if (registry === null) {
        problem = {
          partition: server,
          error: `no registry at ${this.store.key} (is jobchron running with backend memcached?)`,
        };
      } else if (memcached.staleAfterSeconds > 0 && age > memcached.staleAfterSeconds) {
        problem = {
          partition: server,
          error: `registry ${this.store.key} is ${Math.round(age)} s old (staleAfterSeconds ${memcached.staleAfterSeconds}); is jobchron running?`,
        };
      } else {
        for (const [type, wikis] of registry.pending) {
          for (const wiki of wikis) {
            // A registry written by MediaWiki itself has no counts: 1 means "has work".
            const ready = registry.readyCounts?.get(type)?.get(wiki) ?? 1;
            queues.push({ type, domain: wiki, wiki, partition: server, ready });
          }
        }
      }
      const firstError = errors[0];
      if (firstError && problem === null) problem = { partition: firstError.server, error: firstError.error };
    } catch (error) {
      if (!(error instanceof RegistryUnavailableError) && !(error instanceof RegistryFormatError))
        throw error;
      problem = { partition: this.store.servers.join(','), error: error.message };
    }
    this.logProblem(problem);
    return { queues, errors: problem ? [problem] : [] };
  }

  async queueCounts(filter: { wiki?: string; type?: string } = {}): Promise<QueueListing<QueueCounts>> {
    const memcached = this.config.memcached;
    if (!memcached) return { queues: [], errors: [] };
    this.tables ??= new JobTableClient(memcached.php);
    const wikis = memcached.wikis.filter((w) => filter.wiki === undefined || w.wiki === filter.wiki);
    const nowSeconds = this.now() / 1000;
    const scan = await scanJobTables(this.tables, wikis, this.config.limits, nowSeconds);
    const queues: QueueCounts[] = scan.queues
      .filter((q) => filter.type === undefined || q.type === filter.type)
      .map((q) => ({
        type: q.type,
        domain: q.wiki,
        wiki: q.wiki,
        partition: tablePartition(q.wiki),
        unclaimed: q.unclaimed,
        claimed: q.claimed,
        abandoned: q.abandoned,
        delayed: 0, // JobQueueDB has no delayed jobs
        oldestAgeSeconds:
          q.oldestTimestamp === null ? null : Math.max(0, Math.floor(nowSeconds - q.oldestTimestamp)),
      }));
    return {
      queues,
      errors: scan.errors.map((e) => ({ partition: tablePartition(e.wiki), error: e.error })),
    };
  }

  async close(): Promise<void> {
    this.store.close();
    this.tables?.close();
  }

  /** Logs a registry problem once when it starts and once when it clears. */
  private logProblem(problem: PartitionError | null): void {
    const text = problem ? `${problem.partition}: ${problem.error}` : null;
    if (text === this.lastProblem) return;
    if (text) this.log.warn('legacy registry not usable', { problem: text });
    else this.log.info('legacy registry usable again');
    this.lastProblem = text;
  }
}
