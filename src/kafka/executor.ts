// POSTs one event's raw bytes to the RunSingleJob endpoint over keep-alive connections. The body is
// never re-serialized: mediawiki_signature covers the exact bytes. Never throws.
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
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('request timeout'));
    }, request.timeoutMs);
    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'jobrunner-kafka',
      };
      if (request.requestId !== undefined) headers['x-request-id'] = request.requestId;
      const response = await this.agent.request({
        origin: request.url.origin,
        path: request.url.pathname + request.url.search,
        method: 'POST',
        body: request.body,
        headers,
        signal: controller.signal,
        headersTimeout: request.timeoutMs + 1000,
        bodyTimeout: request.timeoutMs + 1000,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        if (size < BODY_CAP) chunks.push(buffer.subarray(0, BODY_CAP - size));
        size += buffer.length;
      }
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return {
        kind: 'response',
        status: response.statusCode,
        readonly: /^(1|true|yes)$/i.test(flat['x-readonly'] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
        headers: flat,
      };
    } catch (error) {
      if (timedOut) return { kind: 'timeout', message: `no response within ${request.timeoutMs} ms` };
      const e = error as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' ? `${e.code}: ` : '';
      return {
        kind: 'error',
        message: `${code}${typeof e.message === 'string' ? e.message : String(error)}`,
      };
    } finally {
      clearTimeout(timer);
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
