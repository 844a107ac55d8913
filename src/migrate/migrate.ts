// A migration between two queue backends, in three steps per queue:
//   1. copy: read the source in batches and write every job the target can hold (idempotently, so
//      --resume after a kill ends with each job on the target once), checkpointing written IDs;
//   2. verify: read each copied job back from the target and compare it byte for byte (SHA-1
//      fingerprints) with what the conversion says the target should hold;
//   3. delete (only with --delete-source): remove from the source exactly the verified jobs, each
//      only while it is still as it was read.
// Corrupt source records and jobs the target cannot hold are reported and left where they are.
import type { BackendKind } from '../config/types.js';
import { CheckpointError, CheckpointWriter, loadCheckpoint, type CheckpointState } from './checkpoint.js';
import type {
  DeleteResult,
  MigrationFilter,
  MigrationSource,
  MigrationTarget,
  PreflightProblem,
  SourceQueue,
  SourceRecord,
} from './ends/types.js';
import { queueKey, type MigratedJob } from './job.js';
import { noProgress, type Progress } from './progress.js';
import { RateLimiter } from './rate-limiter.js';
import { listRecord, newQueueReport, totalsOf, type MigrationReport, type QueueReport } from './report.js';

export interface MigrateOptions {
  readonly from: BackendKind;
  readonly to: BackendKind;
  readonly filter: MigrationFilter;
  readonly dryRun: boolean;
  readonly deleteSource: boolean;
  /** Jobs per second; undefined = unlimited. */
  readonly rate?: number;
  readonly resume: boolean;
  /** Checkpoint file (not used for --dry-run). */
  readonly checkpointFile: string;
  readonly runId: string;
}

export interface MigrateDeps {
  readonly source: MigrationSource;
  readonly target: MigrationTarget;
  readonly progress?: Progress;
  /** Given the loaded or new checkpoint before copying starts (Kafka targets use its marks). */
  readonly onCheckpoint?: (state: CheckpointState | null, writer: CheckpointWriter | null) => void;
}

/** Target writes of one queue that may be under way at once. */
const MAX_WRITES_IN_FLIGHT = 8;

/** A migration refused before anything was touched: exit 2 (config/usage) or 1 (unreachable). */
export class MigrationRefusedError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'MigrationRefusedError';
  }
}

/** Both ends reachable and usable, else MigrationRefusedError naming every problem. */
export async function preflight(source: MigrationSource, target: MigrationTarget): Promise<void> {
  const [fromProblems, toProblems] = await Promise.all([source.preflight(), target.preflight()]);
  const problems: (PreflightProblem & { end: string })[] = [
    ...fromProblems.map((p) => ({ ...p, end: `source ${source.name}` })),
    ...toProblems.map((p) => ({ ...p, end: `target ${target.name}` })),
  ];
  if (problems.length === 0) return;
  const exitCode = problems.some((p) => p.kind === 'config') ? 2 : 1;
  throw new MigrationRefusedError(
    `preflight failed; nothing was touched:\n${problems.map((p) => `  ${p.end}: ${p.message}`).join('\n')}`,
    exitCode,
  );
}

function openCheckpoint(options: MigrateOptions): {
  state: CheckpointState | null;
  writer: CheckpointWriter | null;
} {
  if (options.dryRun) return { state: null, writer: null };
  let state: CheckpointState | null;
  try {
    state = loadCheckpoint(options.checkpointFile);
  } catch (error) {
    if (error instanceof CheckpointError) throw new MigrationRefusedError(error.message, 2);
    throw error;
  }
  if (options.resume) {
    if (!state) throw new MigrationRefusedError(`--resume: no checkpoint at ${options.checkpointFile}`, 2);
    const h = state.header;
    const same = (a: readonly string[], b: readonly string[]) =>
      [...a].sort().join('\n') === [...b].sort().join('\n');
    if (
      h.from !== options.from ||
      h.to !== options.to ||
      !same(h.wikis, options.filter.wikis) ||
      !same(h.types, options.filter.types)
    ) {
      throw new MigrationRefusedError(
        `--resume: ${options.checkpointFile} is of a different migration (--from ${h.from} --to ${h.to}` +
          `${h.wikis.length ? ` --wiki ${h.wikis.join(',')}` : ''}${h.types.length ? ` --type ${h.types.join(',')}` : ''})`,
        2,
      );
    }
    return { state, writer: new CheckpointWriter(options.checkpointFile, null) };
  }
  if (state && !state.done) {
    throw new MigrationRefusedError(
      `${options.checkpointFile} holds an unfinished migration: continue it with --resume, or remove the file to start over`,
      2,
    );
  }
  const writer = new CheckpointWriter(options.checkpointFile, {
    t: 'header',
    version: 1,
    runId: options.runId,
    from: options.from,
    to: options.to,
    wikis: options.filter.wikis,
    types: options.filter.types,
    createdAt: new Date().toISOString(),
  });
  return { state: null, writer };
}

/** Runs a migration after preflight(); never throws for bad records (they are reported). */
export async function migrate(options: MigrateOptions, deps: MigrateDeps): Promise<MigrationReport> {
  const { source, target } = deps;
  const progress = deps.progress ?? noProgress;
  const startedAt = Date.now();
  const { state, writer } = openCheckpoint(options);
  deps.onCheckpoint?.(state, writer);
  const limiter = new RateLimiter(options.rate);
  const reports: QueueReport[] = [];
  try {
    const queues = await source.listQueues(options.filter);
    progress.start(queues.reduce((n, q) => n + q.size, 0));
    const perQueue: { queue: SourceQueue; report: QueueReport; copies: Map<string, Copy> }[] = [];
    for (const queue of queues) {
      const report = newQueueReport(queue.wiki, queue.type);
      reports.push(report);
      const copies = await copyQueue(queue, report, options, deps, state, writer, limiter, progress);
      perQueue.push({ queue, report, copies });
    }
    if (!options.dryRun) {
      progress.phase('verifying');
      for (const entry of perQueue) entry.report.verified = 0;
      const verifiedByQueue = new Map<string, Map<string, string>>();
      for (const { queue, report, copies } of perQueue) {
        verifiedByQueue.set(
          queueKey(queue.wiki, queue.type),
          await verifyQueue(queue, report, copies, target),
        );
      }
      if (options.deleteSource) {
        progress.phase('deleting');
        const apply = (report: QueueReport, result: DeleteResult) => {
          report.deleted = result.deleted;
          report.kept = result.kept.length;
          for (const k of result.kept) listRecord(report.keptRecords, k);
        };
        if (source.deleteAll) {
          const results = await source.deleteAll(verifiedByQueue);
          for (const { queue, report } of perQueue) {
            const result = results.get(queueKey(queue.wiki, queue.type));
            if (result) apply(report, result);
          }
        } else {
          for (const { queue, report } of perQueue) {
            const verified =
              verifiedByQueue.get(queueKey(queue.wiki, queue.type)) ?? new Map<string, string>();
            if (verified.size > 0) apply(report, await source.deleteVerified(queue, verified));
          }
        }
      }
      writer?.done();
    }
  } finally {
    progress.stop();
    writer?.close();
  }
  const totals = totalsOf(reports);
  const durationMs = Date.now() - startedAt;
  return {
    from: options.from,
    to: options.to,
    dryRun: options.dryRun,
    deleteSource: options.deleteSource,
    resumed: options.resume,
    checkpoint: options.dryRun ? null : options.checkpointFile,
    queues: reports,
    totals,
    durationMs,
    jobsPerSecond: durationMs > 0 ? (totals.found * 1000) / durationMs : 0,
    ok: totals.corrupt === 0 && totals.mismatched === 0 && totals.kept === 0,
  };
}

/** What verification and deletion need of a copied job. */
interface Copy {
  /** The source's digest of the record (deletion checks it is unchanged). */
  readonly digest: string;
  /** What the target should hold (target fingerprint). */
  readonly print: string;
}

/** Copies one queue; returns ID → Copy of every job that is (now) on the target. */
async function copyQueue(
  queue: SourceQueue,
  report: QueueReport,
  options: MigrateOptions,
  deps: MigrateDeps,
  state: CheckpointState | null,
  writer: CheckpointWriter | null,
  limiter: RateLimiter,
  progress: Progress,
): Promise<Map<string, Copy>> {
  const key = queueKey(queue.wiki, queue.type);
  const earlier = state?.copied.get(key) ?? new Set<string>();
  const copies = new Map<string, Copy>();
  const label = `${queue.wiki} ${queue.type}`;
  // Every write gets its handler when it starts: a write failing while the loop awaits the next
  // source batch is recorded here (not an unhandled rejection) and stops the copy at the next step.
  const inFlight = new Set<Promise<void>>();
  let writeFailure: { readonly error: unknown } | null = null;
  const stopOnWriteFailure = async () => {
    if (writeFailure === null) return;
    await Promise.allSettled(inFlight); // nothing may still write to the checkpoint
    throw writeFailure.error;
  };
  // The next batch is read while the current one is written.
  const batches = deps.source.read(queue)[Symbol.asyncIterator]();
  let next = batches.next();
  try {
    for (;;) {
      const step = await next;
      await stopOnWriteFailure();
      if (step.done) break;
      next = batches.next();
      next.catch(() => undefined); // surfaced when awaited above
      const pending = sortBatch(step.value, report, deps, copies, earlier);
      if (options.dryRun) {
        report.copied += pending.length; // "would copy"
      } else {
        const chunk = limiter.chunkSize(pending.length || 1);
        for (let i = 0; i < pending.length; i += chunk) {
          const part = pending.slice(i, i + chunk);
          await limiter.take(part.length);
          // A few writes in flight hide the target's round trips; each is checkpointed when done.
          if (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight);
          await stopOnWriteFailure();
          const write: Promise<void> = deps.target
            .write(part)
            .then(
              (result) => {
                writer?.copied(key, [...result.written, ...result.present]);
                report.copied += result.written.length;
                report.alreadyCopied += result.present.length;
              },
              (error: unknown) => {
                writeFailure ??= { error };
              },
            )
            .finally(() => inFlight.delete(write));
          inFlight.add(write);
        }
      }
      progress.advance(step.value.length, label);
    }
  } catch (error) {
    await Promise.allSettled(inFlight);
    throw error;
  }
  await Promise.allSettled(inFlight);
  await stopOnWriteFailure();
  return copies;
}

/** Counts a batch's records into the report; returns the jobs still to write. */
function sortBatch(
  batch: readonly SourceRecord[],
  report: QueueReport,
  deps: MigrateDeps,
  copies: Map<string, Copy>,
  earlier: ReadonlySet<string>,
): MigratedJob[] {
  const pending: MigratedJob[] = [];
  for (const record of batch) {
    report.found++;
    if (record.kind === 'corrupt') {
      report.corrupt++;
      listRecord(report.corruptRecords, { ref: record.ref, reason: record.reason });
      continue;
    }
    if (record.kind === 'skip') {
      report.skipped[record.reason] = (report.skipped[record.reason] ?? 0) + 1;
      continue;
    }
    const why = deps.target.cannotHold(record.job);
    if (why !== null) {
      report.skipped[why] = (report.skipped[why] ?? 0) + 1;
      continue;
    }
    if (copies.has(record.job.id)) {
      report.skipped['listed twice in the source (copied once)'] =
        (report.skipped['listed twice in the source (copied once)'] ?? 0) + 1;
      continue;
    }
    copies.set(record.job.id, { digest: record.digest, print: deps.target.fingerprint(record.job) });
    if (earlier.has(record.job.id)) report.alreadyCopied++;
    else pending.push(record.job);
  }
  return pending;
}

/** Reads the copied jobs' fingerprints back; returns the verified ones (ID → source digest). */
async function verifyQueue(
  queue: SourceQueue,
  report: QueueReport,
  copies: Map<string, Copy>,
  target: MigrationTarget,
): Promise<Map<string, string>> {
  const verified = new Map<string, string>();
  const ids = [...copies.keys()];
  const back = await target.readBack(queue.wiki, queue.type, ids);
  for (const [id, copy] of copies) {
    const found = back.get(id);
    let reason: string | null = null;
    if (found === undefined) reason = 'missing on the target';
    else if (typeof found !== 'string') report.ranOnTarget++;
    else if (found !== copy.print) reason = 'different on the target';
    if (reason === null) {
      verified.set(id, copy.digest);
      report.verified++;
    } else {
      report.mismatched++;
      listRecord(report.mismatchedRecords, { ref: id, reason });
    }
  }
  return verified;
}
