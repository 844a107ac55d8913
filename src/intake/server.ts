// The intake's HTTP server: POST /v1/events (EventGate's API; ?hasty=true answers before Kafka
// confirms), GET /healthz (alive), /readyz (Kafka reachable: the last produce or metadata check
// worked), /metrics (Prometheus), /status (JSON counters). Bodies are read up to maxBodyBytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IntakeConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { IntakeError, type EventIntake, type IntakeAnswer } from './intake.js';
import type { IntakeMetrics } from './metrics.js';

export interface IntakeServerDeps {
  readonly intake: EventIntake;
  readonly metrics: IntakeMetrics;
  readonly logger: Logger;
  /** Whether Kafka is usable now (for /readyz). */
  readonly ready: () => boolean;
  readonly status: () => object;
}

export interface IntakeServer {
  readonly port: number;
  /** http://HOST:PORT/v1/events */
  readonly url: string;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: object | string, type = 'application/json'): void {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': '0' });
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startIntakeServer(config: IntakeConfig, deps: IntakeServerDeps): Promise<IntakeServer> {
  const { intake, metrics, logger } = deps;

  async function onEvents(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
  ): Promise<number> {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, { error: 'use POST' });
      return 405;
    }
    // No Content-Type check: MediaWiki 1.39's MultiHttpClient sends EventBus's JSON body as
    // application/x-www-form-urlencoded (its own header wins over EventBus's lowercase one), and
    // EventGate accepts that. The body must be JSON whatever the header says.
    let answer: IntakeAnswer;
    try {
      const body = await readBody(req, config.maxBodyBytes);
      answer = await intake.handle(body, query.get('hasty') === 'true');
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        send(res, 413, {
          error: `request body larger than ${config.maxBodyBytes} bytes (intake.maxBodyBytes)`,
        });
        return 413;
      }
      if (error instanceof IntakeError) {
        send(res, error.httpStatus, { error: error.message });
        return error.httpStatus;
      }
      throw error;
    }
    send(res, answer.status, answer.body);
    return answer.status;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const url = new URL(req.url ?? '/', 'http://intake');
    switch (url.pathname) {
      case '/v1/events':
        return onEvents(req, res, url.searchParams);
      case '/healthz':
        send(res, 200, 'ok\n', 'text/plain');
        return 200;
      case '/readyz': {
        const ready = deps.ready();
        send(res, ready ? 200 : 503, ready ? 'ready\n' : 'Kafka not reachable\n', 'text/plain');
        return ready ? 200 : 503;
      }
      case '/metrics':
        send(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
        return 200;
      case '/status':
        send(res, 200, deps.status());
        return 200;
      default:
        send(res, 404, { error: 'not found' });
        return 404;
    }
  }

  const server: Server = createServer((req, res) => {
    const started = performance.now();
    route(req, res).then(
      (status) => {
        if (!req.url?.startsWith('/v1/events')) return;
        metrics.request(status, performance.now() - started);
        if (status >= 400) {
          logger.warn('Intake request refused', {
            status,
            method: req.method,
            contentType: req.headers['content-type'],
          });
        }
      },
      (error: unknown) => {
        logger.error('Intake request failed', {
          error: error instanceof Error ? error.message : String(error),
        });
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
        metrics.request(500, performance.now() - started);
      },
    );
  });
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.address.includes(':') ? `[${config.address}]` : config.address;
  return {
    port,
    url: `http://${host}:${port}/v1/events`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
