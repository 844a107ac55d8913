// Kafka faults under the real `node dist/cli/jobrunner.js` (backend kafka) on a real single-node
// broker: in the middle of a 3,000-event stream the broker is restarted (SIGTERM, start again on
// the same data) and, while it goes down, the runner is killed with SIGKILL with a batch of
// requests open at the executor. A new runner is started at once (the broker still down). Every
// event must run, and an event may run twice only if it was in flight at the kill: executed but not
// yet recorded as done in Redis (the runner records an event one round trip after its answer).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { idKeyState } from '../../src/kafka/dedup-state.js';
import { produceJobEvents } from '../../src/kafka/producer.js';
import { startTestExecutor, type TestExecutor } from '../integration/kafka-support.js';
import {
  RUNNER_CLI,
  kill9,
  requireBuilt,
  startDaemon,
  stopDaemon,
  tail,
  until,
  writeFigures,
  type Daemon,
} from './support.js';

const EVENTS = 3000;
const TYPES = ['kfaultA', 'kfaultB', 'kfaultC'];
const CONCURRENCY = 20;
const REPLY_MS = 20;
const KILL_AFTER = 1000; // executions before the faults
/** The event's ID key (rule low_traffic_jobs, domain wiki1); its runner's done record says if it ran. */
const doneKey = (id: string): string => `JRKQ_dedupe_low_traffic_jobs_wiki1_${id}`;

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let exec: TestExecutor;
let dir: string;
let runner: Daemon | undefined;
let client: Redis;

beforeAll(async () => {
  requireBuilt(RUNNER_CLI, ['src/kafka/runner.ts', 'src/kafka/lane.ts', 'src/cli/jobrunner.ts']);
  [broker, redis, exec] = await Promise.all([startKafkaBroker(), startRedisServer(), startTestExecutor()]);
  client = new Redis({ host: redis.host, port: redis.port });
  dir = mkdtempSync(join(tmpdir(), 'jobrunner-kafka-fault-'));
});

afterAll(async () => {
  await stopDaemon(runner);
  client?.disconnect();
  await Promise.allSettled([exec?.close(), broker?.stop(), redis?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function writeConfig(file: string): void {
  const config = {
    backend: 'kafka',
    redis: { aggregators: [redis.address], queues: [redis.address] },
    runner: { drainTimeoutSeconds: 10 },
    logging: { level: 'info' },
    status: { enabled: false },
    kafka: {
      brokers: [broker.address],
      datacenter: 'kfault',
      endpoint: exec.url,
      instanceId: 'kafka-fault',
      commitIntervalMs: 100,
      topicRefreshMs: 500,
      sessionTimeoutMs: 10000,
      lowTraffic: { concurrency: CONCURRENCY },
    },
  };
  writeFileSync(file, `// kafka-restart-kill fault run\n${JSON.stringify(config, null, 2)}\n`);
}

describe('Kafka broker restart + kill -9 of the Kafka-backend runner mid-batch', () => {
  it(`runs all ${EVENTS} events; duplicates only among events in flight at the kill`, async () => {
    // Each answer takes REPLY_MS, so up to CONCURRENCY requests are open at any moment.
    const open = new Set<string>();
    const answeredAt = new Map<string, number>();
    exec.reply = (q) => {
      open.add(q.id);
      return new Promise((done) =>
        setTimeout(() => {
          open.delete(q.id);
          answeredAt.set(q.id, Date.now());
          done({ status: 200 });
        }, REPLY_MS),
      );
    };
    const configFile = join(dir, 'kafka-restart-kill.conf');
    writeConfig(configFile);
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'kfault',
      events: Array.from({ length: EVENTS }, (_, i) => ({
        type: TYPES[i % TYPES.length] ?? 'kfaultA',
        database: 'wiki1',
        params: { i },
      })),
    });
    expect(produced.ids.length).toBe(EVENTS);
    expect(new Set(produced.ids).size).toBe(EVENTS);

    const startedAt = Date.now();
    const first = startDaemon(RUNNER_CLI, configFile);
    runner = first;
    const alive = (d: Daemon): void => {
      if (d.child.exitCode !== null || d.child.signalCode !== null)
        throw new Error(`jobrunner exited early:\n${tail(d)}`);
    };
    await until(
      () => {
        alive(first);
        return exec.requests.length >= KILL_AFTER && open.size > 0;
      },
      `${KILL_AFTER} events executed with a batch open`,
      90_000,
      () => tail(first),
    );

    // Both faults at once: the broker goes down (SIGTERM, then started again on the same data)
    // and the runner dies with requests open; its replacement starts while the broker is away.
    const faultAt = Date.now();
    const brokerPidBefore = broker.pid;
    const restarted = broker.restart().then(() => Date.now());
    const openAtKill = new Set(open);
    await kill9(first, false);
    const killedAt = Date.now();
    // The bound: an event runs again only if the runner died before recording it as done (one
    // Redis round trip after it read the answer). Read those records now the process is dead.
    const executedBeforeKill = [...new Set(exec.requests.map((r) => r.id))];
    const states = await Promise.all(executedBeforeKill.map((id) => idKeyState(client, 'JRKQ', doneKey(id))));
    const recordedDone = new Set(executedBeforeKill.filter((_, i) => states[i] === 'ran'));
    const inFlightAtKill = new Set(executedBeforeKill.filter((id) => !recordedDone.has(id)));
    const answeredNotRecorded = [...inFlightAtKill].filter((id) => answeredAt.has(id) && !openAtKill.has(id));
    const requestsBeforeKill = exec.requests.length;

    const second = startDaemon(RUNNER_CLI, configFile);
    runner = second;
    const brokerBackAt = await restarted;
    expect(broker.pid).not.toBe(brokerPidBefore);
    // Requests still arriving from the killed runner's sockets finish within REPLY_MS; anything
    // after the broker is back comes from the new runner.
    await until(
      () => {
        alive(second);
        return exec.requests.some((r) => r.at >= brokerBackAt);
      },
      'the new runner to execute an event after the broker restart',
      120_000,
      () => tail(second),
    );
    const firstAfter = exec.requests.find((r) => r.at >= brokerBackAt)?.at ?? 0;
    await until(
      () => {
        alive(second);
        return produced.ids.every((id) => exec.counts.has(id));
      },
      'every event executed at least once',
      180_000,
      () => `${produced.ids.filter((id) => !exec.counts.has(id)).length} missing\n${tail(second)}`,
    );
    const finishedAt = Date.now();

    // A clean stop afterwards: SIGTERM drains and exits 0, no error logged.
    second.child.kill('SIGTERM');
    const exit = await second.exited;

    const lost = produced.ids.filter((id) => !exec.counts.has(id));
    const twice = produced.ids.filter((id) => (exec.counts.get(id) ?? 0) > 1);
    const duplicates = twice.reduce((sum, id) => sum + (exec.counts.get(id) ?? 0) - 1, 0);
    const duplicatedNotInFlight = twice.filter((id) => !inFlightAtKill.has(id));
    const producedIds = new Set(produced.ids);
    const unknown = exec.requests.filter((r) => !producedIds.has(r.id)).length;
    const errors = [...first.logs, ...second.logs].filter((l) => l.level === 'error');
    const figures = {
      events: EVENTS,
      types: TYPES.length,
      concurrency: CONCURRENCY,
      replyMs: REPLY_MS,
      requestsBeforeKill,
      openAtKill: openAtKill.size,
      recordedDoneAtKill: recordedDone.size,
      answeredButNotRecordedAtKill: answeredNotRecorded.length,
      oldestUnrecordedAnswerMsBeforeKill: Math.max(
        0,
        ...answeredNotRecorded.map((id) => killedAt - (answeredAt.get(id) ?? killedAt)),
      ),
      inFlightAtKill: inFlightAtKill.size,
      executedDistinct: exec.counts.size,
      eventsLost: lost.length,
      duplicates,
      duplicatedEvents: twice.length,
      requestsTotal: exec.requests.length,
      brokerDownMs: brokerBackAt - faultAt,
      recoveryMsFromKill: firstAfter - killedAt,
      recoveryMsFromBrokerBack: firstAfter - brokerBackAt,
      wallSeconds: Math.round((finishedAt - startedAt) / 1000),
      secondRunnerExit: exit,
      errorLogLines: errors.length,
    };
    writeFigures('kafka-restart-kill', figures);

    expect(lost).toEqual([]);
    expect(unknown).toBe(0);
    expect(duplicatedNotInFlight).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(inFlightAtKill.size);
    expect(exec.requests.length).toBe(EVENTS + duplicates);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(second.rawLines).toEqual([]);
  });
});
