// The legacy end (backend memcached): the wikis' JobQueueDB `job` tables, through the job-table
// helper. As a target it records every inserted row in the jobrunner_migrate map table in the same
// transaction, so a resumed migration never inserts a job twice. After writing, it refreshes nothing
// in memcached: jobchron rebuilds the registry on its next pass.
import type { JobrunnerConfig, LegacyWikiConfig } from '../../config/types.js';
import { limitFor } from '../../config/types.js';
import { createHash } from 'node:crypto';
import {
  JobTableClient,
  JobTableError,
  type JobRow,
  type JobTableDb,
  type NewJobRow,
} from '../../legacy/job-table-client.js';
import type { PhpString } from '../../mediawiki/php-serialize.js';
import { RegistryStore } from '../../legacy/registry-store.js';
import { jobTableDb } from '../../legacy/wiki-tables.js';
import { jobTableLabel } from '../../legacy/dsn.js';
import { jobToRow, rowId, rowToJob, type RowContext } from '../convert/db-row.js';
import { CorruptJobError, type MigratedJob } from '../job.js';
import type {
  DeleteResult,
  MigrationFilter,
  MigrationSource,
  MigrationTarget,
  PreflightProblem,
  ReadBack,
  SourceQueue,
  SourceRecord,
  WriteResult,
} from './types.js';

export const LEGACY_BATCH = 1000;

export interface LegacyEndOptions {
  readonly now?: () => number;
  readonly batchSize?: number;
  readonly dedupTypes?: ReadonlySet<string>;
}

/**
 * SHA-1 of a row's stored values (with its job_id when given: the source's digest of one record;
 * without: a target fingerprint, comparable before and after the insert).
 */
export function rowDigest(row: Omit<JobRow, 'id'>, id: number | null): string {
  const text = (value: PhpString | null) =>
    value === null ? '\u0000null' : Buffer.isBuffer(value) ? value.toString('latin1') : value;
  const hash = createHash('sha1');
  hash.update(
    JSON.stringify([
      id,
      text(row.cmd),
      row.namespace,
      text(row.title),
      row.timestamp,
      row.random,
      row.attempts,
      text(row.token),
      row.tokenTimestamp,
      text(row.sha1),
    ]),
  );
  return hash.update(row.params).digest('hex');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class LegacyEnd implements MigrationSource, MigrationTarget {
  readonly kind = 'memcached' as const;
  readonly name: string;
  private readonly tables: JobTableClient;
  private readonly wikis: Map<string, LegacyWikiConfig>;
  private readonly dbs = new Map<string, JobTableDb>();
  private readonly now: () => number;
  private readonly batchSize: number;
  /** Rows built by fingerprint(), reused by write(). */
  private readonly newRows = new WeakMap<MigratedJob, NewJobRow>();

  constructor(
    private readonly config: JobrunnerConfig,
    private readonly options: LegacyEndOptions = {},
  ) {
    const memcached = config.memcached;
    if (!memcached) throw new Error('the memcached section is missing');
    this.tables = new JobTableClient(memcached.php);
    this.wikis = new Map(memcached.wikis.map((w) => [w.wiki, w]));
    this.name = `memcached (job tables of ${memcached.wikis.length} wikis)`;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.batchSize = options.batchSize ?? LEGACY_BATCH;
  }

  private db(wiki: string): JobTableDb {
    let db = this.dbs.get(wiki);
    if (!db) {
      const entry = this.wikis.get(wiki);
      if (!entry) throw new Error(`wiki "${wiki}" is not in memcached.wikis of ${this.config.sourcePath}`);
      db = jobTableDb(entry);
      this.dbs.set(wiki, db);
    }
    return db;
  }

  /** A job-table call whose error names the wiki and its DSN (password masked), as preflight does. */
  private async onTable<T>(wiki: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      const entry = this.wikis.get(wiki);
      if (!(error instanceof JobTableError) || !entry) throw error;
      throw new JobTableError(error.code, `job table of ${jobTableLabel(entry)}: ${error.message}`);
    }
  }

  private rowContext(wiki: string): RowContext {
    return {
      wiki,
      now: this.now(),
      claimTTL: (type) => limitFor(this.config.limits.claimTTL, type),
      maxAttempts: (type) => limitFor(this.config.limits.attempts, type),
      ...(this.options.dedupTypes ? { dedupTypes: this.options.dedupTypes } : {}),
    };
  }

  async preflight(): Promise<PreflightProblem[]> {
    const problems: PreflightProblem[] = [];
    const memcached = this.config.memcached;
    if (!memcached)
      return [{ kind: 'config', message: `${this.config.sourcePath} has no memcached section` }];
    await Promise.all(
      memcached.wikis.map(async (wiki) => {
        try {
          await this.tables.ping(this.db(wiki.wiki));
        } catch (error) {
          const kind =
            error instanceof JobTableError && error.code === 'unreachable' ? 'unreachable' : 'config';
          problems.push({ kind, message: `job table of ${jobTableLabel(wiki)}: ${message(error)}` });
        }
      }),
    );
    // The registry servers are not needed to move jobs, but a cutover needs them right after.
    const store = new RegistryStore(memcached);
    try {
      for (const { server, error } of await store.ping()) {
        if (error) problems.push({ kind: 'unreachable', message: `memcached ${server}: ${error}` });
      }
    } finally {
      store.close();
    }
    return problems;
  }

  async listQueues(filter: MigrationFilter): Promise<SourceQueue[]> {
    const queues: SourceQueue[] = [];
    const memcached = this.config.memcached;
    for (const wiki of memcached?.wikis ?? []) {
      if (filter.wikis.length > 0 && !filter.wikis.includes(wiki.wiki)) continue;
      const summary = await this.onTable(
        wiki.wiki,
        this.tables.summary(
          this.db(wiki.wiki),
          { default: { claimTTL: 0, attempts: 0 }, types: {} },
          this.now(),
        ),
      );
      for (const t of summary) {
        if (filter.types.length > 0 && !filter.types.includes(t.type)) continue;
        queues.push({ wiki: wiki.wiki, type: t.type, size: t.unclaimed + t.claimed });
      }
    }
    return queues;
  }

  async *read(queue: SourceQueue): AsyncIterable<SourceRecord[]> {
    for await (const rows of this.rows(queue)) {
      const keys = await this.mappedKeys(queue.wiki, rows);
      const ctx = this.rowContext(queue.wiki);
      yield rows.map((row): SourceRecord => {
        const ref = `${queue.wiki} job_id ${row.id}`;
        try {
          const outcome = rowToJob(row, ctx, keys.get(row.id));
          if (!('job' in outcome)) return { kind: 'skip', ref, reason: outcome.skip };
          return { kind: 'job', job: outcome.job, digest: rowDigest(row, row.id) };
        } catch (error) {
          if (error instanceof CorruptJobError) return { kind: 'corrupt', ref, reason: error.message };
          throw error;
        }
      });
    }
  }

  private async *rows(queue: SourceQueue): AsyncIterable<JobRow[]> {
    let after = 0;
    for (;;) {
      const rows = await this.onTable(
        queue.wiki,
        this.tables.read(this.db(queue.wiki), { after, limit: this.batchSize, type: queue.type }),
      );
      if (rows.length === 0) return;
      yield rows;
      after = rows[rows.length - 1]?.id ?? after;
    }
  }

  /** job_id → the key a migration inserted the row under (keeps IDs stable across round trips). */
  private async mappedKeys(wiki: string, rows: readonly JobRow[]): Promise<Map<number, string>> {
    return this.onTable(
      wiki,
      this.tables.keysForIds(
        this.db(wiki),
        rows.map((r) => r.id),
      ),
    );
  }

  async deleteVerified(queue: SourceQueue, verified: ReadonlyMap<string, string>): Promise<DeleteResult> {
    let deleted = 0;
    const kept: DeleteResult['kept'] = [];
    for await (const rows of this.rows(queue)) {
      const keys = await this.mappedKeys(queue.wiki, rows);
      const doomed: JobRow[] = [];
      for (const row of rows) {
        const digest = verified.get(rowId(queue.wiki, row, keys.get(row.id)));
        if (digest === undefined) continue;
        if (digest !== rowDigest(row, row.id)) {
          kept.push({ ref: `${queue.wiki} job_id ${row.id}`, reason: 'changed since it was copied' });
          continue;
        }
        doomed.push(row);
      }
      // The helper deletes a row only while its type, params and claim are still as read.
      const gone = new Set(
        await this.onTable(queue.wiki, this.tables.deleteUnchanged(this.db(queue.wiki), doomed)),
      );
      deleted += gone.size;
      for (const row of doomed) {
        if (!gone.has(row.id))
          kept.push({
            ref: `${queue.wiki} job_id ${row.id}`,
            reason: 'claimed or changed since it was read',
          });
      }
    }
    return { deleted, kept };
  }

  cannotHold(job: MigratedJob): string | null {
    if (!this.wikis.has(job.wiki))
      return `wiki ${job.wiki} is not in memcached.wikis of ${this.config.sourcePath}`;
    if (job.state === 'delayed') return 'JobQueueDB cannot hold delayed jobs';
    return null;
  }

  /** SHA-1 of the row this job is inserted as (kept for write()). */
  fingerprint(job: MigratedJob): string {
    return rowDigest(this.rowOf(job), null);
  }

  private rowOf(job: MigratedJob): NewJobRow {
    let row = this.newRows.get(job);
    if (!row) {
      row = jobToRow(job);
      this.newRows.set(job, row);
    }
    return row;
  }

  async write(jobs: readonly MigratedJob[]): Promise<WriteResult> {
    const written: string[] = [];
    const present: string[] = [];
    const byWiki = new Map<string, MigratedJob[]>();
    for (const job of jobs) {
      const list = byWiki.get(job.wiki);
      if (list) list.push(job);
      else byWiki.set(job.wiki, [job]);
    }
    for (const [wiki, list] of byWiki) {
      const outcomes = await this.onTable(
        wiki,
        this.tables.insert(
          this.db(wiki),
          list.map((job) => this.rowOf(job)),
        ),
      );
      for (const o of outcomes) (o.inserted ? written : present).push(o.key);
    }
    return { written, present };
  }

  async readBack(wiki: string, _type: string, ids: readonly string[]): Promise<Map<string, ReadBack>> {
    const out = new Map<string, ReadBack>();
    const db = this.db(wiki);
    for (let i = 0; i < ids.length; i += this.batchSize) {
      const found = await this.onTable(wiki, this.tables.lookup(db, ids.slice(i, i + this.batchSize)));
      const keyOf = new Map([...found].map(([key, id]) => [id, key]));
      // Recorded in the map table but no longer in the job table: inserted, then run and acked.
      for (const key of found.keys()) out.set(key, { ran: true });
      for (const row of await this.onTable(wiki, this.tables.fetch(db, [...found.values()]))) {
        const key = keyOf.get(row.id);
        if (key !== undefined) out.set(key, rowDigest(row, null));
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.tables.close();
  }
}
