// jobrunner's mediawiki/job events against EventBus's own: the real MediaWiki 1.39 farm with the
// unmodified EventBus REL1_39 loaded builds jobs of core classes and turns them into events with
// EventFactory::createJobEvent() + EventBus::serializeEvents(); buildJobEvent, given the same job
// (type, params, dedup behaviour) and the same random parts (meta.id, request ID, time), must produce
// the very same bytes, signature included.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { buildJobEvent } from '../../src/kafka/job-event-builder.js';
import type { DedupVariant } from '../../src/mediawiki/dedup-sha1.js';
import { PhpArray, phpUnserialize } from '../../src/mediawiki/php-serialize.js';
import { ignoresDuplicates } from '../../src/migrate/convert/dedup-rules.js';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;

beforeAll(async () => {
  redis = await startRedisServer();
  farm = await buildFarm({ redis, wikis: 1, eventBus: true });
}, 240_000);

afterAll(async () => {
  await farm?.destroy();
  await redis?.stop();
}, 60_000);

interface OracleRow {
  readonly type: string;
  readonly variant: DedupVariant;
  readonly ignoreDuplicates: boolean;
  readonly ignoreParams: string[];
  readonly params: string;
  readonly event: string;
}

interface EventHead {
  meta: { id: string; dt: string; domain: string; request_id: string };
  database: string;
}

describe('buildJobEvent vs EventBus EventFactory::createJobEvent', () => {
  it('produces byte-identical signed events for jobs of core job classes', async () => {
    const { stdout } = await farm.maintenance('wiki1', join(farm.dir, 'farm', 'eventBusJobEvents.php'));
    const rows = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as OracleRow);
    const types = new Set(rows.map((r) => r.type));
    expect(types.size).toBeGreaterThanOrEqual(10);
    for (const row of rows) {
      const head = JSON.parse(row.event) as EventHead;
      const params = phpUnserialize(Buffer.from(row.params, 'base64'));
      if (!(params instanceof PhpArray)) throw new Error(`${row.type}: params are not an array`);
      // The migrate converter's core-class rules agree with the class on ignoreDuplicates().
      if (row.variant === 'job')
        expect([row.type, ignoresDuplicates(row.type, params)]).toEqual([row.type, row.ignoreDuplicates]);
      const built = buildJobEvent(
        {
          type: row.type,
          database: head.database,
          domain: head.meta.domain,
          params,
          removeDuplicates: row.ignoreDuplicates,
          dedup: { variant: row.variant, ignoreParams: row.ignoreParams },
          id: head.meta.id,
          requestId: head.meta.request_id,
        },
        { secretKey: farm.secretKey, now: new Date(head.meta.dt) },
      );
      expect([row.type, built.bytes.toString('utf8')]).toEqual([row.type, row.event]);
    }
  }, 120_000);
});
