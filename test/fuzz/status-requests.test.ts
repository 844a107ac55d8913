// Seeded bad requests over raw TCP to the real status server (startDaemonStatus, as the daemons
// wire it, on a real redis-server with a password and an admin token): it never crashes, answers
// 4xx (2xx only for harmless reads), never performs an admin action without the right token
// (Redis is compared key by key), never echoes a secret, and binds 127.0.0.1 by default.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { QUEUES_WITH_JOBS_KEY, makeQueueId, queueKeys } from '../../src/mediawiki/queue-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { noMetrics } from '../../src/observability/statsd.js';
import { daemonMetrics, startDaemonStatus, type DaemonStatusHandle } from '../../src/status/daemon-status.js';
import { NASTY_STRINGS, int, pick, randomText, seeded, type Random } from './generators.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = 1200;
const PASSWORD = 'fuzz-status-redis-pw-5b17c0';
const TOKEN = 'fuzz-status-admin-token-e83a91d2';

let redis: RedisServerHandle;
let client: Redis;
let dir: string;
let server: DaemonStatusHandle;
const logText: string[] = [];

beforeAll(async () => {
  redis = await startRedisServer({ password: PASSWORD });
  client = new Redis({ host: redis.host, port: redis.port, password: PASSWORD });
  // Something for the admin actions to act on: abandoned and unclaimed jobs.
  for (const [wiki, type] of [
    ['wiki3', 'type0'],
    ['wiki1', 'type5'],
  ] as const) {
    const k = queueKeys(type, wiki);
    for (let i = 0; i < 3; i++) {
      const id = `${wiki}${type}${i}`.padEnd(32, '0');
      await client.hset(k['h-data'], id, 'a:0:{}');
      if (i === 0) await client.lpush(k['l-unclaimed'], id);
      else await client.zadd(k['z-abandoned'], Math.floor(Date.now() / 1000), id);
    }
    await client.sadd(QUEUES_WITH_JOBS_KEY, makeQueueId(type, wiki));
  }
  dir = mkdtempSync(join(tmpdir(), 'fuzz-status-'));
  writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
  const conf = join(dir, 'jobrunner.conf');
  // No status.address: the default must be loopback.
  const body = {
    groups: { basic: { runners: 1, include: ['*'] } },
    redis: { aggregators: [redis.address], queues: [redis.address], password: PASSWORD },
    dispatcher: 'true',
    status: { runnerPort: 0, chronPort: 0, adminTokenFile: join(dir, 'admin.token') },
  };
  writeFileSync(conf, JSON.stringify(body, null, 2));
  const { registry } = daemonMetrics(noMetrics, 'jobrunner');
  const logger = createLogger({
    service: 'jobrunner',
    level: 'debug',
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        logText.push(chunk.toString());
        done();
      },
    }),
  });
  const started = await startDaemonStatus({
    role: 'jobrunner',
    config: loadConfigFile(conf),
    logger,
    registry,
    status: () => ({ note: 'fuzz' }),
    ready: () => true,
  });
  if (!started) throw new Error('status server did not start');
  server = started;
});

afterAll(async () => {
  await server?.close();
  client?.disconnect();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every key and its DUMP, to prove nothing changed. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of (await client.keys('*')).sort()) {
    out.set(key, (await client.dumpBuffer(key))?.toString('hex') ?? '');
  }
  return out;
}

interface Reply {
  readonly raw: string;
  readonly status: number | null;
}

/**
 * Sends raw bytes, reads until the server closes (or `holdMs`, then closes itself). `from`: the
 * loopback address to send from (wrong tokens throttle their sender's address only).
 */
function send(request: Buffer, holdMs = 4000, from = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, localAddress: from });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), holdMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after the server answered and closed is fine; a refused connection is not.
      if (error.code === 'ECONNREFUSED') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve({ raw, status: m ? Number(m[1]) : null });
    });
    socket.on('connect', () => socket.write(request));
  });
}

const READ_ROUTES = ['/', '/healthz', '/readyz', '/metrics', '/status', '/api/overview', '/api/queues'];
const ADMIN_ROUTES = ['/api/admin/retry-abandoned', '/api/admin/delete-queue'];
const METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO', 'get', 'G\tET', 'POST ', 'PROPFIND'];
const TRAVERSALS = [
  '/../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/..%2f..%2fetc%2fpasswd',
  '/%252e%252e/etc/passwd',
  '//etc/passwd',
  '/api/admin/../queues',
  '/api/admin/%2e%2e/queues',
  '/api/queues/../admin/delete-queue',
  '/api/%61dmin/delete-queue',
  '/api/admin/delete-queue%00',
  '/api/admin/retry-abandoned/',
  '/app.js/..%5c..%5cetc%5cpasswd',
  'http://evil.example/api/admin/delete-queue',
  '*',
  '/%ff%fe',
  '/%',
  '/%0d%0aSet-Cookie:%20x=1',
  '/healthz?%0d%0aX-Injected:1',
];
const BAD_AUTH = (r: Random): string | null =>
  pick(r, [
    null,
    '',
    'Bearer',
    'Bearer ',
    'Bearer wrong',
    `Bearer ${TOKEN}x`,
    `Bearer x${TOKEN}`,
    `Bearer ${TOKEN.slice(0, -1)}`,
    `Bearer ${TOKEN.toUpperCase()}`,
    TOKEN,
    `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`,
    `Token ${TOKEN}`,
    `Bearer ${TOKEN} extra`,
    `Bearer ${'x'.repeat(int(r, 100, 12_000))}`,
    `Bearer ${randomText(r, 30).replace(/[\r\n\0]/g, '')}`,
    `Bearer ${pick(r, NASTY_STRINGS).replace(/[\r\n\0]/g, '')}`,
  ]);
const BAD_BODIES = (r: Random): string =>
  pick(r, [
    '',
    '{',
    '[]',
    '[{"wiki":"wiki3","type":"type0"}]',
    'null',
    '"wiki3"',
    '42',
    '{"wiki":"wiki3"}',
    '{"type":"type0"}',
    '{"wiki":3,"type":"type0"}',
    '{"wiki":"wiki3","type":["type0"]}',
    '{"wiki":null,"type":null}',
    '{"__proto__":{"wiki":"wiki3","type":"type0"}}',
    `{"wiki":"wiki3","type":"type0",${'"p":1,'.repeat(4000)}"z":1}`,
    randomText(r, int(r, 0, 200)),
  ]);

function request(
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
  version = 'HTTP/1.1',
): Buffer {
  const lines = [`${method} ${path} ${version}`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== '' || method.startsWith('POST')) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(body, 'utf8')]);
}

/** Percent-encodes every byte of the UTF-8 form (lone surrogates become U+FFFD). */
function pctEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

interface Case {
  readonly kind: string;
  readonly bytes: Buffer;
  /** A 2xx answer is fine (a harmless read). */
  readonly readOnly: boolean;
}

function badRequest(r: Random, index: number): Case {
  const validTarget = '{"wiki":"wiki3","type":"type0"}';
  switch (index % 8) {
    case 0: {
      const path = pick(r, [...READ_ROUTES, ...ADMIN_ROUTES]);
      return { kind: 'method', bytes: request(pick(r, METHODS), path, {}), readOnly: false };
    }
    case 1: {
      const path = pick(r, [
        `/${randomText(r, int(r, 1, 80))}`,
        `/${'a'.repeat(int(r, 2000, 20_000))}`,
        `/api/queues?${'q='.repeat(int(r, 1, 3000))}`,
        `/${pick(r, NASTY_STRINGS)}`,
      ]);
      return { kind: 'garbage-path', bytes: request('GET', path, {}), readOnly: true };
    }
    case 2: {
      const path = pick(r, TRAVERSALS);
      const method = pick(r, ['GET', 'POST', 'HEAD']);
      const auth = BAD_AUTH(r);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (auth !== null) headers.Authorization = auth;
      return {
        kind: 'traversal',
        bytes: request(method, path, headers, method === 'POST' ? validTarget : ''),
        readOnly: method !== 'POST',
      };
    }
    case 3:
    case 4: {
      // The important one: a well-formed admin request whose only fault is the token.
      const auth = BAD_AUTH(r);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (auth !== null) headers.Authorization = auth;
      return {
        kind: 'bad-auth',
        bytes: request('POST', pick(r, ADMIN_ROUTES), headers, validTarget),
        readOnly: false,
      };
    }
    case 5: {
      const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` };
      if (r() < 0.85)
        headers['Content-Type'] = pick(r, ['application/json', 'application/jsonx', 'text/plain']);
      return {
        kind: 'bad-body',
        bytes: request('POST', pick(r, ADMIN_ROUTES), headers, BAD_BODIES(r)),
        readOnly: false,
      };
    }
    case 6: {
      const attack = pick(r, [
        { 'X-A': 'x\rSet-Cookie: a=1' },
        { 'X-A': 'x\nX-Injected: 1' },
        { 'X-A\r\nX-Injected': '1' },
        { 'Content-Length': '5', 'Transfer-Encoding': 'chunked' },
        { 'Transfer-Encoding': 'chunked, identity' },
        { 'Content-Length': '-1' },
        { 'Content-Length': '99999999999999999999' },
        { Host: 'evil.example\r\nX-Injected: 1' },
        { 'X-Big': 'y'.repeat(int(r, 17_000, 40_000)) },
        Object.fromEntries(Array.from({ length: int(r, 2001, 3000) }, (_, i) => [`X-H${i}`, 'v'])),
        { Authorization: `Bearer ${TOKEN}\r\nX-Injected: 1` },
        { Authorization: `Bearer wrong\r\n\r\nPOST /api/admin/delete-queue HTTP/1.1` },
      ]);
      const method = pick(r, ['GET', 'POST']);
      const path = pick(r, [...READ_ROUTES, ...ADMIN_ROUTES]);
      // Injected lines only add headers (or a pipelined request): a plain read may still succeed,
      // and the pipelined admin POST after it carries no token.
      return {
        kind: 'header-injection',
        bytes: request(method, path, attack, validTarget),
        readOnly: method === 'GET' && READ_ROUTES.includes(path),
      };
    }
    default: {
      const params = Array.from(
        { length: int(r, 1, 5) },
        () =>
          `${pick(r, ['limit', 'offset', 'sort', 'dir', 'wiki', 'type', 'q', 'abandoned'])}=${pctEncode(
            pick(r, [...NASTY_STRINGS.slice(0, 30), String(int(r, -5, 1e9)), '1e400', '0x10']),
          )}`,
      ).join('&');
      const version = pick(r, ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', 'FOO']);
      return {
        kind: 'query',
        bytes: request('GET', `/api/queues?${params}`, {}, '', version),
        readOnly: true,
      };
    }
  }
}

describe(`status server: ${CASES} bad requests over raw TCP`, () => {
  it('binds 127.0.0.1 by default', () => {
    expect(server.address).toBe('127.0.0.1');
  });

  it('answers every bad request with 4xx (2xx for harmless reads), acts on none, leaks no secret', async () => {
    const before = await snapshot();
    const r = seeded(SEED);
    const cases = Array.from({ length: CASES }, (_, i) => badRequest(r, i));
    const tally = new Map<string, number>();
    const problems: string[] = [];
    const BATCH = 25;
    for (let i = 0; i < cases.length; i += BATCH) {
      // Right-token cases from their own address: the bad-auth cases get 127.0.0.1 throttled (429).
      const replies = await Promise.all(
        cases
          .slice(i, i + BATCH)
          .map((c) => send(c.bytes, 4000, c.kind === 'bad-body' ? '127.0.0.2' : '127.0.0.1')),
      );
      replies.forEach((reply, j) => {
        const c = cases[i + j] as Case;
        const where = `case ${i + j} (seed ${SEED}, ${c.kind}): ${c.bytes.toString('latin1').slice(0, 120)}`;
        const s = reply.status;
        tally.set(
          `${c.kind} ${s === null ? 'closed' : `${Math.floor(s / 100)}xx`}`,
          1 + (tally.get(`${c.kind} ${s === null ? 'closed' : `${Math.floor(s / 100)}xx`}`) ?? 0),
        );
        if (s === null) problems.push(`${where}: no HTTP answer`);
        else if (s >= 500) problems.push(`${where}: ${s}`);
        else if (s < 400 && !(c.readOnly && s >= 200 && s < 300)) problems.push(`${where}: ${s}`);
        if (c.kind === 'bad-body' && s === 429) problems.push(`${where}: throttled, body never read`);
        if (reply.raw.includes(TOKEN) || reply.raw.includes(PASSWORD))
          problems.push(`${where}: secret in reply`);
        if (/^(set-cookie|x-injected):/im.test(reply.raw.split('\r\n\r\n')[0] ?? ''))
          problems.push(`${where}: injected header in reply`);
        if (reply.raw.includes('root:x:0:0')) problems.push(`${where}: served /etc/passwd`);
      });
    }
    console.log(`status requests: ${CASES} cases ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    expect(problems).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect(logText.join('')).not.toContain(TOKEN);
    expect(logText.join('')).not.toContain(PASSWORD);
  }, 60_000);

  it('keeps serving while slowloris connections hold partial requests', async () => {
    const slow = Array.from({ length: 50 }, () =>
      send(Buffer.from('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '), 1500),
    );
    const healthy = await send(request('GET', '/readyz', {}));
    expect(healthy.status).toBe(200);
    const ends = await Promise.all(slow);
    // Held partial requests get no answer; the server is still up afterwards.
    expect(ends.every((e) => e.status === null || e.status >= 400)).toBe(true);
    expect((await send(request('GET', '/healthz', {}))).status).toBe(200);
  });
});
