// The figures of `npm run bench:overload`, computed from what was recorded during a run: every job
// stored and claimed (Redis keyspace events) and every dispatch's start and end (the runner's
// --verbose lines). Pure, so the arithmetic is unit-tested on hand-made timelines.
import { READY_PER_EXTRA_CHILD } from '../../runner/scheduler.js';
import { summarize, type LatencySummary } from './percentiles.js';

export type QueueEventKind = 'stored' | 'claimed' | 'start' | 'end';

export interface QueueEvent {
  readonly at: number;
  readonly kind: QueueEventKind;
  readonly wiki: string;
  readonly type: string;
}

export interface OverloadInput {
  readonly events: readonly QueueEvent[];
  /** The measured interval (ms, same clock as the events). */
  readonly from: number;
  readonly to: number;
  /** Wikis whose jobs count for the small-wiki pickup figures. */
  readonly smallWikis: ReadonlySet<string>;
  readonly weightOf?: (wiki: string) => number;
  /** Length of the fairness windows (ms). */
  readonly windowMs?: number;
}

export interface WikiShare {
  readonly wiki: string;
  readonly slotMs: number;
  /** Had at least BACKLOG_READY ready jobs all through the measured interval. */
  readonly backlogged: boolean;
  /** Slot-time over its weighted fair part of the backlogged wikis' slot-time (1 = fair). */
  readonly ratio: number | null;
  readonly jobs: number;
}

export interface FairnessWindow {
  readonly from: number;
  readonly wikis: number;
  readonly jain: number;
  /** The ratio furthest from 1 in the window. */
  readonly worstRatio: number;
}

export interface OverloadFigures {
  readonly wikis: WikiShare[];
  /** Jain's index of slot-time per weight over the wikis backlogged all through (null: < 2 such wikis). */
  readonly jain: number | null;
  readonly windows: FairnessWindow[];
  /** Waits of a queue with ready jobs and no child on it, until a dispatch started on it. */
  readonly readyWaitMs: LatencySummary | null;
  /** Stored → claimed, jobs of small wikis stored in the interval. */
  readonly smallPickupMs: LatencySummary | null;
  readonly jobsClaimedPerSecond: number;
  readonly dispatches: number;
}

/** A wiki counts as backlogged while it has at least this many ready jobs (it can use a share). */
export const BACKLOG_READY = READY_PER_EXTRA_CHILD;
const DEFAULT_WINDOW_MS = 60_000;

/** Jain's fairness index: 1 when all are equal, 1/n when one has everything. */
export function jainIndex(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

interface Span {
  readonly wiki: string;
  readonly start: number;
  readonly end: number;
}

function queueId(e: QueueEvent): string {
  return `${e.wiki}\t${e.type}`;
}

export function computeOverload(input: OverloadInput): OverloadFigures {
  const { from, to } = input;
  const weightOf = input.weightOf ?? (() => 1);
  const windowMs = input.windowMs ?? DEFAULT_WINDOW_MS;
  const events = [...input.events].sort((a, b) => a.at - b.at || order(a.kind) - order(b.kind));

  const unclaimed = new Map<string, number>();
  const running = new Map<string, number>();
  const waitingSince = new Map<string, number>();
  const stores = new Map<string, number[]>();
  const claimsSeen = new Map<string, number>();
  const openStarts = new Map<string, number[]>();
  const readyByWiki = new Map<string, { at: number; ready: number }[]>();
  const wikiReady = new Map<string, number>();
  const spans: Span[] = [];
  const waits: number[] = [];
  const pickups: number[] = [];
  const jobsByWiki = new Map<string, number>();
  let claimedIn = 0;
  let dispatches = 0;

  const noteReady = (wiki: string, delta: number, at: number) => {
    const ready = (wikiReady.get(wiki) ?? 0) + delta;
    wikiReady.set(wiki, ready);
    let timeline = readyByWiki.get(wiki);
    if (!timeline) readyByWiki.set(wiki, (timeline = [{ at: -Infinity, ready: 0 }]));
    timeline.push({ at, ready });
  };
  const updateWaiting = (id: string, at: number) => {
    const waiting = (unclaimed.get(id) ?? 0) > 0 && (running.get(id) ?? 0) === 0;
    if (waiting && !waitingSince.has(id)) waitingSince.set(id, at);
    if (!waiting) waitingSince.delete(id);
  };

  for (const e of events) {
    const id = queueId(e);
    switch (e.kind) {
      case 'stored': {
        unclaimed.set(id, (unclaimed.get(id) ?? 0) + 1);
        noteReady(e.wiki, 1, e.at);
        let list = stores.get(id);
        if (!list) stores.set(id, (list = []));
        list.push(e.at);
        break;
      }
      case 'claimed': {
        unclaimed.set(id, Math.max(0, (unclaimed.get(id) ?? 0) - 1));
        noteReady(e.wiki, -1, e.at);
        // Jobs are claimed in the order they were stored (LPUSH + RPOP).
        const n = claimsSeen.get(id) ?? 0;
        claimsSeen.set(id, n + 1);
        const storedAt = stores.get(id)?.[n];
        if (storedAt !== undefined && input.smallWikis.has(e.wiki) && storedAt >= from && storedAt < to) {
          pickups.push(e.at - storedAt);
        }
        if (e.at >= from && e.at < to) {
          claimedIn++;
          jobsByWiki.set(e.wiki, (jobsByWiki.get(e.wiki) ?? 0) + 1);
        }
        break;
      }
      case 'start': {
        const since = waitingSince.get(id);
        if (since !== undefined && e.at >= from && e.at < to) waits.push(e.at - since);
        waitingSince.delete(id);
        running.set(id, (running.get(id) ?? 0) + 1);
        let list = openStarts.get(id);
        if (!list) openStarts.set(id, (list = []));
        list.push(e.at);
        if (e.at >= from && e.at < to) dispatches++;
        break;
      }
      case 'end': {
        running.set(id, Math.max(0, (running.get(id) ?? 0) - 1));
        const start = openStarts.get(id)?.shift();
        if (start !== undefined) spans.push({ wiki: e.wiki, start, end: e.at });
        break;
      }
    }
    updateWaiting(id, e.at);
  }
  // Still waiting at the end: the wait so far is a wait too.
  for (const since of waitingSince.values()) if (since < to) waits.push(to - since);
  for (const [id, starts] of openStarts) {
    const wiki = id.slice(0, id.indexOf('\t'));
    for (const start of starts) spans.push({ wiki, start, end: Math.max(start, to) });
  }

  const minReady = (wiki: string, a: number, b: number): number => {
    const timeline = readyByWiki.get(wiki) ?? [];
    let min = Infinity;
    let current = 0;
    for (const point of timeline) {
      if (point.at <= a) current = point.ready;
      else if (point.at < b) min = Math.min(min, point.ready);
    }
    return Math.min(min, current);
  };
  const slotMs = (wiki: string, a: number, b: number): number =>
    spans
      .filter((s) => s.wiki === wiki)
      .reduce((sum, s) => sum + Math.max(0, Math.min(s.end, b) - Math.max(s.start, a)), 0);
  const shares = (a: number, b: number) => {
    const wikis = [...readyByWiki.keys()];
    const backlogged = wikis.filter((w) => minReady(w, a, b) >= BACKLOG_READY);
    const perWeight = backlogged.map((w) => slotMs(w, a, b) / weightOf(w));
    const mean = perWeight.reduce((x, y) => x + y, 0) / Math.max(1, perWeight.length);
    return { backlogged, perWeight, mean };
  };

  const overall = shares(from, to);
  const wikis: WikiShare[] = [...new Set([...readyByWiki.keys(), ...spans.map((s) => s.wiki)])]
    .map((wiki) => {
      const index = overall.backlogged.indexOf(wiki);
      return {
        wiki,
        slotMs: slotMs(wiki, from, to),
        backlogged: index >= 0,
        ratio: index >= 0 && overall.mean > 0 ? (overall.perWeight[index] as number) / overall.mean : null,
        jobs: jobsByWiki.get(wiki) ?? 0,
      };
    })
    .sort((a, b) => b.slotMs - a.slotMs);

  const windows: FairnessWindow[] = [];
  for (let a = from; a + windowMs <= to; a += windowMs / 4) {
    const w = shares(a, a + windowMs);
    if (w.backlogged.length < 2 || w.mean === 0) continue;
    const ratios = w.perWeight.map((x) => x / w.mean);
    windows.push({
      from: a,
      wikis: w.backlogged.length,
      jain: jainIndex(w.perWeight) as number,
      worstRatio: ratios.reduce((worst, r) => (Math.abs(r - 1) > Math.abs(worst - 1) ? r : worst), 1),
    });
  }

  return {
    wikis,
    jain: overall.backlogged.length >= 2 ? jainIndex(overall.perWeight) : null,
    windows,
    readyWaitMs: summarize(waits),
    smallPickupMs: summarize(pickups),
    jobsClaimedPerSecond: claimedIn / ((to - from) / 1000),
    dispatches,
  };
}

/** At equal times: stores before claims, ends before starts (a slot is reused). */
function order(kind: QueueEventKind): number {
  return { stored: 0, end: 1, start: 2, claimed: 3 }[kind];
}
