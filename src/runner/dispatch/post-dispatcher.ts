// What the HTTP dispatchers share: one keep-alive connection pool, the in-flight book-keeping
// (dispatch never rejects, nothing starts after close()) and one POST bounded by limits.real whose
// transport failures (timeout, abort, connection error) become results.
import { HttpPoster, type PostOutcome } from './http-post.js';
import { transportFailure } from './http-result.js';
import { InFlight } from './in-flight.js';
import type { Masker } from './masking.js';
import { failedResult, type ResultContext } from './result.js';
import type { DispatchRequest, DispatchResult } from './types.js';

export type PostResponse = Extract<PostOutcome, { kind: 'response' }>;

/** A response to look at, or the result already decided (no response came). */
export type PostAnswer =
  { readonly ctx: ResultContext; readonly response: PostResponse } | { readonly result: DispatchResult };

export abstract class PostDispatcher {
  private readonly poster: HttpPoster;
  private readonly inFlight = new InFlight<DispatchResult>();

  protected constructor(
    connectTimeoutMs: number,
    protected readonly mask: Masker,
  ) {
    this.poster = new HttpPoster(connectTimeoutMs);
  }

  /** What a failure before any POST names as the target. */
  protected abstract targetOf(request: DispatchRequest): string;

  protected abstract run(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult>;

  dispatch(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult> {
    const ctx = (durationMs: number): ResultContext => ({
      target: this.targetOf(request),
      durationMs,
      mask: this.mask,
    });
    return this.inFlight.run(
      () => this.run(request, abort),
      (error, durationMs) => failedResult(ctx(durationMs), 'error', 'http-error', error),
      () => failedResult(ctx(0), 'aborted', 'aborted', 'dispatcher is closed'),
    );
  }

  async close(): Promise<void> {
    await this.inFlight.close();
    await this.poster.close();
  }

  /** POSTs `body` to `url` within the request's limits.real; results name `target` (masked). */
  protected async post(
    request: DispatchRequest,
    abort: AbortSignal,
    call: { readonly url: URL; readonly body: string; readonly target: string },
  ): Promise<PostAnswer> {
    const started = performance.now();
    const outcome = await this.poster.post({
      url: call.url,
      body: call.body,
      timeoutMs: request.realLimitSeconds * 1000,
      abort,
    });
    const ctx: ResultContext = {
      target: call.target,
      durationMs: performance.now() - started,
      mask: this.mask,
    };
    if (outcome.kind !== 'response')
      return { result: transportFailure(ctx, outcome, request.realLimitSeconds) };
    return { ctx, response: outcome };
  }
}
