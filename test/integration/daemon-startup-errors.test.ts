// What an operator sees when the Redis password is wrong or the status port is taken: at start-up
// both daemons refuse to start with one clear message and exit 1; a password that stops working
// while running is logged once as an authentication failure (not as an unreachable server, and
// not as ioredis' "Stream isn't writeable") and the daemon recovers when it works again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { isRunning, killDaemons, startDaemon, type Daemon } from '../support/daemon.js';
import { requireFreshBuild } from '../support/fresh-build.js';
import { until } from '../support/until.js';

const CLIS = { jobrunner: resolve('dist/cli/jobrunner.js'), jobchron: resolve('dist/cli/jobchron.js') };
const PASSWORD = 'right-password';

let redis: RedisServerHandle;
let admin: Redis;
let busyPort: Server;
let dir: string;
const daemons: Daemon[] = [];

beforeAll(async () => {
  requireFreshBuild(Object.values(CLIS));
  dir = mkdtempSync(join(tmpdir(), 'jr15-startup-'));
  redis = await startRedisServer({ password: PASSWORD });
  admin = new Redis({ port: redis.port, host: '127.0.0.1', password: PASSWORD });
  busyPort = createServer();
  await new Promise<void>((ok) => busyPort.listen(0, '127.0.0.1', ok));
});

afterAll(async () => {
  await killDaemons(daemons);
  admin?.disconnect();
  busyPort?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(
  name: string,
  options: { password?: string; statusPort?: number; role?: 'jobrunner' | 'jobchron' },
): string {
  const file = join(dir, `${name}.conf`);
  const port = options.statusPort ?? 0;
  writeFileSync(
    file,
    JSON.stringify({
      groups: { basic: { runners: 1, include: ['*'] } },
      redis: {
        aggregators: [redis.address],
        queues: [redis.address],
        ...(options.password !== undefined ? { password: options.password } : {}),
      },
      dispatcher: 'true',
      chron: { intervalMs: 200 },
      status:
        options.statusPort === undefined
          ? { enabled: false }
          : options.role === 'jobchron'
            ? { enabled: true, address: '127.0.0.1', runnerPort: 0, chronPort: port }
            : { enabled: true, address: '127.0.0.1', runnerPort: port, chronPort: 0 },
    }),
  );
  return file;
}

function run(cli: keyof typeof CLIS, configFile: string): Daemon {
  const daemon = startDaemon(CLIS[cli], configFile, { verbose: false });
  daemons.push(daemon);
  return daemon;
}

function stderrOf(daemon: Daemon): string {
  return daemon.logs
    .filter((l) => l.msg === 'stderr')
    .map((l) => String(l.text))
    .join('');
}

describe('start-up errors', () => {
  for (const cli of ['jobrunner', 'jobchron'] as const) {
    it(`${cli}: a wrong Redis password is fatal with one clear message`, async () => {
      const daemon = run(cli, writeConfig(`${cli}-wrong`, { password: 'wrong-password' }));
      expect(await daemon.exited).toEqual({ code: 1, signal: null });
      expect(stderrOf(daemon)).toBe(
        `${cli}: Redis authentication failed (check redis.password):\n` +
          `  ${redis.address}: WRONGPASS invalid username-password pair or user is disabled.\n`,
      );
      // Nothing else: no "unreachable", no JSON lines with stack traces.
      expect(daemon.logs.filter((l) => l.msg !== 'stderr')).toEqual([]);
    });

    it(`${cli}: a missing Redis password is fatal too (NOAUTH)`, async () => {
      const daemon = run(cli, writeConfig(`${cli}-none`, {}));
      expect(await daemon.exited).toEqual({ code: 1, signal: null });
      expect(stderrOf(daemon)).toContain(`  ${redis.address}: NOAUTH Authentication required.\n`);
    });

    it(`${cli}: a status port already in use is fatal`, async () => {
      const port = (busyPort.address() as { port: number }).port;
      const daemon = run(
        cli,
        writeConfig(`${cli}-port`, { password: PASSWORD, statusPort: port, role: cli }),
      );
      expect(await daemon.exited).toEqual({ code: 1, signal: null });
      const setting = cli === 'jobrunner' ? 'status.runnerPort' : 'status.chronPort';
      const line = daemon.logs.find((l) => l.msg === 'Cannot start: status server');
      expect(line, JSON.stringify(daemon.logs)).toMatchObject({ level: 'error' });
      expect(String(line?.error)).toContain(`status server cannot listen on 127.0.0.1:${port} (${setting})`);
      expect(String(line?.error)).toContain('EADDRINUSE');
    });
  }
});

describe('a password that stops working while running', () => {
  it('is logged once as an authentication failure, and the runner recovers when it works again', async () => {
    const daemon = run('jobrunner', writeConfig('rotate', { password: PASSWORD }));
    await until(
      () => daemon.logs.some((l) => l.msg === 'Job runner started' || l.msg === 'Starting job runner'),
      'the runner started',
    );
    await until(async () => {
      const clients = String(await admin.client('LIST'));
      return clients.split('\n').filter((l) => l.includes('cmd=')).length >= 2;
    }, 'the runner connected');
    // Rotate the password on the server and drop every connection but ours.
    await admin.config('SET', 'requirepass', 'rotated-password');
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await admin.client('KILL', 'TYPE', 'pubsub');
    const authFailed = (l: Record<string, unknown>) =>
      l.msg === 'Redis authentication failed; check redis.password (retrying with back-off)';
    await until(() => daemon.logs.some(authFailed), 'the auth failure logged', 60_000, {
      detail: () => daemon.logs.map((l) => JSON.stringify(l)).join('\n'),
    });
    // Discovery keeps failing meanwhile; what it reports names the cause.
    await until(
      () => daemon.logs.some((l) => String(l.error ?? '').startsWith('Redis authentication failed (check')),
      'a partition error naming the auth failure',
    );
    await admin.config('SET', 'requirepass', PASSWORD);
    await until(
      () => daemon.logs.some((l) => l.msg === 'Redis authentication succeeded again'),
      'the recovery logged',
      60_000,
      { detail: () => daemon.logs.map((l) => JSON.stringify(l)).join('\n') },
    );
    expect(daemon.logs.filter(authFailed)).toHaveLength(1);
    // The killed connection itself may be reported once (EPIPE) before the reconnect meets the
    // new password; the cause is then named as an authentication failure, not as unreachable.
    expect(
      daemon.logs.filter((l) => l.msg === 'Redis server unreachable; retrying with back-off').length,
    ).toBeLessThanOrEqual(1);
    expect(daemon.logs.filter((l) => JSON.stringify(l).includes("Stream isn't writeable"))).toEqual([]);
    expect(isRunning(daemon)).toBe(true);
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
  });
});
