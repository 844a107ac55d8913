// Builders for DispatchResult, so every dispatcher reports outcomes, counts and masking the same way.
import { countRunJobs, type RunJobsResult } from '../../mediawiki/runjobs-result.js';
import { excerptOf } from './capped-output.js';
import type { Masker } from './masking.js';
import type { DispatchErrorKind, DispatchOutcome, DispatchResult } from './types.js';

export interface ResultContext {
  readonly target: string;
  readonly durationMs: number;
  readonly mask: Masker;
}

type Extras = Partial<Pick<DispatchResult, 'exitCode' | 'signal' | 'httpStatus' | 'killed'>>;

const NO_COUNTS = { okJobs: 0, failedJobs: 0, byType: {} } as const;

function counts(result: RunJobsResult | null): Pick<DispatchResult, 'okJobs' | 'failedJobs' | 'byType'> {
  if (!result) return NO_COUNTS;
  const c = countRunJobs(result);
  return { okJobs: c.ok, failedJobs: c.failed, byType: c.byType };
}

function withExcerpt(ctx: ResultContext, excerpt: string | undefined): { excerpt?: string } {
  if (excerpt === undefined || excerpt.trim() === '') return {};
  return { excerpt: excerptOf(ctx.mask(excerpt)) };
}

/** MediaWiki ran and returned a valid result. `note` (e.g. stderr warnings) goes to `excerpt`. */
export function okResult(
  ctx: ResultContext,
  result: RunJobsResult,
  extras: Extras = {},
  note?: string,
): DispatchResult {
  return {
    outcome: 'ok',
    result,
    ...counts(result),
    ...withExcerpt(ctx, note),
    ...extras,
    target: ctx.mask(ctx.target),
    durationMs: ctx.durationMs,
  };
}

export function failedResult(
  ctx: ResultContext,
  outcome: Exclude<DispatchOutcome, 'ok'>,
  errorKind: DispatchErrorKind,
  error: string,
  options: Extras & { excerpt?: string; result?: RunJobsResult | null } = {},
): DispatchResult {
  const { excerpt, result = null, ...extras } = options;
  return {
    outcome,
    result,
    ...counts(result),
    errorKind,
    error: ctx.mask(error.replace(/\s*\n\s*/g, ' ').trim()),
    ...withExcerpt(ctx, excerpt),
    ...extras,
    target: ctx.mask(ctx.target),
    durationMs: ctx.durationMs,
  };
}
