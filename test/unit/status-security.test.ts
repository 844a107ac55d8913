// The status server against an attacker on the network or a web page: Host allow-list (DNS
// rebinding), throttled admin token guessing, and secrets masked before serialization, with
// generated passwords of every printable character class, in responses and in log lines.
// A real status server on loopback; the queue listing is a fixed in-memory farm.
import { request } from 'node:http';
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { AuthThrottle } from '../../src/status/auth-throttle.js';
import { summarizeFarm } from '../../src/status/farm-summary.js';
import { hostChecker } from '../../src/status/host-check.js';
import { startStatusServer, type StatusServerHandle } from '../../src/status/server.js';
import { int, seeded, type Random } from '../fuzz/generators.js';
import { silentLogger } from '../support/log-capture.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const TOKEN = 'status-security-token-5f0c2e9a';

// Every printable ASCII character (space included) and some beyond ASCII, each one class.
const CLASSES: string[] = [
  ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)),
  'é',
  'ß',
  '中',
  '😀',
  '\u2028',
  '\u00a0',
];
const ALPHABET = CLASSES.join('');

/** A password holding `must` between random printable characters (of all classes). */
function password(r: Random, must: string): string {
  const chars = [...ALPHABET];
  let pw = must;
  for (let n = int(r, 8, 20); n > 0; n--) {
    const c = chars[int(r, 0, chars.length - 1)] as string;
    pw = r() < 0.5 ? c + pw : pw + c;
  }
  return `${pw}${must}`;
}

const r = seeded(SEED);
const PASSWORDS = CLASSES.map((c) => password(r, c));

/** Every form in which a secret could leak into JSON text. */
function leaks(text: string): string[] {
  return PASSWORDS.filter((pw) => {
    const once = JSON.stringify(pw).slice(1, -1);
    return text.includes(pw) || text.includes(once) || text.includes(JSON.stringify(once).slice(1, -1));
  });
}

/** Every string in a parsed JSON value (keys too). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, entry]) => [key, ...strings(entry)]);
  }
  return [];
}

let server: StatusServerHandle;

function get(path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  return new Promise<{ status: number; text: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          path,
          method,
          headers: { host: `127.0.0.1:${server.port}`, ...headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

beforeAll(async () => {
  const secretState = {
    redis: { password: PASSWORDS[0], nested: [{ deeper: PASSWORDS }] },
    byName: Object.fromEntries(PASSWORDS.map((pw, i) => [pw, `value ${i} ${pw} end`])),
    error: new Error(`connect failed with ${PASSWORDS[1]}`),
  };
  server = await startStatusServer({
    role: 'jobrunner',
    address: '127.0.0.1',
    port: 0,
    logger: silentLogger(),
    registry: new Registry(),
    queues: {
      summary: () =>
        Promise.resolve(summarizeFarm({ at: Date.now(), queues: [], partitions: [], errors: [] })),
    },
    status: () => secretState,
    ready: () => true,
    adminToken: TOKEN,
    actions: {
      retryAbandoned: () => Promise.resolve({ queues: 0, jobs: 0, errors: [] } as never),
      deleteQueue: () => Promise.resolve({ queues: 0, jobs: 0, errors: [] } as never),
    },
    secrets: PASSWORDS,
    allowedHosts: ['jobrunner.example.org'],
    // A stopped clock: no try comes back during the test, however slow the machine.
    adminThrottle: new AuthThrottle({ burst: 10, refillSeconds: 6, now: () => 0 }),
  });
});

afterAll(async () => {
  await server?.close();
});

describe('Host allow-list (DNS rebinding)', () => {
  it('answers IP literals, localhost, this host name and configured names', async () => {
    for (const host of [
      `127.0.0.1:${server.port}`,
      '127.0.0.1',
      '[::1]:9150',
      `localhost:${server.port}`,
      `${hostname()}:${server.port}`,
      'JobRunner.Example.Org:9150',
      'jobrunner.example.org.',
    ]) {
      expect({ host, status: (await get('/readyz', { host })).status }).toEqual({ host, status: 200 });
    }
  });

  it('refuses any other name with 421 on every route, without running it', async () => {
    for (const host of [
      'rebind.attacker.example',
      'rebind.attacker.example:9150',
      '127.0.0.1.nip.io',
      'jobrunner.example.org.attacker.example',
    ]) {
      for (const path of [
        '/status',
        '/',
        '/metrics',
        '/api/overview',
        '/healthz',
        '/api/admin/delete-queue',
      ]) {
        const reply = await get(
          path,
          { host, authorization: `Bearer ${TOKEN}` },
          path.startsWith('/api/admin') ? 'POST' : 'GET',
        );
        expect({ host, path, status: reply.status }).toEqual({ host, path, status: 421 });
        expect(reply.text).not.toContain('attacker');
      }
    }
  });

  it('matches names without port, case or trailing dot', () => {
    const known = hostChecker(['a.example']);
    expect([known(undefined), known('A.EXAMPLE:1'), known('[2001:db8::1]:80'), known('10.0.0.1')]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect([known('b.example'), known('a.example.b'), known('[a.example]'), known('')]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('admin token guessing', () => {
  it('gets 429 with Retry-After after 10 wrong tokens from one address, before the token is compared', async () => {
    const post = (token: string) =>
      get(
        '/api/admin/delete-queue',
        { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        'POST',
        '{}',
      );
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await post(`wrong-${i}`)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    const throttled = await post(TOKEN);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    // Read-only routes are not affected.
    expect((await get('/readyz')).status).toBe(200);
  });

  it('refills one try per period, per address only', () => {
    let now = 0;
    const throttle = new AuthThrottle({ burst: 2, refillSeconds: 6, now: () => now });
    throttle.failed('a');
    throttle.failed('a');
    expect(throttle.retryAfterSeconds('a')).toBe(6);
    expect(throttle.retryAfterSeconds('b')).toBe(0);
    now += 3000;
    expect(throttle.retryAfterSeconds('a')).toBe(3);
    now += 3000;
    expect(throttle.retryAfterSeconds('a')).toBe(0);
    // Failures spread over many addresses lock nobody else out.
    for (let i = 0; i < 1000; i++) throttle.failed(`spread-${i}`);
    expect(throttle.retryAfterSeconds('operator')).toBe(0);
  });
});

describe(`secrets of every printable class (FUZZ_SEED=${SEED}, ${PASSWORDS.length} passwords)`, () => {
  it('are masked in /status and /api/overview before JSON escaping', async () => {
    for (const path of ['/status', '/api/overview']) {
      const reply = await get(path);
      expect(reply.status).toBe(200);
      expect(leaks(reply.text).map((pw) => JSON.stringify(pw))).toEqual([]);
      const parsed = JSON.parse(reply.text) as unknown;
      const found = strings(parsed).filter((s) => PASSWORDS.some((pw) => s.includes(pw)));
      expect(found).toEqual([]);
      expect(JSON.stringify(parsed)).toContain('***');
    }
  });

  it('are masked in log lines: message, nested fields, errors, child fields', () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'test',
      level: 'debug',
      secrets: PASSWORDS,
      stream: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    PASSWORDS.forEach((pw, i) => {
      logger.child({ conn: { auth: pw } }).info(`msg ${pw}`, {
        config: { redis: { password: pw, list: [pw, { deep: `x${pw}x` }] } },
        error: new Error(`failed: ${pw}`),
        plain: pw,
        i,
      });
    });
    const text = lines.join('');
    expect(lines).toHaveLength(PASSWORDS.length);
    expect(leaks(text).map((pw) => JSON.stringify(pw))).toEqual([]);
    for (const line of lines) {
      const parsed = JSON.parse(line) as unknown;
      expect(strings(parsed).filter((s) => PASSWORDS.some((pw) => s.includes(pw)))).toEqual([]);
    }
  });
});
