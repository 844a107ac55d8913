// A target write that fails while the copy loop awaits the next source batch must end the
// migration with that error (a report, exit 1), not kill Node with an unhandled rejection.
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, type MigrateOptions } from '../../src/migrate/migrate.js';
import type { MigrationSource, MigrationTarget, SourceRecord } from '../../src/migrate/ends/types.js';
import type { MigratedJob } from '../../src/migrate/job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';

const dir = mkdtempSync(join(tmpdir(), 'jr15-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function job(n: number): MigratedJob {
  return {
    id: n.toString(16).padStart(32, '0'),
    type: 'null',
    wiki: 'wiki1',
    namespace: 0,
    title: 'T',
    params: new PhpArray(),
    releaseTimestamp: 0,
    enqueueTimestamp: 1,
    sha1: '',
    attempts: 0,
    state: 'ready',
    claimedAt: null,
  };
}

/** The repro: batches 200 ms apart. */
function slowSource(
  batches: number,
  perBatch: number,
): MigrationSource & { readsAfterFailure: () => number } {
  let read = 0;
  return {
    kind: 'redis',
    name: 'slow source',
    preflight: () => Promise.resolve([]),
    listQueues: () => Promise.resolve([{ wiki: 'wiki1', type: 'null', size: batches * perBatch }]),
    async *read() {
      for (let b = 0; b < batches; b++) {
        if (b > 0) await sleep(200);
        read++;
        const records: SourceRecord[] = [];
        for (let i = 0; i < perBatch; i++)
          records.push({ kind: 'job', job: job(b * perBatch + i), digest: 'd' });
        yield records;
      }
    },
    deleteVerified: () => Promise.resolve({ deleted: 0, kept: [] }),
    close: () => Promise.resolve(),
    readsAfterFailure: () => read,
  };
}

/** A target whose writes fail 20 ms after they start. */
const failingTarget: MigrationTarget = {
  kind: 'kafka',
  name: 'failing target',
  preflight: () => Promise.resolve([]),
  cannotHold: () => null,
  fingerprint: (j) => j.id,
  write: async () => {
    await sleep(20);
    throw new Error('target write refused: broker gone');
  },
  readBack: () => Promise.resolve(new Map()),
  close: () => Promise.resolve(),
};

function options(name: string): MigrateOptions {
  return {
    from: 'redis',
    to: 'kafka',
    filter: { wikis: [], types: [] },
    dryRun: false,
    deleteSource: false,
    resume: false,
    checkpointFile: join(dir, `${name}.checkpoint`),
    runId: name,
  };
}

describe('migrate: a target write failing between source batches', () => {
  it('rejects migrate() with the write error, with no unhandled rejection, and stops reading', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const source = slowSource(5, 3);
      await expect(migrate(options('fail'), { source, target: failingTarget })).rejects.toThrow(
        'target write refused: broker gone',
      );
      // Let any stray rejection surface before checking.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      // Stopped at the first batch boundary after the failure rather than copying on.
      expect(source.readsAfterFailure()).toBeLessThanOrEqual(2);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
