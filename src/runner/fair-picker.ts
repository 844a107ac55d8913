// Policy "legacy" (runner.scheduling.policy): the choice before issue 14, kept only so
// bench:overload can compare against it. The default is FairShare (fair-share.ts). Known flaw:
// forget() drops the turn of a wiki whose queue emptied, so a wiki that comes and goes counts as
// "never served" and overtakes a wiki with a steady backlog, which can starve (issue 14).
//
// Chooses which queue a free slot runs, replacing the original's uniform random pick (W14).
//
// 1. Wikis take turns: the candidate wiki served least recently goes first, so a big wiki's backlog
//    cannot crowd out a small wiki.
// 2. Within that wiki, types share by smooth weighted round-robin: every candidate earns its weight
//    in credit each time the wiki is served, the richest wins and pays back the total. The weight
//    grows with backlog (logarithmically, so 10,000 jobs do not starve 10) and with waiting time,
//    and every candidate earns credit on every turn, so no queue starves.

export interface Candidate {
  readonly key: string;
  readonly wiki: string;
  readonly type: string;
  readonly ready: number;
  /** How long the queue has been waiting for a child (ms); 0 while one runs. */
  readonly waitingMs: number;
}

/** Waiting this long adds 1 to a queue's weight ... */
export const AGING_STEP_MS = 10_000;
/** ... up to this much. */
export const AGING_CAP = 4;

const CREDIT_LIMIT = 1000;

export function queueWeight(candidate: Candidate): number {
  const backlog = Math.log2(1 + Math.max(0, candidate.ready));
  const aging = Math.min(AGING_CAP, Math.max(0, candidate.waitingMs) / AGING_STEP_MS);
  return 1 + backlog + aging;
}

export class FairPicker {
  private turn = 0;
  private readonly wikiTurns = new Map<string, number>();
  private readonly credit = new Map<string, number>();

  pick(candidates: readonly Candidate[]): Candidate | undefined {
    if (candidates.length === 0) return undefined;
    const wiki = this.nextWiki(candidates);
    const mine = candidates.filter((c) => c.wiki === wiki);
    let total = 0;
    let best: Candidate | undefined;
    let bestCredit = -Infinity;
    for (const c of mine) {
      const weight = queueWeight(c);
      total += weight;
      const credit = (this.credit.get(c.key) ?? 0) + weight;
      this.credit.set(c.key, credit);
      if (credit > bestCredit || (credit === bestCredit && best !== undefined && c.type < best.type)) {
        best = c;
        bestCredit = credit;
      }
    }
    if (!best) return undefined;
    // Clamped so credit left over from a changing candidate set cannot drift without bound.
    this.credit.set(best.key, Math.max(-CREDIT_LIMIT, bestCredit - total));
    for (const c of mine) {
      if ((this.credit.get(c.key) ?? 0) > CREDIT_LIMIT) this.credit.set(c.key, CREDIT_LIMIT);
    }
    this.wikiTurns.set(wiki, ++this.turn);
    return best;
  }

  private nextWiki(candidates: readonly Candidate[]): string {
    // Least recently served first; among never-served wikis, the one waiting longest.
    let bestWiki = '';
    let bestTurn = Infinity;
    let bestWait = -Infinity;
    for (const c of candidates) {
      const turn = this.wikiTurns.get(c.wiki) ?? 0;
      if (
        turn < bestTurn ||
        (turn === bestTurn && c.waitingMs > bestWait) ||
        (turn === bestTurn && c.waitingMs === bestWait && c.wiki < bestWiki)
      ) {
        bestWiki = c.wiki;
        bestTurn = turn;
        bestWait = c.waitingMs;
      }
    }
    return bestWiki;
  }

  /** Drops state for queues and wikis no longer seen, keeping memory bounded. */
  forget(isKnownQueue: (key: string) => boolean, isKnownWiki: (wiki: string) => boolean): void {
    for (const key of this.credit.keys()) if (!isKnownQueue(key)) this.credit.delete(key);
    for (const wiki of this.wikiTurns.keys()) if (!isKnownWiki(wiki)) this.wikiTurns.delete(wiki);
  }
}
