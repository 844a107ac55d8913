// HTTP and Special:RunJobs dispatchers against a real local HTTP server (node:http) that the test
// starts, answering with the error shapes MediaWiki endpoints really produce.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../support/log-capture.js';
import { HttpDispatcher } from '../../src/runner/dispatch/http-dispatcher.js';
import { createMasker } from '../../src/runner/dispatch/masking.js';
import { SpecialRunJobsDispatcher } from '../../src/runner/dispatch/special-runjobs-dispatcher.js';
import type { DispatchRequest } from '../../src/runner/dispatch/types.js';
import { freePort } from '../../src/farm/free-port.js';

const logger = silentLogger();

interface Seen {
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
  remotePort: number | undefined;
}

const RESULT = JSON.stringify({
  jobs: [
    { type: 'null', status: 'ok', error: null, time: 0 },
    { type: 'mwlabFail', status: 'failed', error: 'mwlabFail: deliberate failure', time: 1 },
  ],
  reached: 'none-ready',
  backoffs: [],
  elapsed: 1,
});

// path → handler; the path is the first segment, e.g. /ok/..., /html500/...
const handlers: Record<string, (req: IncomingMessage, res: ServerResponse, seen: Seen) => void> = {
  ok: (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(RESULT),
  html500: (_req, res) =>
    res
      .writeHead(500, { 'content-type': 'text/html' })
      .end(
        '<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head><body>boom</body></html>',
      ),
  notpost: (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('Request must use POST.'),
  html200: (_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>MediaWiki</h1></body></html>'),
  hang: () => undefined, // never answers
  huge: (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(Buffer.alloc(9 * 1024 * 1024, 'x'));
  },
  badsig: (_req, res) =>
    res.writeHead(400, { 'content-type': 'text/plain' }).end('Invalid or stale signature provided.'),
  readonly: (_req, res) =>
    res.writeHead(423, { 'content-type': 'text/plain' }).end('Wiki is in read-only mode.'),
  accepted: (_req, res) => res.writeHead(202).end(),
  done: (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('Done'),
};

let server: Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        body: Buffer.concat(chunks).toString(),
        contentType: req.headers['content-type'],
        remotePort: req.socket.remotePort,
      };
      seen.push(record);
      const name = (req.url ?? '/').split('/')[1]?.split('?')[0] ?? '';
      const handler = handlers[name];
      if (handler) handler(req, res, record);
      else res.writeHead(404).end('no such handler');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function request(overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return {
    wiki: 'wiki1',
    domain: 'wiki1',
    type: 'null',
    maxTime: 60,
    maxMem: '300M',
    realLimitSeconds: 30,
    maxJobs: 0,
    ...overrides,
  };
}

function http(path: string): HttpDispatcher {
  return new HttpDispatcher({
    template: `${base}/${path}?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u`,
    connectTimeoutMs: 2000,
    logger,
    mask: createMasker([]),
  });
}

describe('http dispatcher', () => {
  it('POSTs an empty body to the rendered URL and reads the result', async () => {
    const d = http('ok/rpc/RunJobs.php');
    const before = seen.length;
    const result = await d.dispatch(request({ type: 'a b/ü&x' }), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(result.okJobs).toBe(1);
    expect(result.failedJobs).toBe(1);
    expect(result.byType).toEqual({ null: { ok: 1, failed: 0 }, mwlabFail: { ok: 0, failed: 1 } });
    expect(result.httpStatus).toBe(200);
    const req = seen[before] as Seen;
    expect(req.method).toBe('POST');
    expect(req.body).toBe('');
    expect(req.url).toBe('/ok/rpc/RunJobs.php?wiki=wiki1&type=a%20b%2F%C3%BC%26x&maxtime=60&maxmem=300M');
    expect(result.target).toBe(`POST ${base}${req.url}`);
    await d.close();
  });

  it('reuses keep-alive connections for consecutive dispatches', async () => {
    const d = http('ok/x');
    const before = seen.length;
    for (let i = 0; i < 6; i++) await d.dispatch(request(), new AbortController().signal);
    const ports = new Set(seen.slice(before).map((s) => s.remotePort));
    // undici may open a second socket while the first is being released; never one per request.
    expect(ports.size).toBeLessThanOrEqual(2);
    await d.close();
  });

  it('reports a 500 HTML page as http-status with the page title', async () => {
    const result = await http('html500').dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('http-status');
    expect(result.httpStatus).toBe(500);
    expect(result.error).toBe('HTTP 500 from the endpoint: 500 Internal Server Error');
    expect(result.excerpt).toContain('<title>500 Internal Server Error</title>');
  });

  it('reports 200 bodies that are not JSON (W8) as bad-output', async () => {
    const notPost = await http('notpost').dispatch(request(), new AbortController().signal);
    expect(notPost.outcome).toBe('error');
    expect(notPost.errorKind).toBe('bad-output');
    expect(notPost.error).toBe(
      'HTTP 200 body (text/html) is not a runJobs result: no JSON object in output: Request must use POST.',
    );
    expect(notPost.excerpt).toBe('Request must use POST.');
    const html = await http('html200').dispatch(request(), new AbortController().signal);
    expect(html.errorKind).toBe('bad-output');
    expect(html.error).toMatch(
      /HTTP 200 body \(text\/html\) is not a runJobs result: no JSON object in output/,
    );
  });

  it('cuts off an oversized body and says so', async () => {
    const result = await http('huge').dispatch(request(), new AbortController().signal);
    expect(result.errorKind).toBe('bad-output');
    expect(result.error).toMatch(/body exceeded \d+ bytes; result not parsed/);
    expect(result.excerpt?.length).toBeLessThanOrEqual(4096);
  });

  it('times out a request that never answers (limits.real)', async () => {
    const result = await http('hang').dispatch(
      request({ realLimitSeconds: 0.4 }),
      new AbortController().signal,
    );
    expect(result.outcome).toBe('timeout');
    expect(result.errorKind).toBe('timeout');
    expect(result.error).toMatch(
      /^no response within 0.4s \(limits.real\).*server may still be running its jobs/,
    );
  });

  it('aborts an in-flight request', async () => {
    const controller = new AbortController();
    const d = http('hang');
    const pending = d.dispatch(request({ realLimitSeconds: 60 }), controller.signal);
    const deadline = Date.now() + 5000;
    const before = seen.length;
    while (seen.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    controller.abort('drain timeout');
    const result = await pending;
    expect(result.outcome).toBe('aborted');
    expect(result.errorKind).toBe('aborted');
  });

  it('names a refused connection', async () => {
    const port = await freePort('127.0.0.1');
    const d = new HttpDispatcher({
      template: `http://127.0.0.1:${port}/rpc/RunJobs.php?wiki=%(db)u`,
      connectTimeoutMs: 2000,
      logger,
      mask: createMasker([]),
    });
    const result = await d.dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('http-error');
    expect(result.error).toMatch(/^HTTP request failed: connection refused \(ECONNREFUSED\)/);
    await d.close();
  });

  it('accepts the original curl form', async () => {
    const d = new HttpDispatcher({
      template: `curl -XPOST -s -a '${base.replace(/\//g, '\\/')}\\/ok\\/rpc\\/RunJobs.php?wiki=%(db)u&type=%(type)u'`,
      connectTimeoutMs: 2000,
      logger,
      mask: createMasker([]),
    });
    const before = seen.length;
    const result = await d.dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(seen[before]?.url).toBe('/ok/rpc/RunJobs.php?wiki=wiki1&type=null');
    await d.close();
  });
});

describe('Special:RunJobs dispatcher response handling', () => {
  function special(path: string): SpecialRunJobsDispatcher {
    return new SpecialRunJobsDispatcher({
      baseUrls: { '*': `${base}/${path}/index.php?wiki=%(db)u` },
      secretKey: 'the-secret-key',
      connectTimeoutMs: 2000,
      logger,
      mask: createMasker(['the-secret-key']),
    });
  }

  it('POSTs the signed form body and reads the result', async () => {
    const before = seen.length;
    const result = await special('ok').dispatch(request({ wiki: 'wiki2' }), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(result.okJobs).toBe(1);
    const req = seen[before] as Seen;
    expect(req.url).toBe('/ok/index.php?wiki=wiki2&title=Special%3ARunJobs');
    expect(req.contentType).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(req.body);
    expect(Object.fromEntries(form)).toMatchObject({
      async: '0',
      stats: '1',
      tasks: 'jobs',
      title: 'Special:RunJobs',
      type: 'null',
      maxtime: '60',
      maxjobs: '1000',
    });
    expect(form.get('signature')).toMatch(/^[0-9a-f]{40}$/);
    expect(result.target).toContain('signature=***');
    expect(result.target).not.toContain(form.get('signature') as string);
  });

  it('explains a rejected signature', async () => {
    const result = await special('badsig').dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('http-status');
    expect(result.httpStatus).toBe(400);
    expect(result.error).toMatch(
      /HTTP 400 from the endpoint: invalid or stale signature: dispatch\.secretKeyFile/,
    );
  });

  it('treats 423 as reached read-only', async () => {
    const result = await special('readonly').dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(result.result).toEqual({ jobs: [], reached: 'read-only', backoffs: {}, elapsed: null });
    expect(result.httpStatus).toBe(423);
  });

  it('reports 202 (async run) and a bare "Done" as bad-output', async () => {
    const accepted = await special('accepted').dispatch(request(), new AbortController().signal);
    expect(accepted.errorKind).toBe('bad-output');
    expect(accepted.error).toMatch(/HTTP 202 Accepted/);
    const done = await special('done').dispatch(request(), new AbortController().signal);
    expect(done.errorKind).toBe('bad-output');
    expect(done.error).toMatch(/not a runJobs result: no JSON object in output: Done$/);
  });

  it('reports a wiki without a base URL', async () => {
    const d = new SpecialRunJobsDispatcher({
      baseUrls: { wiki1: `${base}/ok/index.php` },
      secretKey: 'secret-key-value',
      connectTimeoutMs: 2000,
      logger,
      mask: createMasker(['secret-key-value']),
    });
    const result = await d.dispatch(request({ wiki: 'wiki7' }), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.error).toBe('dispatch.baseUrls has no entry for wiki "wiki7" and no "*" fallback');
    await d.close();
  });
});
