// The final report of a migration: per queue what was found, copied, skipped (and why), found corrupt
// (and why), verified and deleted; as a table for operators or as JSON (--json).
import type { BackendKind } from '../config/types.js';

/** At most this many corrupt/mismatch/kept entries are listed per queue (counts stay exact). */
export const MAX_LISTED = 100;

export interface ListedRecord {
  readonly ref: string;
  readonly reason: string;
}

export interface QueueReport {
  readonly wiki: string;
  readonly type: string;
  /** Records read from the source. */
  found: number;
  /** Written to the target by this run. */
  copied: number;
  /** Already on the target (an interrupted earlier run). */
  alreadyCopied: number;
  /** Left in the source on purpose: reason → count. */
  skipped: Record<string, number>;
  corrupt: number;
  corruptRecords: ListedRecord[];
  /** Copied jobs found on the target with the same content. */
  verified: number;
  /** Of `verified`: written by this migration and already run (and removed) on the target. */
  ranOnTarget: number;
  /** Copied jobs missing or different on the target. */
  mismatched: number;
  mismatchedRecords: ListedRecord[];
  deleted: number;
  /** Verified jobs the source did not give up at deletion time. */
  kept: number;
  keptRecords: ListedRecord[];
}

export interface MigrationReport {
  readonly from: BackendKind;
  readonly to: BackendKind;
  readonly dryRun: boolean;
  readonly deleteSource: boolean;
  readonly resumed: boolean;
  readonly checkpoint: string | null;
  readonly queues: QueueReport[];
  readonly totals: {
    found: number;
    copied: number;
    alreadyCopied: number;
    skipped: number;
    corrupt: number;
    verified: number;
    mismatched: number;
    deleted: number;
    kept: number;
  };
  readonly durationMs: number;
  /** Records handled per second over the whole run. */
  readonly jobsPerSecond: number;
  /** No corrupt, mismatched or kept jobs. */
  readonly ok: boolean;
}

export function newQueueReport(wiki: string, type: string): QueueReport {
  return {
    wiki,
    type,
    found: 0,
    copied: 0,
    alreadyCopied: 0,
    skipped: {},
    corrupt: 0,
    corruptRecords: [],
    verified: 0,
    ranOnTarget: 0,
    mismatched: 0,
    mismatchedRecords: [],
    deleted: 0,
    kept: 0,
    keptRecords: [],
  };
}

export function listRecord(list: ListedRecord[], record: ListedRecord): void {
  if (list.length < MAX_LISTED) list.push(record);
}

export function skippedTotal(queue: QueueReport): number {
  return Object.values(queue.skipped).reduce((a, b) => a + b, 0);
}

export function totalsOf(queues: readonly QueueReport[]): MigrationReport['totals'] {
  const totals = {
    found: 0,
    copied: 0,
    alreadyCopied: 0,
    skipped: 0,
    corrupt: 0,
    verified: 0,
    mismatched: 0,
    deleted: 0,
    kept: 0,
  };
  for (const q of queues) {
    totals.found += q.found;
    totals.copied += q.copied;
    totals.alreadyCopied += q.alreadyCopied;
    totals.skipped += skippedTotal(q);
    totals.corrupt += q.corrupt;
    totals.verified += q.verified;
    totals.mismatched += q.mismatched;
    totals.deleted += q.deleted;
    totals.kept += q.kept;
  }
  return totals;
}

function pad(text: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - [...text].length));
  return right ? fill + text : text + fill;
}

/** The operator's view: one row per queue, totals, then every reason a job was left in the source. */
export function formatReport(report: MigrationReport): string {
  const header = [
    'WIKI',
    'TYPE',
    'FOUND',
    'COPIED',
    'EARLIER',
    'SKIPPED',
    'CORRUPT',
    'VERIFIED',
    'MISMATCH',
    'DELETED',
  ];
  const row = (q: QueueReport | (MigrationReport['totals'] & { wiki: string; type: string })) => [
    q.wiki,
    q.type,
    String(q.found),
    String(q.copied),
    String(q.alreadyCopied),
    String(typeof q.skipped === 'number' ? q.skipped : skippedTotal(q as QueueReport)),
    String(q.corrupt),
    String(q.verified),
    String(q.mismatched),
    String(q.deleted),
  ];
  const rows = report.queues.map(row);
  const total = row({ ...report.totals, wiki: 'total', type: '' });
  const widths = header.map((h, i) =>
    Math.max([...h].length, ...[...rows, total].map((r) => [...(r[i] ?? '')].length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i] ?? 0, i >= 2))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line), widths.map((w) => '-'.repeat(w)).join('  '), line(total)];
  const verb = report.dryRun ? 'Dry run: nothing was written' : `${report.from} → ${report.to}`;
  out.push(
    '',
    `${verb}; ${report.totals.found} records in ${(report.durationMs / 1000).toFixed(1)} s (${Math.round(report.jobsPerSecond)} jobs/s).`,
  );
  for (const q of report.queues) {
    const where = `${q.wiki} ${q.type}`;
    for (const [reason, n] of Object.entries(q.skipped)) out.push(`skipped ${n} in ${where}: ${reason}`);
    for (const r of q.corruptRecords)
      out.push(`corrupt in ${where}: ${r.ref}: ${r.reason} (left in the source)`);
    if (q.corrupt > q.corruptRecords.length)
      out.push(`corrupt in ${where}: ${q.corrupt - q.corruptRecords.length} more`);
    for (const r of q.mismatchedRecords)
      out.push(`not verified in ${where}: ${r.ref}: ${r.reason} (not deleted from the source)`);
    for (const r of q.keptRecords) out.push(`not deleted in ${where}: ${r.ref}: ${r.reason}`);
  }
  if (report.deleteSource && !report.dryRun) {
    out.push(`Deleted ${report.totals.deleted} verified jobs from the source; everything else stays there.`);
  }
  return `${out.join('\n')}\n`;
}
