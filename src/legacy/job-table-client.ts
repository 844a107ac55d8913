// Node side of src/legacy/php/job-table.php: one long-lived PHP process that reads and writes the
// wikis' JobQueueDB `job` tables over PDO (SQLite and MySQL/MariaDB). Why PHP: Node 20 has no
// built-in SQLite and no SQL client is among the installed dependencies, while PHP's PDO drivers
// are what MediaWiki itself uses on these hosts. Requests are JSON lines answered in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PhpString } from '../mediawiki/php-serialize.js';
import { maskSecrets } from '../observability/logger.js';
import { maskDsn } from './dsn.js';

export const JOB_TABLE_HELPER = fileURLToPath(new URL('./php/job-table.php', import.meta.url));

/** Where one wiki's job table lives (password already read from its file). */
export interface JobTableDb {
  readonly dsn: string;
  readonly user?: string;
  readonly password?: string;
  readonly prefix: string;
}

/** One `job` row as stored; byte strings that are not UTF-8 come back as Buffers. */
export interface JobRow {
  readonly id: number;
  readonly cmd: PhpString;
  readonly namespace: number;
  readonly title: PhpString;
  /** TS_MW, or null. */
  readonly timestamp: string | null;
  /** job_params: PHP serialize() of the params, as stored. */
  readonly params: Buffer;
  readonly random: number;
  readonly attempts: number;
  /** '' = unclaimed. */
  readonly token: PhpString;
  readonly tokenTimestamp: string | null;
  readonly sha1: PhpString;
}

/** A row to insert; `key` identifies it in the jobrunner_migrate map table (idempotent inserts). */
export interface NewJobRow extends Omit<JobRow, 'id'> {
  readonly key: string;
}

export interface InsertOutcome {
  readonly key: string;
  readonly id: number;
  /** false: the key was already recorded by an earlier insert (nothing written). */
  readonly inserted: boolean;
}

export interface TypeSummary {
  readonly type: string;
  readonly unclaimed: number;
  readonly claimed: number;
  /** Claimed with attempts used up (JobQueueDB's "abandoned"). */
  readonly abandoned: number;
  /** Claimed longer than claimTTL with attempts left: MediaWiki releases them on its next pop. */
  readonly recyclable: number;
  /** TS_MW of the oldest unclaimed job. */
  readonly oldest: string | null;
}

export interface SummaryLimits {
  readonly default: { claimTTL: number; attempts: number };
  readonly types: Readonly<Record<string, { claimTTL?: number; attempts?: number }>>;
}

/** What the helper reported: code is unreachable | config | schema | db | request | encode | process. */
export class JobTableError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'JobTableError';
  }
}

type Wire = string | { b64: string } | null;

interface WireRow {
  id: number;
  cmd: Wire;
  namespace: number;
  title: Wire;
  timestamp: Wire;
  params: string;
  random: number;
  attempts: number;
  token: Wire;
  tokenTimestamp: Wire;
  sha1: Wire;
}

interface Reply {
  id: number | null;
  ok: boolean;
  result?: unknown;
  error?: string;
  code?: string;
}

function fromWire(value: Wire): PhpString {
  if (value === null) return '';
  return typeof value === 'string' ? value : Buffer.from(value.b64, 'base64');
}

function nullableFromWire(value: Wire): string | null {
  if (value === null) return null;
  return typeof value === 'string' ? value : Buffer.from(value.b64, 'base64').toString('latin1');
}

function toWire(value: PhpString | null): Wire {
  if (value === null) return null;
  return typeof value === 'string' ? value : { b64: value.toString('base64') };
}

function rowFromWire(row: WireRow): JobRow {
  return {
    id: row.id,
    cmd: fromWire(row.cmd),
    namespace: row.namespace,
    title: fromWire(row.title),
    timestamp: nullableFromWire(row.timestamp),
    params: Buffer.from(row.params, 'base64'),
    random: row.random,
    attempts: row.attempts,
    token: fromWire(row.token),
    tokenTimestamp: nullableFromWire(row.tokenTimestamp),
    sha1: fromWire(row.sha1),
  };
}

interface Waiting {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class JobTableClient {
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private stdoutBuffer = '';
  private stderrTail = '';

  constructor(private readonly php: string = 'php') {}

  ping(db: JobTableDb): Promise<{ driver: string; rows: number }> {
    return this.call('ping', db, {}) as Promise<{ driver: string; rows: number }>;
  }

  async summary(db: JobTableDb, limits: SummaryLimits, now: number): Promise<TypeSummary[]> {
    const result = (await this.call('summary', db, { limits, now })) as {
      type: Wire;
      unclaimed: number;
      claimed: number;
      abandoned: number;
      recyclable: number;
      oldest: Wire;
    }[];
    return result.map((s) => ({ ...s, type: String(fromWire(s.type)), oldest: nullableFromWire(s.oldest) }));
  }

  /** Rows with job_id > after, in job_id order. */
  async read(db: JobTableDb, options: { after: number; limit: number; type?: PhpString }): Promise<JobRow[]> {
    const args: Record<string, unknown> = { after: options.after, limit: options.limit };
    if (options.type !== undefined) args.type = toWire(options.type);
    return ((await this.call('read', db, args)) as WireRow[]).map(rowFromWire);
  }

  async fetch(db: JobTableDb, ids: readonly number[]): Promise<JobRow[]> {
    if (ids.length === 0) return [];
    return ((await this.call('fetch', db, { ids })) as WireRow[]).map(rowFromWire);
  }

  async insert(db: JobTableDb, rows: readonly NewJobRow[]): Promise<InsertOutcome[]> {
    if (rows.length === 0) return [];
    const wire = rows.map((r) => ({
      key: r.key,
      cmd: toWire(r.cmd),
      namespace: r.namespace,
      title: toWire(r.title),
      timestamp: toWire(r.timestamp),
      params: r.params.toString('base64'),
      random: r.random,
      attempts: r.attempts,
      token: toWire(r.token),
      tokenTimestamp: toWire(r.tokenTimestamp),
      sha1: toWire(r.sha1),
    }));
    return (await this.call('insert', db, { rows: wire })) as InsertOutcome[];
  }

  /** key → job_id of rows inserted earlier under those keys. */
  async lookup(db: JobTableDb, keys: readonly string[]): Promise<Map<string, number>> {
    if (keys.length === 0) return new Map();
    const result = (await this.call('lookup', db, { keys })) as { found: Record<string, number> };
    return new Map(Object.entries(result.found));
  }

  /** job_id → key for rows a migration inserted (rows without one are absent). */
  async keysForIds(db: JobTableDb, ids: readonly number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const result = (await this.call('keys', db, { ids })) as { found: Record<string, string> };
    return new Map(Object.entries(result.found).map(([id, key]) => [Number(id), key]));
  }

  /** Deletes rows that are still exactly as read (type, params, claim token); returns deleted IDs. */
  async deleteUnchanged(db: JobTableDb, rows: readonly JobRow[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const items = rows.map((r) => ({
      id: r.id,
      cmd: toWire(r.cmd),
      params: r.params.toString('base64'),
      token: toWire(r.token),
    }));
    return (await this.call('delete', db, { items })) as number[];
  }

  close(): void {
    const child = this.child;
    this.child = null;
    if (child) {
      child.stdin.end();
      child.kill('SIGTERM');
    }
    this.failAll(new JobTableError('process', 'job-table helper closed'));
  }

  private call(op: string, db: JobTableDb, args: Record<string, unknown>): Promise<unknown> {
    const child = this.ensureChild();
    const id = this.nextId++;
    const request = {
      id,
      op,
      db: { dsn: db.dsn, user: db.user, password: db.password, prefix: db.prefix },
      ...args,
    };
    // The password never leaves in an error, whatever a driver put into its message.
    const secrets = db.password ? [db.password] : [];
    return new Promise((resolve, reject) => {
      this.waiting.set(id, {
        resolve,
        reject: (error) =>
          reject(
            error instanceof JobTableError
              ? new JobTableError(error.code, maskSecrets(maskDsn(error.message), secrets))
              : error,
          ),
      });
      child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  private ensureChild(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.php, ['-d', 'memory_limit=1G', JOB_TABLE_HELPER], { stdio: 'pipe' });
    this.child = child;
    this.stdoutBuffer = '';
    this.stderrTail = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    child.stdin.on('error', () => undefined); // reported through 'exit'
    child.on('error', (error) => {
      if (this.child === child) this.child = null;
      this.failAll(new JobTableError('process', `cannot run ${this.php}: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const how = signal ? `signal ${signal}` : `exit code ${String(code)}`;
      const detail = this.stderrTail.trim();
      this.failAll(
        new JobTableError('process', `job-table helper stopped (${how})${detail ? `: ${detail}` : ''}`),
      );
    });
    return child;
  }

  private onStdout(chunk: string): void {
    this.stdoutBuffer += chunk;
    let newline: number;
    while ((newline = this.stdoutBuffer.indexOf('\n')) !== -1) {
      const text = this.stdoutBuffer.slice(0, newline);
      this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
      if (text.trim() === '') continue;
      let reply: Reply;
      try {
        reply = JSON.parse(text) as Reply;
      } catch {
        this.failAll(
          new JobTableError('process', `job-table helper printed non-JSON: ${text.slice(0, 200)}`),
        );
        continue;
      }
      const waiting = reply.id === null ? undefined : this.waiting.get(reply.id);
      if (!waiting || reply.id === null) continue;
      this.waiting.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(new JobTableError(reply.code ?? 'db', reply.error ?? 'unknown error'));
    }
  }

  private failAll(error: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(error);
  }
}
