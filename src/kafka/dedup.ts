// change-propagation-style dedup in Redis, per rule: by event ID, by sha1 against meta.dt /
// root_event.dt, and by root event signature. Unlike change-propagation the keys are written only
// after a successful run (with the time the run started), so an event whose run was cut short by a
// crash is never taken for a duplicate on the re-read. A Redis failure means "not a duplicate".
import type { Redis } from 'ioredis';
import type { KafkaDedupConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { JobEventView } from './job-event.js';

export type DuplicateKind = 'id' | 'sha1' | 'root';

interface Keys {
  readonly id?: string;
  readonly sha1?: string;
  readonly root?: string;
}

export class Deduplicator {
  private lastErrorLog = 0;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly config: KafkaDedupConfig,
    private readonly logger: Logger,
  ) {}

  private keys(rule: string, event: JobEventView): Keys {
    const base = `${this.config.prefix}_dedupe_${rule}`;
    const domain = event.domain ?? event.database;
    return {
      id: event.id === undefined ? undefined : `${base}_${domain}_${event.id}`,
      sha1: event.sha1 === undefined ? undefined : `${base}_${domain}_${event.sha1}`,
      root: event.rootSignature === undefined ? undefined : `${base}_${event.rootSignature}`,
    };
  }

  private redisFailed(error: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    this.logger.warn('Dedup store unavailable; events run without dedup', {
      error: error instanceof Error ? error.message : String(error),
    });
  }

  /** Which check marks the event as a duplicate, or undefined. */
  async check(rule: string, event: JobEventView): Promise<DuplicateKind | undefined> {
    if (!this.config.enabled || this.redis === undefined) return undefined;
    const keys = this.keys(rule, event);
    const names = [keys.id, keys.sha1, keys.root].filter((k): k is string => k !== undefined);
    if (names.length === 0) return undefined;
    let values: (string | null)[];
    try {
      values = await this.redis.mget(...names);
    } catch (error) {
      this.redisFailed(error);
      return undefined;
    }
    const value = (key: string | undefined): string | null =>
      key === undefined ? null : (values[names.indexOf(key)] ?? null);
    if (value(keys.id) !== null) return 'id';
    const prevExec = value(keys.sha1);
    if (prevExec !== null) {
      const last = Date.parse(prevExec) - 1000;
      if (
        (event.dtMs !== undefined && last > event.dtMs) ||
        (event.rootDtMs !== undefined && last > event.rootDtMs)
      ) {
        return 'sha1';
      }
    }
    const rootSeen = value(keys.root);
    if (rootSeen !== null && event.rootDtMs !== undefined && Date.parse(rootSeen) > event.rootDtMs) {
      return 'root';
    }
    return undefined;
  }

  /** Remembers a successful run that started at `startedAtMs`. */
  async record(rule: string, event: JobEventView, startedAtMs: number): Promise<void> {
    if (!this.config.enabled || this.redis === undefined) return;
    const keys = this.keys(rule, event);
    const redis = this.redis;
    const writes: Promise<unknown>[] = [];
    if (keys.id) writes.push(redis.set(keys.id, '1', 'EX', this.config.idWindowSeconds));
    if (keys.sha1) {
      writes.push(
        redis.set(keys.sha1, new Date(startedAtMs).toISOString(), 'EX', this.config.sha1WindowSeconds),
      );
    }
    if (keys.root && event.rootDt) {
      writes.push(redis.set(keys.root, event.rootDt, 'EX', this.config.rootWindowSeconds));
    }
    try {
      await Promise.all(writes);
    } catch (error) {
      this.redisFailed(error);
    }
  }
}
