// The benchmarks' php-fpm-like pool (src/farm/php-pool.ts) with real php -S servers: a request
// never waits behind a busy server while another one is idle, and waits when none is.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmWebServer } from '../../src/farm/farm-web-server.js';
import { startFarmWebPool } from '../../src/farm/php-pool.js';

let dir: string;
let agent: Agent;
const servers: FarmWebServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'jr-php-pool-'));
  mkdirSync(join(dir, 'rpc'));
  // Answers the start-up probe like the farm's endpoint; a POST sleeps ?ms and names its process.
  writeFileSync(
    join(dir, 'rpc', 'RunJobs.php'),
    `<?php
if ($_SERVER['REQUEST_METHOD'] !== 'POST') { echo "Request must use POST."; exit; }
usleep((int)($_GET['ms'] ?? 0) * 1000);
echo getmypid() . ' ' . file_get_contents('php://input');
`,
  );
  agent = new Agent({ keepAliveTimeout: 4000 });
});

afterAll(async () => {
  await agent.close();
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function pool(size: number): Promise<FarmWebServer> {
  const server = await startFarmWebPool({ docroot: dir, env: process.env, logDir: dir, size });
  servers.push(server);
  return server;
}

async function post(server: FarmWebServer, ms: number, body: string) {
  const res = await agent.request({
    origin: server.baseUrl,
    path: `/rpc/RunJobs.php?ms=${ms}`,
    method: 'POST',
    body,
  });
  const [pid, echoed] = (await res.body.text()).split(' ');
  return { status: res.statusCode, pid, echoed, endedAt: performance.now() };
}

describe('php pool', () => {
  it('hands a request sent right behind a long one to another, idle server', async () => {
    const server = await pool(2);
    for (let round = 0; round < 2; round++) {
      const long = post(server, 800, 'long');
      const short = await post(server, 0, 'short');
      const done = await long;
      expect(short).toMatchObject({ status: 200, echoed: 'short' });
      expect(done).toMatchObject({ status: 200, echoed: 'long' });
      expect(short.pid).not.toBe(done.pid);
      // Answered while the long request was still running.
      expect(short.endedAt).toBeLessThan(done.endedAt);
    }
  });

  it('holds a request while every server is busy, then runs it', async () => {
    const server = await pool(1);
    const long = post(server, 500, 'first');
    const queued = await post(server, 0, 'second');
    const first = await long;
    expect(queued).toMatchObject({ status: 200, echoed: 'second', pid: first.pid });
    expect(queued.endedAt).toBeGreaterThanOrEqual(first.endedAt);
  });
});
