// POSTs one event's raw bytes to the RunSingleJob endpoint over keep-alive connections. The body is
// never re-serialized: mediawiki_signature covers the exact bytes. Never throws.
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';

export interface ExecuteRequest {
  readonly url: URL;
  readonly body: Buffer;
  readonly timeoutMs: number;
  readonly requestId?: string;
}

export type ExecuteResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly readonly: boolean;
      /** Up to BODY_CAP bytes of the response, for error reports. */
      readonly body: string;
      readonly headers: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'timeout' | 'error'; readonly message: string };

const BODY_CAP = 64 * 1024;
/** Connecting to the endpoint; a request lasts at most this plus its timeoutMs. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Built once: the request headers of every event without a request ID. */
const HEADERS: readonly string[] = ['content-type', 'application/json', 'user-agent', 'jobrunner-kafka'];
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const OK_200: ExecuteResult = Object.freeze({
  kind: 'response',
  status: 200,
  readonly: false,
  body: '',
  headers: NO_HEADERS,
});

/**
 * Reads one response as undici hands it over (its dispatch API): a 2xx is taken from the status
 * alone and its body dropped as it arrives; only a failure keeps its headers and up to BODY_CAP
 * bytes of body for the error report. undici's request() would build a response stream, an async
 * resource and a header record for every event, which cost more CPU than the rest of the request.
 */
class ResponseReader implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: IncomingHttpHeaders | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;

  constructor(
    private readonly done: (result: ExecuteResult) => void,
    private readonly timeoutMs: number,
  ) {}

  /** Also what marks this handler as one of undici's current (controller) API. */
  onRequestStart(): void {}

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (status < 200) return; // 1xx: the final response follows
    this.status = status;
    if (status >= 300) {
      this.headers = headers;
      this.chunks = [];
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.chunks !== undefined && this.size < BODY_CAP)
      this.chunks.push(chunk.subarray(0, BODY_CAP - this.size));
    this.size += chunk.length;
  }

  onResponseEnd(): void {
    const status = this.status;
    if (status === 200) return this.done(OK_200);
    if (status >= 200 && status < 300) {
      return this.done({ kind: 'response', status, readonly: false, body: '', headers: NO_HEADERS });
    }
    const chunks = this.chunks ?? [];
    const flat: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.headers ?? {})) {
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    this.done({
      kind: 'response',
      status,
      readonly: /^(1|true|yes)$/i.test(flat['x-readonly'] ?? ''),
      body: chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8'),
      headers: flat,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const e = error as { code?: unknown; message?: unknown };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
      return this.done({ kind: 'timeout', message: `no response within ${this.timeoutMs} ms` });
    }
    const code = typeof e.code === 'string' ? `${e.code}: ` : '';
    this.done({
      kind: 'error',
      message: `${code}${typeof e.message === 'string' ? e.message : String(error)}`,
    });
  }
}

export class EventExecutor {
  private readonly agent: Agent;
  /** origin and path of the last URL (a rule's endpoint is one URL object for all its events). */
  private lastUrl: URL | undefined;
  private lastOrigin = '';
  private lastPath = '';

  constructor(connections: number) {
    this.agent = new Agent({
      connections: Math.max(1, connections),
      keepAliveTimeout: 30_000,
      connect: { timeout: CONNECT_TIMEOUT_MS },
    });
  }

  execute(request: ExecuteRequest): Promise<ExecuteResult> {
    const headers =
      request.requestId === undefined ? HEADERS : [...HEADERS, 'x-request-id', request.requestId];
    if (request.url !== this.lastUrl) {
      this.lastUrl = request.url;
      this.lastOrigin = request.url.origin;
      this.lastPath = request.url.pathname + request.url.search;
    }
    const origin = this.lastOrigin;
    const path = this.lastPath;
    return new Promise((resolve) => {
      // undici's own timers bound the wait (RunSingleJob answers once the job has run, so the
      // headers timeout is the job's); an AbortController and timer per request cost more CPU
      // than the rest of the request handling together. Errors, also thrown ones, reach
      // onResponseError.
      this.agent.dispatch(
        {
          origin,
          path,
          method: 'POST',
          body: request.body,
          headers: headers as string[],
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        },
        new ResponseReader(resolve, request.timeoutMs),
      );
    });
  }

  /** Waits for running requests, then closes the connections. */
  close(): Promise<void> {
    return this.agent.close();
  }

  /** Aborts running requests (their events stay uncommitted and are read again later). */
  destroy(): Promise<void> {
    return this.agent.destroy();
  }
}
