// The Special:RunJobs dispatcher: MediaWiki core's own endpoint, a signed synchronous POST
// (async=0&stats=1) that returns the runJobs JSON (runjobs-contract.md §5).
import { readSecretFile } from '../../config/secret-file.js';
import type { Logger } from '../../observability/logger.js';
import { signedRunJobsBody } from '../../mediawiki/special-runjobs.js';
import { bodyResult, statusFailure } from './http-result.js';
import type { Masker } from './masking.js';
import {
  DispatchConfigError,
  checkUrlTemplate,
  placeholderValues,
  renderUrlTemplate,
} from './placeholders.js';
import { PostDispatcher } from './post-dispatcher.js';
import { failedResult, okResult } from './result.js';
import type { DispatchRequest, DispatchResult, Dispatcher } from './types.js';

/** Special:RunJobs treats maxjobs=0 as 1, so "unlimited" is sent as this (maxtime still bounds it). */
export const UNLIMITED_MAXJOBS = 1000;

export interface SpecialRunJobsOptions {
  /** wiki → URL of index.php; "*" is the fallback and may contain %(db)u. */
  readonly baseUrls: Readonly<Record<string, string>>;
  /** $wgSecretKey (already read from dispatch.secretKeyFile). */
  readonly secretKey: string;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
  readonly mask: Masker;
  /** Seconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

/** Reads $wgSecretKey from dispatch.secretKeyFile; errors name the file, never its contents. */
export function readSecretKeyFile(path: string | undefined): string {
  if (path === undefined || path === '') {
    throw new DispatchConfigError('dispatch.secretKeyFile is required by the special-runjobs dispatcher');
  }
  return readSecretFile(path, 'dispatch.secretKeyFile');
}

export class SpecialRunJobsDispatcher extends PostDispatcher implements Dispatcher {
  readonly kind = 'special-runjobs' as const;

  constructor(private readonly options: SpecialRunJobsOptions) {
    super(options.connectTimeoutMs, options.mask);
    const entries = Object.entries(options.baseUrls);
    if (entries.length === 0) {
      throw new DispatchConfigError(
        'dispatch.baseUrls is empty: the special-runjobs dispatcher needs index.php URLs',
      );
    }
    for (const [wiki, url] of entries) checkUrlTemplate(url, `dispatch.baseUrls[${JSON.stringify(wiki)}]`);
  }

  protected targetOf(request: DispatchRequest): string {
    return `POST Special:RunJobs for ${request.wiki}`;
  }

  /** URL of index.php for `wiki` with title=Special:RunJobs appended, or null when none is configured. */
  endpointFor(request: DispatchRequest): URL | null {
    const base = this.options.baseUrls[request.wiki] ?? this.options.baseUrls['*'];
    if (base === undefined) return null;
    const where = `dispatch.baseUrls[${JSON.stringify(request.wiki)}]`;
    const rendered = renderUrlTemplate(base, placeholderValues(request), where);
    const url = new URL(rendered);
    url.search = `${url.search === '' ? '?' : `${url.search}&`}title=Special%3ARunJobs`;
    return url;
  }

  /** The signed form body for one request. */
  bodyFor(request: DispatchRequest): string {
    const now = this.options.now ? this.options.now() : Date.now() / 1000;
    return signedRunJobsBody(
      {
        title: 'Special:RunJobs',
        tasks: 'jobs',
        type: request.type,
        maxjobs: request.maxJobs > 0 ? request.maxJobs : UNLIMITED_MAXJOBS,
        maxtime: request.maxTime,
        async: 0,
        stats: 1,
        // Valid as long as the dispatch may take; a queued request must not expire before it runs.
        sigexpiry: Math.floor(now) + request.realLimitSeconds,
      },
      this.options.secretKey,
    );
  }

  protected async run(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult> {
    const url = this.endpointFor(request);
    if (url === null) {
      return failedResult(
        { target: this.targetOf(request), durationMs: 0, mask: this.mask },
        'error',
        'http-error',
        `dispatch.baseUrls has no entry for wiki ${JSON.stringify(request.wiki)} and no "*" fallback`,
      );
    }
    const body = this.bodyFor(request);
    const answer = await this.post(request, abort, { url, body, target: `POST ${url.href} ${body}` });
    if ('result' in answer) return answer.result;
    const { ctx, response: outcome } = answer;
    switch (outcome.status) {
      case 200:
        return bodyResult(ctx, outcome);
      case 202:
        return failedResult(
          ctx,
          'error',
          'bad-output',
          'HTTP 202 Accepted: the jobs run asynchronously, so there is no result (async=0 was not honoured)',
          { httpStatus: 202, excerpt: outcome.body },
        );
      case 423:
        // The wiki is read-only: no jobs ran; report it like runJobs' early return.
        return okResult(
          ctx,
          { jobs: [], reached: 'read-only', backoffs: {}, elapsed: null },
          { httpStatus: 423 },
        );
      case 400:
        if (/signature/i.test(outcome.body)) {
          return statusFailure(
            ctx,
            outcome,
            "invalid or stale signature: dispatch.secretKeyFile must hold this wiki's $wgSecretKey " +
              'and the clocks must agree',
          );
        }
        return statusFailure(ctx, outcome);
      default:
        return statusFailure(ctx, outcome);
    }
  }
}
