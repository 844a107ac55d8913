// change-propagation-style dedup in Redis, per rule: by event ID, by sha1 against meta.dt /
// root_event.dt, and by root event signature. Like change-propagation, an event claims its keys
// BEFORE it runs (one atomic script, redis/lua/kafka-dedup.lua), so identical events in flight
// together run once; a failed run gives the keys back. Claims and finishes of one turn of the event
// loop go to Redis together as one script call. Unlike change-propagation a claim names its
// runner process, whose alive key this class keeps renewed: a runner killed mid-run leaves claims
// that no longer count, so its unfinished events run when they are read again. A Redis failure
// means "not a duplicate".
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { KafkaDedupConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { waitReady } from '../redis/connection.js';
import { defineLuaCommand, luaCommandName } from '../redis/lua-scripts.js';
import { Batcher } from './batcher.js';
import type { JobEventView } from './job-event.js';

export type DuplicateKind = 'id' | 'sha1' | 'root';

/** What claim() took for one event; hand it to finish(). */
export interface DedupClaim {
  readonly keys: readonly [string, string, string];
  /** 3 chars "0"/"1": has an id, a sha1, a root event. */
  readonly flags: string;
  readonly owner: string;
  readonly prevSha1: string;
  readonly prevRoot: string;
}

export type ClaimResult =
  | { readonly duplicate: DuplicateKind }
  | { readonly duplicate: undefined; readonly claim: DedupClaim | undefined };

const SCRIPT = 'kafka-dedup';

type LuaCall = (...args: (string | number)[]) => Promise<unknown>;

interface ClaimItem {
  readonly op: 'claim';
  readonly keys: readonly [string, string, string];
  readonly owner: string;
  readonly startMs: number;
  /** Integer ms, or "-" when absent. */
  readonly dtMs: number | '-';
  readonly rootDtMs: number | '-';
  readonly flags: string;
  readonly isRetry: boolean;
}

interface FinishItem {
  readonly op: 'finish';
  readonly claim: DedupClaim;
  readonly how: 'done' | 'release';
}

/** A finish has no reply; a claim's is [duplicate kind, previous sha1 value, previous root value]. */
const NO_REPLY: readonly string[] = [];

/**
 * Events per script call: large enough that a busy runner pays one round trip per many events,
 * small enough that one call (about ten Redis operations per event) blocks Redis for well under
 * a millisecond.
 */
const MAX_BATCH = 100;

export class Deduplicator {
  private lastErrorLog = 0;
  /** This runner process; claims are "<incarnation>.<seq>". */
  readonly incarnation = randomBytes(8).toString('hex');
  private seq = 0;
  private aliveTimer: NodeJS.Timeout | undefined;
  private instanceId: string | undefined;
  private aliveTtlMs = 1000;
  private takenOver = false;
  private takingOver: Promise<void> | undefined;
  /** Claims and finishes of one turn, one script call. */
  private readonly batch = new Batcher<ClaimItem | FinishItem, readonly string[]>(
    (items) => this.runBatch(items),
    MAX_BATCH,
  );
  private script: LuaCall | undefined;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly config: KafkaDedupConfig,
    private readonly logger: Logger,
  ) {
    if (redis !== undefined) {
      defineLuaCommand(redis, SCRIPT);
    }
  }

  private get active(): Redis | undefined {
    return this.config.enabled ? this.redis : undefined;
  }

  get aliveKey(): string {
    return `${this.config.prefix}_alive_${this.incarnation}`;
  }

  /**
   * Starts renewing this runner's alive key (claims of a runner without one do not count). The key
   * lives `aliveTtlMs` (less than the group session timeout, so a runner that died has no live
   * claims by the time its partitions move). A runner restarted with the same `instanceId` replaces
   * its previous process: that one's alive key is deleted at once, so the events it had in flight
   * run again instead of passing for duplicates.
   */
  async start(instanceId: string, aliveTtlMs: number, readyTimeoutMs: number): Promise<void> {
    const redis = this.active;
    if (redis === undefined) return;
    this.instanceId = instanceId;
    this.aliveTtlMs = Math.max(1000, Math.round(aliveTtlMs));
    // The connection does not queue commands while it connects: wait for it (bounded), or the first
    // renewal and the takeover below would fail and leave the predecessor's claims alive.
    await waitReady(redis, readyTimeoutMs);
    await this.ensureTakenOver().catch((error: unknown) => this.redisFailed(error));
    this.aliveTimer = setInterval(() => {
      // Until the takeover succeeded (Redis was down at start), each tick tries it again.
      const step = this.takenOver ? this.renew() : this.ensureTakenOver();
      step.catch((error: unknown) => this.redisFailed(error));
    }, this.aliveTtlMs / 3);
    this.aliveTimer.unref();
  }

  private async renew(): Promise<void> {
    await this.active?.set(this.aliveKey, '1', 'PX', this.aliveTtlMs);
  }

  /**
   * Sets this process's alive key and, when a process with the same instanceId ran before, deletes
   * that one's, so the events it had in flight run again instead of passing for duplicates. Claims
   * wait for this (claimBatch): a restarted runner never trusts a killed predecessor's claims, even
   * when Redis was not reachable at its start. Rejects when Redis fails.
   */
  private ensureTakenOver(): Promise<void> {
    if (this.takenOver) return Promise.resolve();
    this.takingOver ??= (async () => {
      const redis = this.active;
      if (redis === undefined || this.instanceId === undefined) return;
      await this.renew();
      const previous = await redis.set(
        `${this.config.prefix}_incarnation_${this.instanceId}`,
        this.incarnation,
        'GET',
      );
      if (previous !== null && previous !== this.incarnation) {
        await redis.del(`${this.config.prefix}_alive_${previous}`);
      }
      this.takenOver = true;
    })().finally(() => {
      this.takingOver = undefined;
    });
    return this.takingOver;
  }

  /** Stops renewing and drops the alive key (any claim left now counts as abandoned). */
  async stop(): Promise<void> {
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    this.aliveTimer = undefined;
    await this.active?.del(this.aliveKey).catch(() => undefined);
  }

  private keys(rule: string, event: JobEventView): [string, string, string] {
    const base = `${this.config.prefix}_dedupe_${rule}`;
    const domain = event.domain ?? event.database;
    return [
      `${base}_${domain}_${event.id ?? ''}`,
      `${base}_${domain}_${event.sha1 ?? ''}`,
      `${base}_${event.rootSignature ?? ''}`,
    ];
  }

  private redisFailed(error: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    this.logger.warn('Dedup store unavailable; events run without dedup', {
      error: error instanceof Error ? error.message : String(error),
    });
  }

  private call(redis: Redis): LuaCall {
    if (this.script !== undefined) return this.script;
    const fn = (redis as unknown as Record<string, LuaCall>)[luaCommandName(SCRIPT)];
    if (fn === undefined) throw new Error(`Lua command ${SCRIPT} is not defined`);
    this.script = fn.bind(redis);
    return this.script;
  }

  /**
   * One kafka-dedup.lua call for the finishes (3 keys and 3 arguments each) and claims (3 keys and
   * 1 argument each) of one turn; finishes go first, so a key released in this turn can be
   * claimed in it.
   */
  private async runBatch(
    items: readonly (ClaimItem | FinishItem)[],
  ): Promise<readonly (readonly string[])[]> {
    const redis = this.active;
    if (redis === undefined) return items.map((item) => (item.op === 'claim' ? ['', '', ''] : NO_REPLY));
    const finishes = items.filter((item): item is FinishItem => item.op === 'finish');
    const claims = items.filter((item): item is ClaimItem => item.op === 'claim');
    // A failure here fails the batch: its events run without dedup rather than trust stale claims.
    if (claims.length > 0 && !this.takenOver) await this.ensureTakenOver();
    const c = this.config;
    const keys: string[] = [];
    const args: (string | number)[] = [
      `${c.prefix}_alive_`,
      c.idWindowSeconds,
      c.sha1WindowSeconds,
      c.rootWindowSeconds,
      finishes.length,
    ];
    for (const { claim, how } of finishes) {
      keys.push(claim.keys[0], claim.keys[1], claim.keys[2]);
      args.push(`${claim.owner} ${how} ${claim.flags}`, claim.prevSha1, claim.prevRoot);
    }
    for (const item of claims) {
      keys.push(item.keys[0], item.keys[1], item.keys[2]);
      args.push(
        `${item.owner} ${item.startMs} ${item.dtMs} ${item.rootDtMs} ${item.flags} ${item.isRetry ? '1' : '0'}`,
      );
    }
    const reply = await this.call(redis)(keys.length, ...keys, ...args);
    if (!Array.isArray(reply) || reply.length !== claims.length * 3) {
      throw new Error(
        `${SCRIPT} answered ${Array.isArray(reply) ? reply.length : typeof reply} values for ${claims.length} claims`,
      );
    }
    const flat = reply as unknown[];
    let j = 0;
    return items.map((item) => {
      if (item.op === 'finish') return NO_REPLY;
      const at = 3 * j++;
      return [String(flat[at]), String(flat[at + 1]), String(flat[at + 2])];
    });
  }

  /**
   * Checks the event and, unless it is a duplicate, claims its keys for a run starting at
   * `startMs`. No claim (undefined) when dedup is off, the event has no keys or Redis failed.
   * Claims made in the same turn of the event loop go to Redis in one call.
   */
  async claim(
    rule: string,
    event: JobEventView,
    startMs: number,
    opts: { readonly isRetry: boolean },
  ): Promise<ClaimResult> {
    const redis = this.active;
    const flags =
      (event.id !== undefined ? '1' : '0') +
      (event.sha1 !== undefined ? '1' : '0') +
      (event.rootSignature !== undefined ? '1' : '0');
    if (redis === undefined || flags === '000') return { duplicate: undefined, claim: undefined };
    const keys = this.keys(rule, event);
    const owner = `${this.incarnation}.${++this.seq}`;
    let reply: readonly string[];
    try {
      reply = await this.batch.add({
        op: 'claim',
        keys,
        owner,
        startMs: Math.round(startMs),
        dtMs: event.dtMs === undefined ? '-' : Math.round(event.dtMs),
        rootDtMs: event.rootDtMs === undefined ? '-' : Math.round(event.rootDtMs),
        flags,
        isRetry: opts.isRetry,
      });
    } catch (error) {
      this.redisFailed(error);
      return { duplicate: undefined, claim: undefined };
    }
    const [kind, prevSha1, prevRoot] = reply;
    if (kind === 'id' || kind === 'sha1' || kind === 'root') return { duplicate: kind };
    return {
      duplicate: undefined,
      claim: { keys, flags, owner, prevSha1: prevSha1 ?? '', prevRoot: prevRoot ?? '' },
    };
  }

  /**
   * 'done': the event ran, its claims become records. 'release': it did not, give them back.
   * Batched like claim().
   */
  async finish(claim: DedupClaim | undefined, how: 'done' | 'release'): Promise<void> {
    if (claim === undefined || this.active === undefined) return;
    try {
      await this.batch.add({ op: 'finish', claim, how });
    } catch (error) {
      this.redisFailed(error);
    }
  }
}
