// The claims and finishes of one turn of the event loop, packed for one kafka-dedup.lua call. The
// runner runs every event on one core, so per event this adds a few values to two flat arrays and
// nothing else: no key strings (the script builds them), no object or promise per event (every
// event of the turn waits on the turn's one promise and reads its own place in the reply), and
// the reply is one string of duplicate kinds plus previous values only for events with a sha1 or
// a root event. The arrays go as two JSON arguments (one native stringify each, escaping whatever
// an event's fields hold).
import type { JobEventView } from './job-event.js';

declare global {
  // ES2024, in Node since 20; the project's lib setting is ES2023.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

export type DuplicateKind = 'id' | 'sha1' | 'root';

/** Flag bits of an event's dedup keys. */
export const HAS_ID = 1;
export const HAS_SHA1 = 2;
export const HAS_ROOT = 4;

/** What claim() took for one event; hand it to finish(). */
export interface DedupClaim {
  readonly rule: string;
  readonly event: JobEventView;
  /** The owner is "<incarnation>.<seq>". */
  readonly seq: number;
  /** HAS_* bits. */
  readonly flags: number;
  /** The values the claim replaced ("" when absent); a release puts them back. */
  readonly prevSha1: string;
  readonly prevRoot: string;
}

/** The script's answer for a whole turn. */
export interface TurnReply {
  /**
   * One character per claim: "i", "s", "r" (duplicates), "w" (claimed by another live runner
   * process and not run yet) or "-" (claimed now).
   */
  readonly kinds: string;
  /** Previous sha1 and root values of each claim with a sha1 or root event, in order. */
  readonly prevs: readonly string[];
}

const BITS = ['000', '100', '010', '110', '001', '101', '011', '111'] as const;
const CLAIM_CODES = [BITS.map((b) => `${b}0`), BITS.map((b) => `${b}1`)] as const;
const FINISH_CODES = { done: BITS.map((b) => `d${b}`), release: BITS.map((b) => `r${b}`) } as const;

export function flagsOf(event: JobEventView): number {
  return (
    (event.id !== undefined ? HAS_ID : 0) |
    (event.sha1 !== undefined ? HAS_SHA1 : 0) |
    (event.rootSignature !== undefined ? HAS_ROOT : 0)
  );
}

/**
 * Redis gets the strings as UTF-8: a lone surrogate (an event may hold "\ud800") would make the
 * script's JSON decoder fail the whole turn, so it becomes U+FFFD, as UTF-8 encoding made it when
 * the keys were sent as arguments.
 */
function wellFormed(value: string): string {
  return value.isWellFormed() ? value : value.toWellFormed();
}

function timeOrDash(ms: number | undefined): number | '-' {
  return ms === undefined ? '-' : Math.round(ms);
}

export function duplicateKind(code: number): DuplicateKind | undefined {
  // 'i', 's', 'r'
  return code === 105 ? 'id' : code === 115 ? 'sha1' : code === 114 ? 'root' : undefined;
}

/** 'w': another live runner process holds the event's ID claimed and has not run it. */
export const HELD_ELSEWHERE = 119;

export class DedupTurn {
  readonly finishes: (string | number)[] = [];
  readonly claims: (string | number)[] = [];
  /** Claims and finishes in this turn. */
  size = 0;
  claimCount = 0;
  /** Entries of TurnReply.prevs so far. */
  prevCount = 0;
  readonly reply: Promise<TurnReply>;
  resolve!: (reply: TurnReply) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.reply = new Promise<TurnReply>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Rejections are read by every waiter; this keeps one without waiters from being "unhandled".
    this.reply.catch(() => undefined);
  }

  /**
   * Adds a claim; returns its index (its character in TurnReply.kinds). A claim with a sha1 or root
   * event finds its previous values at the prevCount read before adding it.
   */
  addClaim(
    rule: string,
    event: JobEventView,
    flags: number,
    seq: number,
    startMs: number,
    isRetry: boolean,
  ): number {
    const c = this.claims;
    c.push(CLAIM_CODES[isRetry ? 1 : 0][flags] as string, rule, seq);
    if ((flags & (HAS_ID | HAS_SHA1)) !== 0) c.push(wellFormed(event.domain ?? event.database));
    if ((flags & HAS_ID) !== 0) c.push(wellFormed(event.id as string));
    if ((flags & HAS_SHA1) !== 0) {
      c.push(wellFormed(event.sha1 as string), Math.round(startMs), timeOrDash(event.dtMs));
    }
    if ((flags & HAS_ROOT) !== 0) c.push(wellFormed(event.rootSignature as string));
    if ((flags & (HAS_SHA1 | HAS_ROOT)) !== 0) {
      c.push(timeOrDash(event.rootDtMs));
      this.prevCount += 2;
    }
    this.size++;
    return this.claimCount++;
  }

  addFinish(claim: DedupClaim, how: 'done' | 'release'): void {
    const f = this.finishes;
    const { event, flags } = claim;
    f.push(FINISH_CODES[how][flags] as string, claim.rule, claim.seq);
    if ((flags & (HAS_ID | HAS_SHA1)) !== 0) f.push(wellFormed(event.domain ?? event.database));
    if ((flags & HAS_ID) !== 0) f.push(wellFormed(event.id as string));
    if ((flags & HAS_SHA1) !== 0) f.push(wellFormed(event.sha1 as string), claim.prevSha1);
    if ((flags & HAS_ROOT) !== 0) f.push(wellFormed(event.rootSignature as string), claim.prevRoot);
    this.size++;
  }

  /** Checks the script's reply against what this turn sent. */
  parseReply(reply: unknown, script: string): TurnReply {
    if (
      !Array.isArray(reply) ||
      typeof reply[0] !== 'string' ||
      reply[0].length !== this.claimCount ||
      reply.length !== 1 + this.prevCount
    ) {
      const shape = Array.isArray(reply) ? `${reply.length} values` : typeof reply;
      throw new Error(`${script} answered ${shape} for ${this.claimCount} claims`);
    }
    const values = reply as string[];
    return { kinds: values[0] as string, prevs: values.length === 1 ? [] : values.slice(1) };
  }
}
