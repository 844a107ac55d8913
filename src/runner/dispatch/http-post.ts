// One POST to a MediaWiki HTTP endpoint through a shared keep-alive undici Agent, with a connect
// timeout, a total deadline (limits.real; W4: the original curl had none) and a bounded body.
// Never throws: every outcome is a value.
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { HeadCapture } from './capped-output.js';
import { timerMs } from './timer-ms.js';

export interface PostRequest {
  readonly url: URL;
  readonly body: string;
  readonly contentType?: string;
  readonly timeoutMs: number;
  readonly abort: AbortSignal;
}

export type PostOutcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly contentType: string;
      readonly body: string;
      readonly bodyBytes: number;
      readonly truncated: boolean;
    }
  | { readonly kind: 'timeout' | 'aborted' | 'error'; readonly message: string };

/** Far above any real runJobs JSON; a larger body is cut off and reported, not parsed. */
export const HTTP_BODY_CAP_BYTES = 8 * 1024 * 1024;

const CONNECTION_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_SOCKET: 'connection closed by the server',
};

function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const label = code !== undefined ? CONNECTION_CODES[code] : undefined;
  const base =
    label !== undefined ? `${label} (${code}): ${message}` : code ? `${code}: ${message}` : message;
  return e.cause instanceof Error && !base.includes(e.cause.message) ? `${base}: ${e.cause.message}` : base;
}

/**
 * undici is loaded when the first poster is made, not when this module is: the runner imports every
 * dispatcher, and loading undici costs ~50 ms of start-up that the command dispatcher never needs.
 */
function agentClass(): typeof Agent {
  const undici = createRequire(import.meta.url)('undici') as typeof import('undici');
  return undici.Agent;
}

export class HttpPoster {
  private readonly agent: Agent;

  constructor(
    connectTimeoutMs: number,
    private readonly bodyCapBytes = HTTP_BODY_CAP_BYTES,
  ) {
    const AgentClass = agentClass();
    // No `connections` cap per origin (undici's default): a cap at or below the slot count would
    // queue an express or burst dispatch behind the slices on the same endpoint
    // (test/unit/http-post-concurrency.test.ts).
    this.agent = new AgentClass({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 4000 });
  }

  async post(request: PostRequest): Promise<PostOutcome> {
    if (request.abort.aborted) return { kind: 'aborted', message: 'aborted before sending' };
    const controller = new AbortController();
    let timedOut = false;
    let aborted = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('total request timeout'));
    }, timerMs(request.timeoutMs));
    const onAbort = (): void => {
      aborted = true;
      controller.abort(new Error('aborted'));
    };
    request.abort.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.agent.request({
        origin: request.url.origin,
        path: request.url.pathname + request.url.search,
        method: 'POST',
        body: request.body,
        headers: {
          'content-type': request.contentType ?? 'application/x-www-form-urlencoded',
          'user-agent': 'jobrunner',
        },
        signal: controller.signal,
        // The overall timer above is the real limit; these only keep undici from giving up first.
        headersTimeout: timerMs(request.timeoutMs + 1000),
        bodyTimeout: timerMs(request.timeoutMs + 1000),
      });
      const body = new HeadCapture(this.bodyCapBytes);
      for await (const chunk of response.body) {
        body.push(chunk as Buffer);
        if (body.truncated) {
          response.body.destroy();
          break;
        }
      }
      const type = response.headers['content-type'];
      return {
        kind: 'response',
        status: response.statusCode,
        contentType: (Array.isArray(type) ? type[0] : type) ?? '',
        body: body.text(),
        bodyBytes: body.totalBytes,
        truncated: body.truncated,
      };
    } catch (err) {
      if (timedOut)
        return { kind: 'timeout', message: `no complete response within ${request.timeoutMs} ms` };
      if (aborted) return { kind: 'aborted', message: 'request aborted' };
      const code = (err as { code?: unknown }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        return { kind: 'timeout', message: describeError(err) };
      }
      return { kind: 'error', message: describeError(err) };
    } finally {
      clearTimeout(timer);
      request.abort.removeEventListener('abort', onAbort);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
