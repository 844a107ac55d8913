// The Kafka executor's own connection set (src/kafka/connections.ts): never more connections to an
// origin than its limit, requests beyond it wait in order and all run, a connection the server
// closed is opened again, failures and timeouts come back as results (never thrown), and close()
// waits for running requests.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventExecutor } from '../../src/kafka/executor.js';

const sockets = new Set<Socket>();
let peak = 0;
let running = 0;
const held: ServerResponse[] = [];
/** Paths in the order their requests reached the server. */
const arrived: string[] = [];

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    arrived.push(url.pathname + url.search);
    running++;
    peak = Math.max(peak, running);
    const answer = (status: number, body = ''): void => {
      running--;
      res.writeHead(status, { 'content-type': 'text/plain', 'x-readonly': url.searchParams.get('ro') ?? '' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/hold':
        held.push(res);
        res.on('close', () => running--);
        return;
      case '/close':
        // Answers, then closes the connection (as a server with a keep-alive limit does).
        res.setHeader('connection', 'close');
        return answer(200);
      case '/fail':
        return answer(503, `body:${Buffer.concat(chunks).toString('utf8')}`);
      case '/echo':
        return setTimeout(() => answer(200), 5);
      default:
        return answer(404);
    }
  });
});
server.on('connection', (socket: Socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

let base = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of held.splice(0)) r.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('EventExecutor connections', () => {
  it('keeps to its connection limit; requests beyond it wait in order and all run', async () => {
    peak = 0;
    arrived.length = 0;
    const executor = new EventExecutor(4);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        executor.execute({ url: new URL(`${base}/echo?i=${i}`), body: Buffer.from('{}'), timeoutMs: 20_000 }),
      ),
    );
    expect(results.every((r) => r.kind === 'response' && r.status === 200)).toBe(true);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    // The first four go at once; every later one in the order it was asked for.
    const later = arrived.slice(4).map((path) => Number(new URL(path, 'http://x').searchParams.get('i')));
    expect(later).toEqual([...later].sort((a, b) => a - b));
    await executor.close();
  });

  it('opens a connection again after the server closed it, and reports failures with their body', async () => {
    const executor = new EventExecutor(1);
    const closed = await executor.execute({
      url: new URL(`${base}/close`),
      body: Buffer.from('{}'),
      timeoutMs: 20_000,
    });
    expect(closed).toMatchObject({ kind: 'response', status: 200 });
    const failed = await executor.execute({
      url: new URL(`${base}/fail?ro=1`),
      body: Buffer.from('{"a":1}'),
      timeoutMs: 20_000,
    });
    expect(failed).toMatchObject({ kind: 'response', status: 503, readonly: true, body: 'body:{"a":1}' });
    await executor.close();
  });

  it('answers a request that outlasts its timeout with a timeout, and frees its connection', async () => {
    const executor = new EventExecutor(1);
    const slow = await executor.execute({
      url: new URL(`${base}/hold`),
      body: Buffer.from('{}'),
      timeoutMs: 200,
    });
    expect(slow).toMatchObject({ kind: 'timeout' });
    const next = await executor.execute({
      url: new URL(`${base}/echo`),
      body: Buffer.from('{}'),
      timeoutMs: 20_000,
    });
    expect(next).toMatchObject({ kind: 'response', status: 200 });
    await executor.close();
  });

  it('reports a refused connection as an error result', async () => {
    const closedServer = createServer();
    await new Promise<void>((resolve) => closedServer.listen(0, '127.0.0.1', resolve));
    const port = (closedServer.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closedServer.close(() => resolve()));
    const executor = new EventExecutor(2);
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        executor.execute({
          url: new URL(`http://127.0.0.1:${port}/x`),
          body: Buffer.from('{}'),
          timeoutMs: 5000,
        }),
      ),
    );
    for (const r of results) expect(r).toMatchObject({ kind: 'error' });
    await executor.close();
  });

  it('close() waits for the running request', async () => {
    held.length = 0;
    const executor = new EventExecutor(2);
    const running = executor.execute({
      url: new URL(`${base}/hold`),
      body: Buffer.from('{}'),
      timeoutMs: 20_000,
    });
    await until(() => held.length === 1);
    let closed = false;
    const closing = executor.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    (held.pop() as ServerResponse).end();
    expect(await running).toMatchObject({ kind: 'response', status: 200 });
    await closing;
    expect(closed).toBe(true);
  });
});
