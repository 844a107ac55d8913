// One view of the farm's queues shared by `jobqueue status`, the status server's JSON and its
// dashboard, so every place shows the same numbers: per-partition counts merged per (wiki, type),
// empty queues left out, rows in "needs attention" order, totals computed here on the server.
import type { PartitionError } from '../backend/types.js';
import type { FarmListing, PartitionQueue, PartitionReport } from './farm-queues.js';

export interface QueueRow {
  readonly wiki: string;
  readonly domain: string;
  readonly type: string;
  readonly unclaimed: number;
  /** Claimed and still running (z-claimed); abandoned jobs are counted separately. */
  readonly claimed: number;
  readonly abandoned: number;
  readonly delayed: number;
  /** unclaimed + claimed + abandoned + delayed */
  readonly total: number;
  /** Age of the oldest unclaimed job over all partitions, when known. */
  readonly oldestAgeSeconds: number | null;
  /** Partitions holding this queue. */
  readonly partitions: string[];
  /** An operator paused it: runners take no new dispatch for it (src/redis/paused-queues.ts). */
  readonly paused?: boolean;
}

export interface QueueTotals {
  readonly queues: number;
  readonly unclaimed: number;
  readonly claimed: number;
  readonly abandoned: number;
  readonly delayed: number;
  readonly total: number;
  readonly oldestAgeSeconds: number | null;
}

export interface FarmSummary {
  /** Wall-clock ms of the listing. */
  readonly generatedAt: number;
  /** Non-empty queues (all of them with includeEmpty), in attention order. */
  readonly rows: QueueRow[];
  readonly totals: QueueTotals;
  /** Queues still listed in Redis but holding no job. */
  readonly emptyQueues: number;
  readonly partitions: PartitionReport[];
  readonly errors: PartitionError[];
  /** Paused queues, also those holding no job now (set by the status server's source). */
  readonly paused?: readonly { readonly wiki: string; readonly type: string; readonly at: number }[];
}

export interface SummaryOptions {
  /** One row per (wiki, type, partition) instead of per (wiki, type). */
  readonly byPartition?: boolean;
  readonly includeEmpty?: boolean;
}

export const SORT_KEYS = [
  'attention',
  'wiki',
  'type',
  'unclaimed',
  'claimed',
  'abandoned',
  'delayed',
  'total',
  'oldest',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface QueueQuery {
  /** Exact wiki ID or domain. */
  readonly wiki?: string;
  /** Exact job type. */
  readonly type?: string;
  /** Case-insensitive substring of "wiki type". */
  readonly search?: string;
  /** Only queues with abandoned jobs. */
  readonly abandonedOnly?: boolean;
  readonly sort?: SortKey;
  /** Default: descending for counts and age, ascending for names; ignored for "attention". */
  readonly dir?: 'asc' | 'desc';
  readonly limit?: number;
  readonly offset?: number;
}

export interface QueueQueryResult {
  readonly generatedAt: number;
  /** The whole farm. */
  readonly totals: QueueTotals;
  /** Rows matching the filters, before limit/offset. */
  readonly matched: number;
  readonly matchedTotals: QueueTotals;
  readonly rows: QueueRow[];
  readonly offset: number;
  readonly limit: number;
  readonly sort: SortKey;
  readonly dir: 'asc' | 'desc';
  readonly emptyQueues: number;
  readonly partitions: PartitionReport[];
  readonly errors: PartitionError[];
  /** Paused queues of the whole farm (not filtered). */
  readonly paused: readonly { readonly wiki: string; readonly type: string; readonly at: number }[];
}

export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 10_000;

function maxAge(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Abandoned jobs first, then the oldest waiting job, then the biggest backlog; names break ties. */
export function compareAttention(a: QueueRow, b: QueueRow): number {
  return (
    b.abandoned - a.abandoned ||
    (b.oldestAgeSeconds ?? -1) - (a.oldestAgeSeconds ?? -1) ||
    b.unclaimed - a.unclaimed ||
    b.total - a.total ||
    compareNames(a, b)
  );
}

function compareNames(a: QueueRow, b: QueueRow): number {
  return a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
}

export function totalsOf(rows: readonly QueueRow[]): QueueTotals {
  let unclaimed = 0;
  let claimed = 0;
  let abandoned = 0;
  let delayed = 0;
  let oldest: number | null = null;
  for (const row of rows) {
    unclaimed += row.unclaimed;
    claimed += row.claimed;
    abandoned += row.abandoned;
    delayed += row.delayed;
    oldest = maxAge(oldest, row.oldestAgeSeconds);
  }
  return {
    queues: rows.length,
    unclaimed,
    claimed,
    abandoned,
    delayed,
    total: unclaimed + claimed + abandoned + delayed,
    oldestAgeSeconds: oldest,
  };
}

export function summarizeFarm(listing: FarmListing, options: SummaryOptions = {}): FarmSummary {
  const merged = new Map<string, QueueRow & { partitions: string[] }>();
  for (const q of listing.queues) {
    const key = options.byPartition ? `${q.domain}\0${q.type}\0${q.partition}` : `${q.domain}\0${q.type}`;
    const seen = merged.get(key);
    merged.set(key, seen ? addQueue(seen, q) : rowOf(q));
  }
  const all = [...merged.values()];
  const rows = options.includeEmpty ? all : all.filter((row) => row.total > 0);
  rows.sort(compareAttention);
  return {
    generatedAt: listing.at,
    rows,
    totals: totalsOf(rows),
    emptyQueues: all.filter((row) => row.total === 0).length,
    partitions: listing.partitions,
    errors: listing.errors,
  };
}

function rowOf(q: PartitionQueue): QueueRow & { partitions: string[] } {
  return {
    wiki: q.wiki,
    domain: q.domain,
    type: q.type,
    unclaimed: q.unclaimed,
    claimed: q.claimed,
    abandoned: q.abandoned,
    delayed: q.delayed,
    total: q.unclaimed + q.claimed + q.abandoned + q.delayed,
    oldestAgeSeconds: q.oldestAgeSeconds,
    partitions: [q.partition],
  };
}

function addQueue(
  row: QueueRow & { partitions: string[] },
  q: PartitionQueue,
): QueueRow & { partitions: string[] } {
  const next = rowOf(q);
  return {
    ...row,
    unclaimed: row.unclaimed + next.unclaimed,
    claimed: row.claimed + next.claimed,
    abandoned: row.abandoned + next.abandoned,
    delayed: row.delayed + next.delayed,
    total: row.total + next.total,
    oldestAgeSeconds: maxAge(row.oldestAgeSeconds, next.oldestAgeSeconds),
    partitions: [...row.partitions, q.partition],
  };
}

const NAME_KEYS: ReadonlySet<SortKey> = new Set(['wiki', 'type']);

function sortValue(row: QueueRow, key: Exclude<SortKey, 'attention' | 'wiki' | 'type'>): number {
  if (key === 'oldest') return row.oldestAgeSeconds ?? -1;
  return row[key];
}

/** Filters, sorts and pages a summary; totals are over the whole farm and over the matches. */
export function queryQueues(summary: FarmSummary, query: QueueQuery = {}): QueueQueryResult {
  const search = query.search?.trim().toLowerCase() ?? '';
  const matches = summary.rows.filter(
    (row) =>
      (query.wiki === undefined || row.wiki === query.wiki || row.domain === query.wiki) &&
      (query.type === undefined || row.type === query.type) &&
      (!query.abandonedOnly || row.abandoned > 0) &&
      (search === '' || `${row.wiki} ${row.type}`.toLowerCase().includes(search)),
  );
  const sort = query.sort ?? 'attention';
  const dir = query.dir ?? (NAME_KEYS.has(sort) ? 'asc' : 'desc');
  if (sort !== 'attention') {
    const sign = dir === 'asc' ? 1 : -1;
    matches.sort((a, b) => {
      let by: number;
      if (sort === 'wiki') by = a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : 0;
      else if (sort === 'type') by = a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
      else by = sortValue(a, sort) - sortValue(b, sort);
      return sign * by || compareAttention(a, b);
    });
  }
  const limit = Math.max(0, Math.min(MAX_QUERY_LIMIT, Math.floor(query.limit ?? DEFAULT_QUERY_LIMIT)));
  const offset = Math.max(0, Math.floor(query.offset ?? 0));
  return {
    generatedAt: summary.generatedAt,
    totals: summary.totals,
    matched: matches.length,
    matchedTotals: totalsOf(matches),
    rows: matches.slice(offset, offset + limit),
    offset,
    limit,
    sort,
    dir: sort === 'attention' ? 'desc' : dir,
    emptyQueues: summary.emptyQueues,
    partitions: summary.partitions,
    errors: summary.errors,
    paused: summary.paused ?? [],
  };
}
