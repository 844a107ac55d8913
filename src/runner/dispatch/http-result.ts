// Turns an HTTP POST outcome into a DispatchResult. Status and body are both checked: the
// original's `curl -s` turned every HTTP response into exit 0 (W8), and WMF rpc/RunJobs.php
// answered 200 with plain text such as "Request must use POST.".
import { parseRunJobsOutput } from '../../mediawiki/runjobs-result.js';
import type { PostOutcome } from './http-post.js';
import { failedResult, okResult, type ResultContext } from './result.js';
import type { DispatchResult } from './types.js';

/** A one-line summary of a body: an HTML page's <title>, else its first non-empty text line. */
export function firstLine(text: string, max = 200): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  const line =
    title ||
    text
      .split('\n')
      .map((l) =>
        l
          .replace(/<[^>]*>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim(),
      )
      .find((l) => l !== '');
  if (line === undefined) return '(empty body)';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Results for everything but a response (timeouts, aborts, connection errors). */
export function transportFailure(
  ctx: ResultContext,
  outcome: Exclude<PostOutcome, { kind: 'response' }>,
  limitSeconds: number,
): DispatchResult {
  switch (outcome.kind) {
    case 'timeout':
      return failedResult(
        ctx,
        'timeout',
        'timeout',
        `no response within ${limitSeconds}s (limits.real): ${outcome.message}; the request was abandoned, ` +
          'the server may still be running its jobs',
      );
    case 'aborted':
      return failedResult(ctx, 'aborted', 'aborted', `dispatch aborted: ${outcome.message}`);
    case 'error':
      return failedResult(ctx, 'error', 'http-error', `HTTP request failed: ${outcome.message}`);
  }
}

/** A response's body must be a runJobs result; anything else is 'bad-output'. */
export function bodyResult(
  ctx: ResultContext,
  response: Extract<PostOutcome, { kind: 'response' }>,
): DispatchResult {
  const extras = { httpStatus: response.status };
  if (response.truncated) {
    return failedResult(
      ctx,
      'error',
      'bad-output',
      `HTTP ${response.status} body exceeded ${response.body.length} bytes; result not parsed`,
      { ...extras, excerpt: response.body.slice(0, 4096) },
    );
  }
  const parsed = parseRunJobsOutput(response.body);
  if ('error' in parsed) {
    const type = response.contentType !== '' ? response.contentType : 'no content-type';
    return failedResult(
      ctx,
      'error',
      'bad-output',
      `HTTP ${response.status} body (${type}) is not a runJobs result: ${parsed.error}: ${firstLine(response.body)}`,
      { ...extras, excerpt: response.body },
    );
  }
  return okResult(ctx, parsed.result, extras);
}

export function statusFailure(
  ctx: ResultContext,
  response: Extract<PostOutcome, { kind: 'response' }>,
  explanation?: string,
): DispatchResult {
  return failedResult(
    ctx,
    'error',
    'http-status',
    `HTTP ${response.status} from the endpoint: ${explanation ?? firstLine(response.body)}`,
    { httpStatus: response.status, excerpt: response.body },
  );
}
