// The real `node dist/cli/jobrunner.js` with backend kafka after an uncaught exception (raised by a
// preloaded test hook on SIGUSR2): it stops fetching, lets running executions finish, commits and
// exits 1; started again, it runs every remaining event and none twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { produceJobEvents } from '../../src/kafka/producer.js';
import { startTestExecutor, waitFor, type TestExecutor } from './kafka-support.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const CLI = resolve('dist/cli/jobrunner.js');
const THROW_HOOK = resolve('test/fixtures/hooks/throw-on-sigusr2.mjs');

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let exec: TestExecutor;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  requireFreshBuild([CLI]);
  [broker, redis, exec] = await Promise.all([startKafkaBroker(), startRedisServer(), startTestExecutor()]);
  dir = mkdtempSync(join(tmpdir(), 'jr15-kafka-fatal-'));
}, 180_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled([exec?.close(), broker?.stop(), redis?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function startCli(
  configFile: string,
  nodeArgs: string[] = [],
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, CLI, `--config-file=${configFile}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { child, output: () => text };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('jobrunner (backend kafka) after an uncaught exception', () => {
  it('drains what runs, commits, exits 1; the restart runs the rest and nothing twice', async () => {
    const open = new Set<string>();
    exec.reply = (q) => {
      open.add(q.id);
      return new Promise((done) =>
        setTimeout(() => {
          open.delete(q.id);
          done({ status: 200 });
        }, 20),
      );
    };
    const configFile = join(dir, 'jobrunner.conf');
    writeFileSync(
      configFile,
      JSON.stringify({
        backend: 'kafka',
        redis: { aggregators: [redis.address], queues: [redis.address] },
        logging: { level: 'warn' },
        status: { enabled: false },
        runner: { drainTimeoutSeconds: 30 },
        kafka: {
          brokers: [broker.address],
          datacenter: 'fatal',
          endpoint: exec.url,
          instanceId: 'fatal-test',
          commitIntervalMs: 100,
          sessionTimeoutMs: 10000,
          lowTraffic: { concurrency: 10 },
          // Off, so "nothing twice" rests on the drain and the commit alone.
          dedup: { enabled: false },
        },
      }),
    );
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'fatal',
      events: Array.from({ length: 1500 }, (_, i) => ({
        type: `fatal${i % 3}`,
        database: 'wiki1',
        params: { i },
      })),
    });

    const first = startCli(configFile, ['--import', THROW_HOOK]);
    await waitFor(
      'a third of the events',
      () => {
        if (first.child.exitCode !== null) throw new Error(`jobrunner exited early:\n${first.output()}`);
        return exec.requests.length >= 500 && open.size > 0;
      },
      90_000,
    );
    first.child.kill('SIGUSR2');
    expect(await exited(first.child)).toBe(1);
    expect(first.output()).toContain('Uncaught exception; taking no new work, draining, then exiting 1');
    expect(first.output()).toContain('induced by test: uncaught exception');
    expect(open.size).toBe(0); // every request it had open was answered before it exited

    const second = startCli(configFile);
    await waitFor(
      'every event',
      () => {
        if (second.child.exitCode !== null) throw new Error(`jobrunner exited early:\n${second.output()}`);
        return produced.ids.every((id) => exec.counts.has(id));
      },
      120_000,
    );
    // Drained and committed: nothing the first runner finished runs again.
    expect(produced.ids.filter((id) => (exec.counts.get(id) ?? 0) > 1)).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
  }, 240_000);
});
