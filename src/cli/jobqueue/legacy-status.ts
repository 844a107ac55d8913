// jobqueue status under backend memcached: the farm's queues straight from the wikis' JobQueueDB
// `job` tables (what showJobs.php counts), one "partition" per wiki table, so a wiki whose database
// cannot be read is named (wiki, DSN with the password masked) while the others are listed.
import type { JobrunnerConfig } from '../../config/types.js';
import { LegacyBackend } from '../../legacy/legacy-backend.js';
import { createLogger, maskSecrets } from '../../observability/logger.js';
import type { FarmListing, QueueFilter } from '../../status/farm-queues.js';
import { legacyFarmListing } from '../../status/legacy-farm.js';
import { Writable } from 'node:stream';

export interface LegacyStatusContext {
  readonly farm: { list(filter: QueueFilter): Promise<FarmListing> };
  mask(text: string): string;
  close(): Promise<void>;
}

export function openLegacyStatus(config: JobrunnerConfig): LegacyStatusContext {
  const secrets = config.redis.password ? [config.redis.password] : [];
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const backend = new LegacyBackend(
    config,
    createLogger({ service: 'jobqueue', level: 'error', stream: quiet }),
  );
  const wikis = (config.memcached?.wikis ?? []).map((w) => w.wiki);
  return {
    farm: {
      async list(filter) {
        const chosen = wikis.filter((w) => filter.wiki === undefined || w === filter.wiki);
        const counts = { wiki: filter.wiki, type: filter.type };
        const listing = await legacyFarmListing({ queueCounts: () => backend.queueCounts(counts) }, chosen);
        if (filter.partition === undefined) return listing;
        return {
          ...listing,
          queues: listing.queues.filter((q) => q.partition === filter.partition),
          partitions: listing.partitions.filter((p) => p.name === filter.partition),
          errors: listing.errors.filter((e) => e.partition === filter.partition),
        };
      },
    },
    mask: (text) => maskSecrets(text, secrets),
    close: () => backend.close(),
  };
}
