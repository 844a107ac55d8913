// POSTs one event's raw bytes to the RunSingleJob endpoint over keep-alive connections. The body is
// never re-serialized: mediawiki_signature covers the exact bytes. Never throws.
import type { IncomingHttpHeaders } from 'node:http';
import type { Client, Dispatcher } from 'undici';
import { OriginConnections } from './connections.js';

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
    private readonly resolve: (result: ExecuteResult) => void,
    private readonly timeoutMs: number,
    private readonly connections: OriginConnections,
    private readonly client: Client,
  ) {}

  /** The connection is free for the next request once this one is answered or failed. */
  private done(result: ExecuteResult): void {
    this.connections.release(this.client);
    this.resolve(result);
  }

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
  private readonly byOrigin = new Map<string, OriginConnections>();
  /** The last URL's connections and path (a rule's endpoint is one URL object for all its events). */
  private lastUrl: URL | undefined;
  private lastConnections: OriginConnections | undefined;
  private lastPath = '';

  /** `connections`: keep-alive connections per origin at most. */
  constructor(private readonly connections: number) {}

  execute(request: ExecuteRequest): Promise<ExecuteResult> {
    const headers =
      request.requestId === undefined ? HEADERS : [...HEADERS, 'x-request-id', request.requestId];
    if (request.url !== this.lastUrl || this.lastConnections === undefined) {
      this.lastUrl = request.url;
      this.lastConnections = this.connectionsTo(request.url.origin);
      this.lastPath = request.url.pathname + request.url.search;
    }
    const connections = this.lastConnections;
    const path = this.lastPath;
    const timeoutMs = request.timeoutMs;
    return new Promise((resolve) => {
      connections.acquire((client) => {
        // undici's own timers bound the wait (RunSingleJob answers once the job has run, so the
        // headers timeout is the job's); an AbortController and timer per request cost more CPU
        // than the rest of the request handling together. Errors, also thrown ones, reach
        // onResponseError.
        client.dispatch(
          {
            path,
            method: 'POST',
            body: request.body,
            headers: headers as string[],
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          new ResponseReader(resolve, timeoutMs, connections, client),
        );
      });
    });
  }

  /** Waits for running requests, then closes the connections. */
  async close(): Promise<void> {
    await Promise.all([...this.byOrigin.values()].map((c) => c.close()));
  }

  /** Aborts running requests (their events stay uncommitted and are read again later). */
  async destroy(): Promise<void> {
    await Promise.all([...this.byOrigin.values()].map((c) => c.destroy()));
  }

  private connectionsTo(origin: string): OriginConnections {
    let connections = this.byOrigin.get(origin);
    if (connections === undefined) {
      connections = new OriginConnections(origin, {
        max: Math.max(1, this.connections),
        keepAliveTimeoutMs: 30_000,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      });
      this.byOrigin.set(origin, connections);
    }
    return connections;
  }
}
