// Builds the migration end of a backend kind from its configuration.
import type { BackendKind, JobrunnerConfig } from '../../config/types.js';
import { KafkaEnd } from './kafka-end.js';
import { LegacyEnd } from './legacy-end.js';
import { RedisEnd } from './redis-end.js';
import type { MigrationSource, MigrationTarget } from './types.js';

export type MigrationEnd = MigrationSource & MigrationTarget;

export interface EndOptions {
  readonly runId: string;
  readonly role: 'source' | 'target';
  readonly batchSize?: number;
  /** memcached: extra de-duplicating job types (see convert/dedup-rules.ts). */
  readonly dedupTypes?: ReadonlySet<string>;
  /** kafka: $wgSecretKey for mediawiki_signature. */
  readonly secretKey?: string;
  /** redis: the queues use 'compression' => 'gzip'. */
  readonly gzip?: boolean;
}

/** What the configuration must have for this kind; null when it does. */
export function missingSection(kind: BackendKind, config: JobrunnerConfig): string | null {
  if (kind === 'memcached' && !config.memcached)
    return `${config.sourcePath} has no memcached section (servers, wikis)`;
  if (kind === 'kafka' && !config.kafka) return `${config.sourcePath} has no kafka section`;
  if (kind === 'redis' && config.redis.queues.length === 0)
    return `${config.sourcePath} lists no redis.queues`;
  return null;
}

export function openEnd(kind: BackendKind, config: JobrunnerConfig, options: EndOptions): MigrationEnd {
  const batch = options.batchSize !== undefined ? { batchSize: options.batchSize } : {};
  switch (kind) {
    case 'memcached':
      return new LegacyEnd(config, {
        ...batch,
        ...(options.dedupTypes ? { dedupTypes: options.dedupTypes } : {}),
      });
    case 'redis':
      return new RedisEnd(config, {
        runId: options.runId,
        ...batch,
        ...(options.gzip ? { gzip: true } : {}),
      });
    case 'kafka':
      return new KafkaEnd(config, {
        runId: options.runId,
        role: options.role,
        ...batch,
        ...(options.secretKey !== undefined ? { secretKey: options.secretKey } : {}),
      });
  }
}
