// change-propagation-style dedup in Redis, per rule: by event ID, by sha1 against meta.dt /
// root_event.dt, and by root event signature. Like change-propagation, an event claims its keys
// BEFORE it runs (one atomic script, redis/lua/kafka-dedup.lua), so identical events in flight
// together run once; a failed run gives the keys back. Claims and finishes of one turn of the event
// loop go to Redis together as one script call. Unlike change-propagation a claim names its
// runner process, whose alive key this class keeps renewed: a runner killed mid-run leaves claims
// that no longer count, so its unfinished events run when they are read again. What a runner ran
// is in its done record, written with each call: the seqs below the next one except those still
// open (claimed and not yet run, or given back without Redis confirming it), so a finished event
// with only an ID costs no Redis command of its own. An ID another live process claimed and has not
// run is neither a duplicate nor claimed: the caller waits for it (heldElsewhere). A Redis failure
// means "not a duplicate".
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { KafkaDedupConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { waitReady } from '../redis/connection.js';
import { defineLuaCommand, luaCommandName } from '../redis/lua-scripts.js';
import {
  DedupTurn,
  HAS_ID,
  HAS_ROOT,
  HAS_SHA1,
  HELD_ELSEWHERE,
  duplicateKind,
  flagsOf,
  type DedupClaim,
  type DuplicateKind,
  type TurnReply,
} from './dedup-batch.js';
import { DoneLog } from './done-log.js';
import type { JobEventView } from './job-event.js';

export type { DedupClaim, DuplicateKind } from './dedup-batch.js';

/**
 * A duplicate; or claimed (claim undefined when dedup is off, the event has no keys or Redis
 * failed); or `heldElsewhere`: another live runner process claimed the event's ID and has not run
 * it (nothing was claimed; ask again later, see RuleRunner).
 */
export type ClaimResult =
  | { readonly duplicate: DuplicateKind; readonly heldElsewhere?: undefined }
  | {
      readonly duplicate: undefined;
      readonly claim: DedupClaim | undefined;
      readonly heldElsewhere?: undefined;
    }
  | { readonly duplicate: undefined; readonly claim: undefined; readonly heldElsewhere: true };

const SCRIPT = 'kafka-dedup';

type LuaCall = (...args: (string | number)[]) => Promise<unknown>;

const NOT_CLAIMED: ClaimResult = Object.freeze({ duplicate: undefined, claim: undefined });
const HELD: ClaimResult = Object.freeze({ duplicate: undefined, claim: undefined, heldElsewhere: true });
const DUPLICATE: Readonly<Record<DuplicateKind, ClaimResult>> = Object.freeze({
  id: Object.freeze({ duplicate: 'id' }),
  sha1: Object.freeze({ duplicate: 'sha1' }),
  root: Object.freeze({ duplicate: 'root' }),
});

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
  /** Claims and finishes of this turn, one script call. */
  private turn: DedupTurn | undefined;
  private flushTimer: NodeJS.Immediate | undefined;
  /** Script calls sent and not answered. */
  private inFlight = 0;
  private script: LuaCall | undefined;
  /** What this process ran, written with each call as its done record. */
  private readonly doneLog: DoneLog;
  /** The last turn sent. */
  private lastSent: DedupTurn | undefined;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly config: KafkaDedupConfig,
    private readonly logger: Logger,
  ) {
    this.doneLog = new DoneLog(config.idWindowSeconds * 1000);
    if (redis !== undefined) {
      defineLuaCommand(redis, SCRIPT);
    }
  }

  private get active(): Redis | undefined {
    return this.config.enabled ? this.redis : undefined;
  }

  /** How long this process's alive key lives without renewal (ms). */
  get aliveTtl(): number {
    return this.aliveTtlMs;
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

  /** Resolves once everything queued so far (claims, finishes, the done record) was answered. */
  async written(): Promise<void> {
    await (this.turn ?? this.lastSent)?.reply.catch(() => undefined);
  }

  /**
   * Writes what is queued, stops renewing and drops the alive key (any claim left now counts as
   * abandoned unless the done record says it ran).
   */
  async stop(): Promise<void> {
    await this.written();
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    this.aliveTimer = undefined;
    await this.active?.del(this.aliveKey).catch(() => undefined);
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
   * The batch being filled. While a call runs, it keeps filling (and goes when that call returns or
   * when it is full): under load each call carries more events, and Redis calls, each a system
   * call both ways, grow fewer, while one call's round trip is all an event waits longer.
   */
  private currentTurn(): DedupTurn {
    let turn = this.turn;
    if (turn === undefined || turn.size >= MAX_BATCH) {
      if (turn !== undefined) this.flush();
      turn = this.turn = new DedupTurn();
      if (this.inFlight === 0) this.scheduleFlush();
    }
    return turn;
  }

  /** setImmediate, not nextTick: it runs after every I/O callback of this poll phase. */
  private scheduleFlush(): void {
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const turn = this.turn;
    if (turn === undefined) return;
    this.turn = undefined;
    this.lastSent = turn;
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    this.inFlight++;
    // Read now: claims made after this point go in a later call, with their seqs above `next`.
    const record = this.doneLog.changed ? this.doneLog.record(this.seq + 1, Date.now()) : '';
    this.send(turn, record)
      .then(turn.resolve, (error: unknown) => {
        this.redisFailed(error);
        turn.reject(error);
      })
      .finally(() => {
        if (--this.inFlight === 0 && this.turn !== undefined) this.scheduleFlush();
      });
  }

  /**
   * One kafka-dedup.lua call for the finishes and claims of one turn; finishes go first, so a key
   * released in this turn can be claimed in it.
   */
  private async send(turn: DedupTurn, record: string): Promise<TurnReply> {
    const redis = this.active;
    if (redis === undefined) throw new Error('dedup was switched off');
    // A failure here fails the batch: its events run without dedup rather than trust stale claims.
    if (turn.claimCount > 0 && !this.takenOver) await this.ensureTakenOver();
    const c = this.config;
    const reply = await this.call(redis)(
      0,
      `${c.prefix}_alive_`,
      this.incarnation,
      c.idWindowSeconds,
      c.sha1WindowSeconds,
      c.rootWindowSeconds,
      `${c.prefix}_dedupe_`,
      JSON.stringify(turn.finishes),
      JSON.stringify(turn.claims),
      `${c.prefix}_done_`,
      record,
    );
    return turn.parseReply(reply, SCRIPT);
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
    const flags = flagsOf(event);
    if (this.active === undefined || flags === 0) return NOT_CLAIMED;
    const seq = ++this.seq;
    // Open before any record that counts this seq is made (currentTurn() may send one): whoever
    // reads the claim finds it not run yet.
    if ((flags & HAS_ID) !== 0) this.doneLog.claimed(seq, Date.now());
    const turn = this.currentTurn();
    const prevAt = turn.prevCount;
    const index = turn.addClaim(rule, event, flags, seq, startMs, opts.isRetry);
    let reply;
    try {
      reply = await turn.reply;
    } catch (error) {
      // The claim may or may not have been written: it stays open, as a claim that did not run.
      this.redisFailed(error);
      return NOT_CLAIMED;
    }
    const code = reply.kinds.charCodeAt(index);
    const kind = duplicateKind(code);
    if (kind !== undefined || code === HELD_ELSEWHERE) {
      // Nothing was written for it.
      this.doneLog.settled(seq);
      return kind === undefined ? HELD : DUPLICATE[kind];
    }
    const withPrevs = (flags & (HAS_SHA1 | HAS_ROOT)) !== 0;
    const claim: DedupClaim = {
      rule,
      event,
      seq,
      flags,
      prevSha1: withPrevs ? (reply.prevs[prevAt] ?? '') : '',
      prevRoot: withPrevs ? (reply.prevs[prevAt + 1] ?? '') : '',
    };
    return { duplicate: undefined, claim };
  }

  /**
   * finish(claim, 'done') without a promise: the runner's hot path calls this for every event that
   * ran, and nothing waits for its record.
   */
  done(claim: DedupClaim | undefined): void {
    if (claim === undefined || this.active === undefined) return;
    // A turn, even for an event with only an ID: its call writes the done record that says it ran.
    const turn = this.currentTurn();
    if ((claim.flags & HAS_ID) !== 0) this.doneLog.settled(claim.seq);
    // A failed call is logged in flush(); the records are then simply missing.
    if (claim.flags !== HAS_ID) turn.addFinish(claim, 'done');
  }

  /**
   * 'done': the event ran, its claims become records. 'release': it did not, give them back.
   * Batched like claim(). A release resolves once Redis confirmed it (a retry is produced only
   * then); a run resolves at once: its offset may be committed before its record is written, and
   * either keeps it from running again when it is read again, while waiting for the record held
   * every finished event in the lane's window for up to two round trips.
   */
  async finish(claim: DedupClaim | undefined, how: 'done' | 'release'): Promise<void> {
    if (how === 'done') return this.done(claim);
    if (claim === undefined || this.active === undefined) return;
    const hasId = (claim.flags & HAS_ID) !== 0;
    const turn = this.currentTurn();
    turn.addFinish(claim, how);
    try {
      await turn.reply;
    } catch (error) {
      // A release Redis did not confirm leaves the claim open: it stays "not run".
      this.redisFailed(error);
      return;
    }
    if (hasId) this.doneLog.settled(claim.seq);
  }
}
