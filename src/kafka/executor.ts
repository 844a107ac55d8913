// POSTs one event's raw bytes to the RunSingleJob endpoint over keep-alive connections. The body is
// never re-serialized: mediawiki_signature covers the exact bytes. Never throws.
import type { Readable } from 'node:stream';
import { Agent } from 'undici';

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

/** Built once: the request headers of every event without a request ID. */
const HEADERS: readonly string[] = ['content-type', 'application/json', 'user-agent', 'jobrunner-kafka'];
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The first BODY_CAP bytes of a response body as text; the rest is read and dropped. */
function readCapped(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      if (size < BODY_CAP) chunks.push(chunk.subarray(0, BODY_CAP - size));
      size += chunk.length;
    });
    body.once('end', () => resolve(chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8')));
    body.once('error', reject);
  });
}

export class EventExecutor {
  private readonly agent: Agent;

  constructor(connections: number) {
    this.agent = new Agent({
      connections: Math.max(1, connections),
      keepAliveTimeout: 30_000,
      connect: { timeout: 10_000 },
    });
  }

  async execute(request: ExecuteRequest): Promise<ExecuteResult> {
    const headers =
      request.requestId === undefined ? HEADERS : [...HEADERS, 'x-request-id', request.requestId];
    try {
      // undici's own timers bound the wait (RunSingleJob answers once the job has run, so the
      // headers timeout is the job's); an AbortController and timer per request cost more CPU
      // than the rest of the request handling together.
      const response = await this.agent.request({
        origin: request.url.origin,
        path: request.url.pathname + request.url.search,
        method: 'POST',
        body: request.body,
        headers: headers as string[],
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        // Success: nothing of the response is used (classify() only reads failures), so the body is
        // drained without collecting it and no header record is built.
        await response.body.dump();
        return { kind: 'response', status, readonly: false, body: '', headers: NO_HEADERS };
      }
      const body = await readCapped(response.body);
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return {
        kind: 'response',
        status,
        readonly: /^(1|true|yes)$/i.test(flat['x-readonly'] ?? ''),
        body,
        headers: flat,
      };
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown };
      if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
        return { kind: 'timeout', message: `no response within ${request.timeoutMs} ms` };
      }
      const code = typeof e.code === 'string' ? `${e.code}: ` : '';
      return {
        kind: 'error',
        message: `${code}${typeof e.message === 'string' ? e.message : String(error)}`,
      };
    }
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
