// The real `node dist/cli/jobrunner.js` with backend kafka, killed with SIGKILL in the middle of a
// stream and started again: every event runs, and only events in flight at the kill run twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { produceJobEvents } from '../../src/kafka/producer.js';
import { startTestExecutor, waitWhileProgressing, type TestExecutor } from './kafka-support.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const CLI = resolve('dist/cli/jobrunner.js');
const CONCURRENCY = 20;
const SESSION_TIMEOUT_MS = 10_000;
/**
 * Longest a working runner goes without a request here: joining its group (a static member takes
 * its partitions back at once; a rebalance waits at most the session timeout), plus one failed
 * join (the request timeout, session timeout + 5 s) and the reconnect back-off cap (10 s). Slower
 * progress on a loaded machine is fine; no progress for this long means a runner is stuck.
 */
const STALL_MS = SESSION_TIMEOUT_MS + (SESSION_TIMEOUT_MS + 5000) + 10_000 + 10_000;

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let exec: TestExecutor;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  requireFreshBuild([CLI]);
  [broker, redis, exec] = await Promise.all([startKafkaBroker(), startRedisServer(), startTestExecutor()]);
  dir = mkdtempSync(join(tmpdir(), 'jobrunner-kafka-crash-'));
  // The broker fixture allows itself 60 s to format and 90 s to start (src/farm/kafka-broker.ts);
  // the hook must not cut that short on a loaded machine (62 s seen at load 15).
}, 180_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled([exec?.close(), broker?.stop(), redis?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function startCli(configFile: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, `--config-file=${configFile}`], {
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

describe('jobrunner --config-file (backend kafka) killed with SIGKILL', () => {
  it('runs every event after a restart; only events in flight at the kill run twice', async () => {
    // Responses take 20 ms, so CONCURRENCY requests are open at any moment.
    const open = new Set<string>();
    const answeredAt = new Map<string, number>();
    exec.reply = (q) => {
      open.add(q.id);
      return new Promise((done) =>
        setTimeout(() => {
          open.delete(q.id);
          answeredAt.set(q.id, Date.now());
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
        logging: { level: 'info' },
        status: { enabled: false },
        kafka: {
          brokers: [broker.address],
          datacenter: 'crash',
          endpoint: exec.url,
          instanceId: 'crash-test',
          commitIntervalMs: 100,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
          lowTraffic: { concurrency: CONCURRENCY },
        },
      }),
    );
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'crash',
      events: Array.from({ length: 3000 }, (_, i) => ({
        type: `crash${i % 3}`,
        database: 'wiki1',
        params: { i },
      })),
    });

    const first = startCli(configFile);
    await waitWhileProgressing(
      'a third of the events',
      () => {
        if (first.child.exitCode !== null) throw new Error(`jobrunner exited early:\n${first.output()}`);
        return exec.requests.length >= 1000;
      },
      () => exec.requests.length,
      // Before the first request the runner also starts up (node, config, topics): one more stall.
      2 * STALL_MS,
    );
    const killedAt = Date.now();
    const openAtKill = new Set(open);
    first.child.kill('SIGKILL');
    await exited(first.child);
    const ranBeforeKill = exec.requests.length;

    const second = startCli(configFile);
    await waitWhileProgressing(
      'every event',
      () => {
        if (second.child.exitCode !== null) throw new Error(`jobrunner exited early:\n${second.output()}`);
        return produced.ids.every((id) => exec.counts.has(id));
      },
      () => exec.requests.length,
      2 * STALL_MS,
    ).catch((error: unknown) => {
      const missing = produced.ids.filter((id) => !exec.counts.has(id));
      throw new Error(
        `${String(error)}; ${missing.length} events never ran (${missing.filter((id) => openAtKill.has(id)).length} of them open at the kill), ${exec.requests.length - ranBeforeKill} requests since the restart; restarted runner's output:\n${second.output()}`,
      );
    });
    const twice = produced.ids.filter((id) => (exec.counts.get(id) ?? 0) > 1);
    // In flight = its request was open at the kill, or answered so shortly before it that the
    // runner had not yet recorded it as done.
    const inFlight = (id: string): boolean =>
      openAtKill.has(id) || killedAt - (answeredAt.get(id) ?? 0) < 1000;
    expect(twice.filter((id) => !inFlight(id))).toEqual([]);
    // The runner holds at most concurrency + 64 (prefetch) unfinished events per consumer.
    expect(twice.length).toBeLessThanOrEqual(CONCURRENCY + 64);
    expect(exec.requests.length).toBe(produced.ids.length + twice.length);
    console.log(
      `kill -9: ${ranBeforeKill} requests before the kill, ${openAtKill.size} open at the kill, ${twice.length} events ran twice`,
    );

    // A clean stop: SIGTERM drains and exits 0.
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
    expect(second.output()).not.toMatch(/"level":"error"/);
    // Each wait fails after 2 × STALL_MS without progress; this only caps a run that crawls.
  }, 360_000);
});
