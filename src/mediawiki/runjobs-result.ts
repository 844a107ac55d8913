// The JSON result of MediaWiki's JobRunner::run(), as printed by `runJobs.php --result=json`,
// WMF rpc/RunJobs.php and Special:RunJobs?stats=1. Stdout is not trusted to be pure JSON: PHP
// notices may precede it and `--wait` concatenates several objects, so the LAST top-level object
// is the result. See runjobs-contract.md §2–§3.

export type RunJobsJobStatus = 'ok' | 'failed';

export interface RunJobsJob {
  readonly type: string;
  readonly status: RunJobsJobStatus;
  readonly error: string | null;
  /** Milliseconds. */
  readonly time: number;
}

export interface RunJobsResult {
  readonly jobs: readonly RunJobsJob[];
  /** none-ready, none-possible, read-only, replica-lag-limit, job-limit, time-limit, … */
  readonly reached: string;
  /** Job type → UNIX expiry (float). MediaWiki prints an empty map as `[]`; both read as {}. */
  readonly backoffs: Readonly<Record<string, number>>;
  /** Sum of job run times (ms); null on early returns that omit it. */
  readonly elapsed: number | null;
}

export type ParseRunJobsOutcome = { readonly result: RunJobsResult } | { readonly error: string };

/** Parses runJobs output; never throws. */
export function parseRunJobsOutput(stdout: string): ParseRunJobsOutcome {
  const text = stdout.trim();
  if (text === '') return { error: 'empty output (no JSON object)' };
  let value: unknown;
  let parsed = false;
  // Fast path: the whole output is one JSON document.
  if (text.startsWith('{')) {
    try {
      value = JSON.parse(text);
      parsed = true;
    } catch {
      // fall back to extracting the last object
    }
  }
  if (!parsed) {
    const extracted = extractLastJsonObject(text);
    if ('error' in extracted) return extracted;
    value = extracted.value;
  }
  return validateRunJobsResult(value);
}

// How many closing braces from the end are tried as the end of the last object. Bounds the work
// on garbage while tolerating a short trailing message after the JSON.
const MAX_CANDIDATE_ENDS = 4;

/**
 * Finds the last top-level `{…}` in `text` by scanning backwards from a closing brace, tracking
 * string literals (a `"` is a delimiter when preceded by an even number of backslashes), so the
 * cost is proportional to the size of the last object, not of the whole output.
 */
export function extractLastJsonObject(text: string): { value: unknown } | { error: string } {
  let end = text.lastIndexOf('}');
  if (end < 0) return { error: 'no JSON object in output' };
  let lastError = 'no JSON object in output';
  for (let attempt = 0; attempt < MAX_CANDIDATE_ENDS && end >= 0; attempt++) {
    const start = matchingOpenBrace(text, end);
    if (start < 0) {
      lastError = 'no JSON object in output (unbalanced braces)';
    } else {
      try {
        return { value: JSON.parse(text.slice(start, end + 1)) };
      } catch (err) {
        lastError = `last JSON object does not parse: ${(err as Error).message}`;
      }
    }
    end = text.lastIndexOf('}', end - 1);
  }
  return { error: lastError };
}

function matchingOpenBrace(text: string, end: number): number {
  let depth = 0;
  let inString = false;
  for (let i = end; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let backslashes = 0;
      for (let j = i - 1; j >= 0 && text.charCodeAt(j) === 0x5c; j--) backslashes++;
      if (backslashes % 2 === 0) inString = !inString;
      continue;
    }
    if (inString) continue;
    if (c === 0x7d /* } */) depth++;
    else if (c === 0x7b /* { */) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Checks the decoded JSON against the runJobs result shape (runjobs-contract.md §2.1). */
export function validateRunJobsResult(value: unknown): ParseRunJobsOutcome {
  if (!isRecord(value)) return { error: `result is ${describe(value)}, not a JSON object` };
  const { jobs, reached, backoffs, elapsed } = value;
  if (!Array.isArray(jobs)) return { error: `\`jobs\` is not an array (${describe(jobs)})` };
  if (typeof reached !== 'string') return { error: `\`reached\` is not a string (${describe(reached)})` };
  const outJobs: RunJobsJob[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const job: unknown = jobs[i];
    if (!isRecord(job)) return { error: `\`jobs[${i}]\` is ${describe(job)}, not an object` };
    if (typeof job.type !== 'string') return { error: `\`jobs[${i}].type\` is not a string` };
    if (job.status !== 'ok' && job.status !== 'failed') {
      return {
        error: `\`jobs[${i}].status\` is ${JSON.stringify(job.status) ?? 'missing'}, not "ok" or "failed"`,
      };
    }
    const error = job.error ?? null;
    if (error !== null && typeof error !== 'string') {
      return { error: `\`jobs[${i}].error\` is ${describe(error)}, not a string or null` };
    }
    const time = job.time ?? 0;
    if (typeof time !== 'number') return { error: `\`jobs[${i}].time\` is ${describe(time)}, not a number` };
    outJobs.push({ type: job.type, status: job.status, error, time });
  }
  // Null prototype: a job type named "__proto__" must stay an ordinary key.
  const outBackoffs = Object.create(null) as Record<string, number>;
  if (backoffs !== undefined && !(Array.isArray(backoffs) && backoffs.length === 0)) {
    if (!isRecord(backoffs)) return { error: `\`backoffs\` is ${describe(backoffs)}, not an object or []` };
    for (const [type, expiry] of Object.entries(backoffs)) {
      if (typeof expiry !== 'number') {
        return { error: `\`backoffs[${JSON.stringify(type)}]\` is ${describe(expiry)}, not a number` };
      }
      outBackoffs[type] = expiry;
    }
  }
  if (elapsed !== undefined && elapsed !== null && typeof elapsed !== 'number') {
    return { error: `\`elapsed\` is ${describe(elapsed)}, not a number` };
  }
  return {
    result: { jobs: outJobs, reached, backoffs: outBackoffs, elapsed: elapsed ?? null },
  };
}

export interface RunJobsCounts {
  readonly ok: number;
  readonly failed: number;
  readonly byType: Readonly<Record<string, { ok: number; failed: number }>>;
}

/** ok/failed totals and per type (the original counted pop.<type>.ok / .failed). */
export function countRunJobs(result: RunJobsResult): RunJobsCounts {
  let ok = 0;
  let failed = 0;
  const byType = Object.create(null) as Record<string, { ok: number; failed: number }>;
  for (const job of result.jobs) {
    const entry = (byType[job.type] ??= { ok: 0, failed: 0 });
    if (job.status === 'ok') {
      ok++;
      entry.ok++;
    } else {
      failed++;
      entry.failed++;
    }
  }
  return { ok, failed, byType };
}
