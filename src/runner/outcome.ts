// What one finished dispatch means for scheduling (runjobs-contract.md §3, "How to react to
// `reached`"). Pure: the caller applies the reaction to its back-off book and counters.
import type { DispatchOutcome } from './dispatch/types.js';

export type { DispatchOutcome };

/** The parts of a dispatch result that scheduling looks at. */
export interface OutcomeInput {
  readonly outcome: DispatchOutcome;
  /** runJobs `reached`, when the dispatch produced a valid result. */
  readonly reached: string | null;
  /** runJobs `backoffs`: job type → UNIX expiry in seconds (float). */
  readonly backoffs: Readonly<Record<string, number>>;
  /** Jobs the run popped (ok + failed). */
  readonly jobsRun: number;
}

export type ReactionKind =
  /** More work is likely (job/time/memory limit): dispatch again as soon as a slot is free. */
  | 'continue'
  /** The queue ran dry. */
  | 'none-ready'
  /** The type is not runnable on that wiki: a configuration mismatch. */
  | 'none-possible'
  /** The wiki cannot run jobs right now (read-only, replica lag). */
  | 'wiki-unavailable'
  /** runJobs stopped on an exception, or the dispatch itself failed or timed out. */
  | 'failure'
  /** Shutdown aborted the dispatch; nothing to learn from it. */
  | 'aborted';

export interface Reaction {
  readonly kind: ReactionKind;
  /** The wiki-level reason for `wiki-unavailable`. */
  readonly wikiReason: 'read-only' | 'replica-lag-limit' | null;
  /** Per-type holds on this wiki from MediaWiki's `backoffs`, as absolute ms times. */
  readonly typeHolds: ReadonlyArray<{ readonly type: string; readonly until: number }>;
  /** Resets the queue's failure streak. */
  readonly success: boolean;
  /** Counts as a runner error (runner-status.error / errors total). */
  readonly error: boolean;
}

/** MediaWiki throttles are seconds to minutes; a far-future expiry is garbage, not a plan. */
export const MAX_MEDIAWIKI_BACKOFF_MS = 3_600_000;

const CONTINUE = new Set(['job-limit', 'time-limit', 'memory-limit']);
const WIKI_UNAVAILABLE: Record<string, 'read-only' | 'replica-lag-limit'> = {
  'read-only': 'read-only',
  'replica-lag-limit': 'replica-lag-limit',
  // MediaWiki ≤ 1.27 spelling.
  'slave-lag-limit': 'replica-lag-limit',
};

function typeHolds(
  backoffs: Readonly<Record<string, number>>,
  now: number,
): { type: string; until: number }[] {
  const holds: { type: string; until: number }[] = [];
  for (const [type, expiry] of Object.entries(backoffs)) {
    if (typeof expiry !== 'number' || !Number.isFinite(expiry)) continue;
    const until = Math.min(expiry * 1000, now + MAX_MEDIAWIKI_BACKOFF_MS);
    if (until > now) holds.push({ type, until });
  }
  return holds;
}

export function reactTo(input: OutcomeInput, now: number): Reaction {
  const base = { wikiReason: null, typeHolds: [], success: false, error: false };
  switch (input.outcome) {
    case 'aborted':
      return { ...base, kind: 'aborted' };
    case 'error':
    case 'timeout':
      return { ...base, kind: 'failure', error: input.outcome === 'error' };
    case 'ok':
      break;
  }
  const holds = typeHolds(input.backoffs, now);
  const reached = input.reached ?? '';
  if (CONTINUE.has(reached)) return { ...base, kind: 'continue', typeHolds: holds, success: true };
  const wikiReason = WIKI_UNAVAILABLE[reached];
  if (wikiReason) return { ...base, kind: 'wiki-unavailable', wikiReason, typeHolds: holds, success: true };
  if (reached === 'none-possible') return { ...base, kind: 'none-possible', typeHolds: holds, success: true };
  if (reached === 'exception') return { ...base, kind: 'failure', typeHolds: holds, error: true };
  // 'none-ready', and any value newer MediaWiki versions may add: treat as "ran dry".
  return { ...base, kind: 'none-ready', typeHolds: holds, success: true };
}
