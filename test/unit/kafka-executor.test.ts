// The Kafka executor's own HTTP/1.1 client (src/kafka/http/): never more connections to an origin
// than its limit, requests beyond it wait in order and all run, a connection the server closed is
// opened again, failures, timeouts and malformed responses come back as results (never thrown),
// nothing from an event reaches the request head unchecked, https is verified, and close() waits
// for running requests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventExecutor } from '../../src/kafka/executor.js';
import { until } from '../support/until.js';

const sockets = new Set<Socket>();
const held: ServerResponse[] = [];
/** Paths in the order their requests reached the server. */
const arrived: string[] = [];

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    arrived.push(url.pathname + url.search);
    const answer = (status: number, body = ''): void => {
      res.writeHead(status, { 'content-type': 'text/plain', 'x-readonly': url.searchParams.get('ro') ?? '' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/hold':
        held.push(res);
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

describe('EventExecutor connections', () => {
  it('keeps to its connection limit; requests beyond it wait and go in the order they were asked for', async () => {
    arrived.length = 0;
    held.length = 0;
    const executor = new EventExecutor(4);
    const results = Array.from({ length: 12 }, (_, i) =>
      executor.execute({ url: new URL(`${base}/hold?i=${i}`), body: Buffer.from('{}'), timeoutMs: 20_000 }),
    );
    const index = (k: number): number =>
      Number(new URL(arrived[k] as string, 'http://x').searchParams.get('i'));
    await until(() => held.length === 4, 'four held requests', 20_000, { pollMs: 5 });
    expect(new Set(arrived.map((_, k) => index(k)))).toEqual(new Set([0, 1, 2, 3]));
    // The limit: each answer below lets exactly one more request through (with no limit all 12
    // would have arrived). Each answer frees one connection, which takes exactly the oldest waiting request. (Requests
    // sent at the same moment on different connections may reach a server in either order, so
    // the order is checked one release at a time.)
    for (let k = 4; k < 12; k++) {
      (held.shift() as ServerResponse).end();
      await until(() => held.length === 4, 'four held requests', 20_000, { pollMs: 5 });
      expect(arrived).toHaveLength(k + 1);
      expect(index(k)).toBe(k);
    }
    for (const res of held.splice(0)) res.end();
    expect((await Promise.all(results)).every((r) => r.kind === 'response' && r.status === 200)).toBe(true);
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
    await until(() => held.length === 1, 'the held request', 20_000, { pollMs: 5 });
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

/** A server that answers each request with what `answer` gives for its head (raw bytes). */
async function rawServer(
  answer: (head: string, socket: Socket) => string | undefined,
): Promise<{ url: string; heads: string[]; server: Server; open: Set<Socket> }> {
  const heads: string[] = [];
  const open = new Set<Socket>();
  const server = createTcpServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.slice(0, end);
        const length = Number(/\r\ncontent-length: ([0-9]+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        pending = pending.slice(end + 4 + length);
        heads.push(head);
        const reply = answer(head, socket);
        if (reply !== undefined) socket.write(reply, 'latin1');
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heads,
    server,
    open,
  };
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';

describe('EventExecutor HTTP/1.1', () => {
  it('reads chunked failure bodies and reuses the connection', async () => {
    const raw = await rawServer(() =>
      [
        'HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\nX-Readonly: yes\r\n\r\n',
        '3\r\nabc\r\n0\r\n\r\n',
      ].join(''),
    );
    const executor = new EventExecutor(1);
    for (let i = 0; i < 3; i++) {
      const result = await executor.execute({
        url: new URL(`${raw.url}/x`),
        body: Buffer.from('{}'),
        timeoutMs: 5000,
      });
      expect(result).toMatchObject({ kind: 'response', status: 500, readonly: true, body: 'abc' });
    }
    expect(raw.open.size).toBe(1);
    await executor.close();
    await closeServer(raw.server);
  });

  it('reports a malformed response as an error and opens a fresh connection for the next request', async () => {
    let n = 0;
    const raw = await rawServer(() => (n++ === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n' : OK));
    const executor = new EventExecutor(1);
    const bad = await executor.execute({
      url: new URL(`${raw.url}/x`),
      body: Buffer.from('{}'),
      timeoutMs: 5000,
    });
    expect(bad).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/invalid HTTP response: malformed Content-Length/),
    });
    const good = await executor.execute({
      url: new URL(`${raw.url}/x`),
      body: Buffer.from('{}'),
      timeoutMs: 5000,
    });
    expect(good).toMatchObject({ kind: 'response', status: 200 });
    await executor.close();
    await closeServer(raw.server);
  });

  it('reports a connection closed in mid-response as an error', async () => {
    const raw = await rawServer((_head, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      return undefined;
    });
    const executor = new EventExecutor(1);
    const result = await executor.execute({
      url: new URL(`${raw.url}/x`),
      body: Buffer.from('{}'),
      timeoutMs: 5000,
    });
    expect(result).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/before the response body ended/),
    });
    await executor.close();
    await closeServer(raw.server);
  });

  it('uses a new connection once the server closed an idle one', async () => {
    const raw = await rawServer(() => OK);
    const executor = new EventExecutor(1);
    const url = new URL(`${raw.url}/x`);
    expect(await executor.execute({ url, body: Buffer.from('{}'), timeoutMs: 5000 })).toMatchObject({
      status: 200,
    });
    // The server drops its side, as at its keep-alive timeout.
    for (const socket of raw.open) socket.destroy();
    await until(() => raw.open.size === 0, 'the server side closed', 20_000, { pollMs: 5 });
    expect(await executor.execute({ url, body: Buffer.from('{}'), timeoutMs: 5000 })).toMatchObject({
      status: 200,
    });
    await executor.close();
    await closeServer(raw.server);
  });

  it("closes an idle connection before the server's Keep-Alive timeout ends", async () => {
    // The server never closes it itself: only the executor's sweep can.
    const raw = await rawServer(
      () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=1\r\n\r\n',
    );
    const executor = new EventExecutor(1);
    const url = new URL(`${raw.url}/x`);
    expect(await executor.execute({ url, body: Buffer.from('{}'), timeoutMs: 5000 })).toMatchObject({
      status: 200,
    });
    expect(raw.open.size).toBe(1);
    await until(() => raw.open.size === 0, 'the server side closed', 20_000, { pollMs: 5 });
    expect(await executor.execute({ url, body: Buffer.from('{}'), timeoutMs: 5000 })).toMatchObject({
      status: 200,
    });
    await executor.close();
    await closeServer(raw.server);
  });

  it('answers an endpoint it cannot speak to with an error result', async () => {
    const executor = new EventExecutor(1);
    const result = await executor.execute({
      url: new URL('ftp://127.0.0.1/x'),
      body: Buffer.from('{}'),
      timeoutMs: 5000,
    });
    expect(result).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/ftp: endpoints are not supported/),
    });
    await executor.close();
  });

  it('sends a request ID only when it is safe header text', async () => {
    const raw = await rawServer(() => OK);
    const executor = new EventExecutor(1);
    const url = new URL(`${raw.url}/rpc?wiki=a%20b`);
    const body = Buffer.from('{"x":"é"}');
    await executor.execute({ url, body, timeoutMs: 5000, requestId: 'abc-123' });
    await executor.execute({ url, body, timeoutMs: 5000, requestId: 'x\r\nx-injected: 1' });
    expect(raw.heads[0]).toMatch(/^POST \/rpc\?wiki=a%20b HTTP\/1\.1\r\n/);
    expect(raw.heads[0]).toContain(`\r\ncontent-length: ${body.length}`);
    expect(raw.heads[0]).toContain('\r\nx-request-id: abc-123');
    expect(raw.heads[1]).not.toMatch(/x-injected|x-request-id/);
    await executor.close();
    await closeServer(raw.server);
  });

  it('fails running and waiting requests when destroyed', async () => {
    const raw = await rawServer(() => undefined);
    const executor = new EventExecutor(1);
    const url = new URL(`${raw.url}/x`);
    const running = executor.execute({ url, body: Buffer.from('{}'), timeoutMs: 60_000 });
    const waiting = executor.execute({ url, body: Buffer.from('{}'), timeoutMs: 60_000 });
    await until(() => raw.heads.length === 1, 'the first request', 20_000, { pollMs: 5 });
    await executor.destroy();
    expect(await running).toMatchObject({ kind: 'error', message: expect.stringMatching(/aborted/) });
    expect(await waiting).toMatchObject({ kind: 'error', message: expect.stringMatching(/aborted/) });
    await closeServer(raw.server);
  });

  it('speaks https, verifying the certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'executor-tls-'));
    try {
      selfSignedCertificate(dir);
      const cert = readFileSync(join(dir, 'cert.pem'));
      const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_req, res) => {
        res.writeHead(409);
        res.end('over tls');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const trusting = new EventExecutor(1, cert);
      for (const host of ['127.0.0.1', 'localhost']) {
        const result = await trusting.execute({
          url: new URL(`https://${host}:${port}/x`),
          body: Buffer.from('{}'),
          timeoutMs: 5000,
        });
        expect(result).toMatchObject({ kind: 'response', status: 409, body: 'over tls' });
      }
      const untrusting = new EventExecutor(1);
      const refused = await untrusting.execute({
        url: new URL(`https://localhost:${port}/x`),
        body: Buffer.from('{}'),
        timeoutMs: 5000,
      });
      expect(refused).toMatchObject({
        kind: 'error',
        message: expect.stringMatching(/self[- ]signed|certificate/i),
      });
      await Promise.all([trusting.close(), untrusting.close()]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A throwaway certificate for localhost and 127.0.0.1 in dir (key.pem, cert.pem), made by openssl. */
function selfSignedCertificate(dir: string): void {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push(
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
  );
  args.push('-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  try {
    execFileSync('openssl', args, { stdio: 'ignore' });
  } catch (error) {
    const missing = (error as { code?: unknown }).code === 'ENOENT';
    throw new Error(
      missing
        ? 'openssl is missing: install the Debian package openssl (scripts/setup.sh)'
        : `openssl failed: ${String(error)}`,
    );
  }
}
