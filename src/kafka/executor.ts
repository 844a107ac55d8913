// POSTs one event's raw bytes to the RunSingleJob endpoint over keep-alive connections. The body is
// never re-serialized: mediawiki_signature covers the exact bytes. Never throws.
import type { RequestOutcome } from './http/connection.js';
import { Origin } from './http/origin.js';
import type { ParsedResponse } from './http/response-parser.js';

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
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const OK_200: ExecuteResult = Object.freeze({
  kind: 'response',
  status: 200,
  readonly: false,
  body: '',
  headers: NO_HEADERS,
});
/** A request ID goes in a header only as visible ASCII (it comes from the event, anyone's input). */
const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** Where one endpoint URL's requests go, and the start of their head, built once per URL. */
interface Endpoint {
  readonly origin: Origin;
  /** "POST <path> HTTP/1.1" and the fixed headers, up to "content-length: ". */
  readonly prefix: Buffer;
}

function resultOf(outcome: RequestOutcome): ExecuteResult {
  if (outcome.kind !== 'response') return outcome;
  const response: ParsedResponse = outcome.response;
  const status = response.status;
  if (status === 200) return OK_200;
  if (status < 300) return { kind: 'response', status, readonly: false, body: '', headers: NO_HEADERS };
  const headers = response.headers ?? NO_HEADERS;
  return {
    kind: 'response',
    status,
    readonly: /^(1|true|yes)$/i.test(headers['x-readonly'] ?? ''),
    body: response.body === undefined ? '' : response.body.toString('utf8'),
    headers,
  };
}

/**
 * POSTs events over keep-alive HTTP/1.1 connections of its own (src/kafka/http/): one request at a
 * time per connection, written as one buffer, the response read only as far as a RunSingleJob
 * client needs (a 2xx is taken from its status line and framing headers). undici did the same
 * requests for about twice the CPU per event, the runner's largest cost (README, "Backend kafka",
 * Benchmark, session 9).
 */
export class EventExecutor {
  private readonly byOrigin = new Map<string, Origin>();
  private readonly endpoints = new Map<string, Endpoint>();
  /** The last URL and its endpoint (a rule's endpoint is one URL object for all its events). */
  private lastUrl: URL | undefined;
  private lastEndpoint: Endpoint | undefined;

  /**
   * `connections`: keep-alive connections per origin at most. `ca`: extra CA certificates for
   * https endpoints (the system's are used otherwise).
   */
  constructor(
    private readonly connections: number,
    private readonly ca?: string | Buffer,
  ) {}

  execute(request: ExecuteRequest): Promise<ExecuteResult> {
    let endpoint = this.lastEndpoint;
    if (request.url !== this.lastUrl || endpoint === undefined) {
      try {
        endpoint = this.endpointFor(request.url);
      } catch (error) {
        return Promise.resolve({ kind: 'error', message: (error as Error).message });
      }
      this.lastUrl = request.url;
      this.lastEndpoint = endpoint;
    }
    const body = request.body;
    const id = request.requestId;
    const tail =
      id !== undefined && SAFE_REQUEST_ID.test(id)
        ? `${body.length}\r\nx-request-id: ${id}\r\n\r\n`
        : `${body.length}\r\n\r\n`;
    const prefix = endpoint.prefix;
    // One buffer, one write: the head and the body together.
    const message = Buffer.allocUnsafe(prefix.length + tail.length + body.length);
    prefix.copy(message, 0);
    message.write(tail, prefix.length, 'latin1');
    body.copy(message, prefix.length + tail.length);
    const origin = endpoint.origin;
    return new Promise((resolve) => {
      origin.send(message, request.timeoutMs, (outcome) => resolve(resultOf(outcome)));
    });
  }

  /** Waits for running requests, then closes the connections. */
  async close(): Promise<void> {
    await Promise.all([...this.byOrigin.values()].map((o) => o.close()));
  }

  /** Aborts running requests (their events stay uncommitted and are read again later). */
  async destroy(): Promise<void> {
    for (const origin of this.byOrigin.values()) origin.destroy();
    await Promise.resolve();
  }

  private endpointFor(url: URL): Endpoint {
    const key = url.href;
    let endpoint = this.endpoints.get(key);
    if (endpoint !== undefined) return endpoint;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`EventExecutor: ${url.protocol} endpoints are not supported`);
    }
    let origin = this.byOrigin.get(url.origin);
    if (origin === undefined) {
      const tls = url.protocol === 'https:';
      origin = new Origin(
        {
          host: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
          tls,
          ...(this.ca !== undefined ? { ca: this.ca } : {}),
        },
        {
          max: Math.max(1, this.connections),
          keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          bodyCap: BODY_CAP,
        },
      );
      this.byOrigin.set(url.origin, origin);
    }
    // URL serializes the path and query percent-encoded: no space, CR or LF can reach the head.
    const prefix = Buffer.from(
      `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n` +
        'content-type: application/json\r\nuser-agent: jobrunner-kafka\r\ncontent-length: ',
      'latin1',
    );
    endpoint = { origin, prefix };
    // Bounded: endpoints come from the configuration ({database} makes one per wiki at most).
    if (this.endpoints.size < 10_000) this.endpoints.set(key, endpoint);
    return endpoint;
  }
}
