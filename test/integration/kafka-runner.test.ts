// backend kafka against a real single-node Kafka 4 broker and a real redis-server (dedup), with a
// local HTTP server standing in for RunSingleJob. One broker for the whole file; every scenario uses
// its own datacenter prefix, so topics and consumer groups do not meet.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { OffsetClock } from '../../src/kafka/clock.js';
import { buildJobEvent } from '../../src/kafka/job-event-builder.js';
import { produceJobEvents } from '../../src/kafka/producer.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/kafka/runner.js';
import { PAUSED_RECHECK_MS } from '../../src/kafka/paused.js';
import { TopicAdmin } from '../../src/kafka/topic-admin.js';
import { pauseQueue, resumeQueue } from '../../src/redis/paused-queues.js';
import {
  kafkaConfig,
  produceRaw,
  quietLogger,
  readTopic,
  startTestExecutor,
  waitFor,
  type TestExecutor,
} from './kafka-support.js';

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
const runners: KafkaRunner[] = [];
const executors: TestExecutor[] = [];
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  [broker, redis] = await Promise.all([startKafkaBroker(), startRedisServer()]);
}, 180_000);

// Each scenario's runner stops when the scenario ends, so later scenarios (and the broker restart)
// do not share the machine with idle runners.
afterEach(async () => {
  await Promise.allSettled(runners.splice(0).map((r) => r.stop(false)));
  for (const cleanup of cleanups.splice(0)) cleanup();
});

afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.stop(false)));
  await Promise.allSettled(executors.map((e) => e.close()));
  await Promise.allSettled([broker?.stop(), redis?.stop()]);
}, 60_000);

async function executor(): Promise<TestExecutor> {
  const e = await startTestExecutor();
  executors.push(e);
  return e;
}

async function runner(...args: Parameters<typeof startKafkaRunner>): Promise<KafkaRunner> {
  const r = await startKafkaRunner(...args);
  runners.push(r);
  return r;
}

/** An executor that answers `database`'s events only when released (stuck), others at once. */
async function executorStuckOn(database: string): Promise<{ exec: TestExecutor; stuck: (() => void)[] }> {
  const exec = await executor();
  const stuck: (() => void)[] = [];
  exec.reply = (q) =>
    JSON.parse(q.body.toString('utf8')).database === database
      ? new Promise((resolve) => stuck.push(() => resolve({ status: 200 })))
      : { status: 200 };
  return { exec, stuck };
}

/**
 * Produces 20 events of `type` over the 2 partitions of `topic` and waits until runner `a` (a rule
 * of concurrency 2 whose requests hang) runs 2 of them and holds the other 18 claimed.
 */
async function fillTwoSlots(a: KafkaRunner, exec: TestExecutor, topic: string, type: string) {
  const events = Array.from({ length: 20 }, (_, i) =>
    buildJobEvent({ type, database: 'wiki1', params: { i } }),
  );
  await produceRaw(
    [broker.address],
    events.map((e, i) => ({ topic, value: e.bytes, partition: i % 2 })),
  );
  await waitFor('runner A running 2 events and holding 18', () => {
    return exec.requests.length === 2 && a.stats().rules[0]?.waiting === 18;
  });
  return events;
}

/** Creates `topic` with `partitions` partitions on the test broker. */
/** A runner config with one rule, refreshLinks at concurrency 2, partitioned as given. */
function refreshLinksPartitioned(datacenter: string, endpoint: string, partitioned: Record<string, unknown>) {
  return kafkaConfig(
    {
      brokers: [broker.address],
      datacenter,
      endpoint,
      rules: { refreshLinks: { types: ['refreshLinks'], concurrency: 2, partitioned } },
      lowTraffic: { enabled: false },
    },
    redis.address,
  );
}

async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = new TopicAdmin([broker.address], 'test-admin');
  try {
    await admin.ensureTopics([{ topic, partitions }], true);
  } finally {
    await admin.close();
  }
}

const sha = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

describe('happy path', () => {
  it('runs 5,000 events of four types exactly once each, forwarding the raw bytes, and commits', async () => {
    const exec = await executor();
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'happy',
        endpoint: exec.url,
        rules: { fast: { types: ['kafkaA', 'kafkaB'], concurrency: 50 } },
        lowTraffic: { concurrency: 50 },
      },
      redis.address,
    );
    const types = ['kafkaA', 'kafkaB', 'kafkaC', 'kafkaD'];
    const events = Array.from({ length: 5000 }, (_, i) => ({
      type: types[i % types.length] ?? 'kafkaA',
      database: `wiki${(i % 3) + 1}`,
      params: { seq: i, title: `Page ${i}/é`, namespace: 0, nested: { list: [1, 2.5, 'x'], empty: [] } },
    }));
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'happy',
      events,
      secretKey: 'test-secret',
    });
    expect(produced.produced).toBe(5000);
    const r = await runner(config, { logger: quietLogger() });
    await waitFor('5,000 executions', () => exec.requests.length >= 5000, 90_000);
    // Lag measurement sees everything committed.
    await waitFor('lag 0 on every rule', () =>
      r.stats().rules.every((rule) => rule.lagMeasuredAt !== undefined && rule.lagTotal === 0),
    );
    expect(exec.requests.length).toBe(5000);
    expect(new Set(exec.requests.map((q) => q.id))).toEqual(new Set(produced.ids));
    expect([...exec.counts.values()].every((n) => n === 1)).toBe(true);

    // The bodies are the produced bytes, untouched.
    const sent = await readTopic([broker.address], 'happy.mediawiki.job.kafkaA', (m) => m.length >= 1250);
    const sentHashes = new Set(sent.map((m) => sha(m.value)));
    const received = exec.requests.filter((q) => q.type === 'kafkaA');
    expect(received.length).toBe(1250);
    expect(received.every((q) => sentHashes.has(sha(q.body)))).toBe(true);
    expect(received[0]?.headers['content-type']).toBe('application/json');

    const stats = r.stats();
    const byName = Object.fromEntries(stats.rules.map((rule) => [rule.name, rule]));
    expect(byName.fast?.topics).toEqual(['happy.mediawiki.job.kafkaA', 'happy.mediawiki.job.kafkaB']);
    expect(byName.low_traffic_jobs?.topics).toEqual([
      'happy.mediawiki.job.kafkaC',
      'happy.mediawiki.job.kafkaD',
    ]);
    expect(byName.fast?.counters.ok).toBe(2500);
    expect(byName.low_traffic_jobs?.counters.ok).toBe(2500);
    expect(byName.fast?.inFlight).toBe(0);
    // Every event that ran is in the stage times, each stage a real, non-negative time.
    const stages = byName.fast?.stages;
    expect(stages?.events).toBe(2500);
    for (const ms of [stages?.claimMs, stages?.slotWaitMs, stages?.executeMs])
      expect(ms).toBeGreaterThanOrEqual(0);
    expect(stages?.executeMs).toBeGreaterThan(0);
  }, 150_000);
});

interface ErrorEvent {
  $schema: string;
  emitter_id: string;
  raw_event: string;
  message: string;
  details: { status: number; attempts: number };
}

const parseError = (value: Buffer): ErrorEvent => JSON.parse(value.toString('utf8')) as ErrorEvent;

describe('topics appearing', () => {
  it('runs a job type whose topic is created while the runner is running, from its first event', async () => {
    const exec = await executor();
    const config = kafkaConfig(
      { brokers: [broker.address], datacenter: 'fresh', endpoint: exec.url },
      redis.address,
    );
    const r = await runner(config, { logger: quietLogger() });
    expect(r.stats().rules[0]?.topics).toEqual([]);
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'fresh',
      events: [
        { type: 'brandNew', database: 'wiki1' },
        { type: 'brandNew', database: 'wiki2' },
      ],
    });
    await waitFor('both events of the new topic', () =>
      produced.ids.every((id) => exec.counts.get(id) === 1),
    );
    expect(r.stats().rules[0]?.topics).toEqual(['fresh.mediawiki.job.brandNew']);
  }, 60_000);
});

describe('failures', () => {
  it('retries 5xx at the configured delays, then sends the event to the error topic', async () => {
    const exec = await executor();
    exec.reply = () => ({ status: 500, body: '<title>MWException: it broke</title>' });
    const clock = new OffsetClock();
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'retry',
        endpoint: exec.url,
        rules: { failing: { types: ['kafkaFail'], retryLimit: 2, retryDelayMs: 60_000, retryFactor: 6 } },
        lowTraffic: { enabled: false },
      },
      redis.address,
    );
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'retry',
      events: [{ type: 'kafkaFail', database: 'wiki1', params: { n: 1 } }],
    });
    const r = await runner(config, { logger: quietLogger(), clock });
    const id = produced.ids[0] ?? '';
    const attempts = () => exec.requests.filter((q) => q.id === id);
    const rule = () => r.stats().rules[0];

    await waitFor('attempt 1', () => attempts().length === 1);
    await waitFor('retry 1 held', () => rule()?.held === 1);
    const first = attempts()[0]?.at ?? 0;
    const retries = await readTopic([broker.address], 'retry.jobrunner.retry.failing', (m) => m.length >= 1);
    const notBefore = Number(retries[0]?.headers.get('jobrunner-not-before'));
    // Due retryDelayMs after the failure (on the runner's clock).
    expect(notBefore - (first + clock.offsetMs)).toBeGreaterThanOrEqual(60_000 - 50);
    expect(notBefore - (first + clock.offsetMs)).toBeLessThan(60_000 + 5_000);
    expect(retries[0]?.headers.get('jobrunner-retries-left')).toBe('1');
    // The original bytes travel unchanged.
    expect(retries[0]?.value.equals(exec.requests[0]?.body ?? Buffer.alloc(0))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(attempts().length).toBe(1);

    clock.advance(60_000);
    await waitFor('attempt 2', () => attempts().length === 2);
    await waitFor('retry 2 held', () => rule()?.held === 1);
    clock.advance(59_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(attempts().length).toBe(2);
    clock.advance(360_000 - 59_000);
    await waitFor('attempt 3', () => attempts().length === 3);

    const errors = await readTopic([broker.address], 'retry.jobrunner.error', (m) => m.length >= 1);
    expect(errors.length).toBe(1);
    const error = parseError(errors[0]?.value ?? Buffer.alloc(0));
    expect(error.$schema).toBe('/error/0.0.3');
    expect(error.emitter_id).toBe('jobrunner#failing');
    expect(error.message).toBe('HTTP 500: MWException: it broke (no retries left)');
    expect(error.details).toMatchObject({ status: 500, attempts: 3 });
    expect(Buffer.from(error.raw_event, 'utf8').equals(exec.requests[0]?.body ?? Buffer.alloc(0))).toBe(true);
    expect(rule()?.counters).toMatchObject({ retried: 2, failed: 1, ok: 0 });
    expect(attempts().length).toBe(3);
  }, 90_000);

  it('writes an error event the broker refuses as too large to the dead-letter file and moves on', async () => {
    const exec = await executor();
    exec.reply = () => ({ status: 400, body: 'bad params' });
    const dir = mkdtempSync(join(tmpdir(), 'jr16-dead-letter-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const deadLetterFile = join(dir, 'dead.jsonl');
    const config = kafkaConfig(
      { brokers: [broker.address], datacenter: 'dlq', endpoint: exec.url, deadLetterFile },
      redis.address,
    );
    // 300,000 quotes: 600 KB as an event (\"), twice that once escaped again into the error event's
    // raw_event, which is more than the broker's 1 MB message.max.bytes.
    const big = '"'.repeat(300_000);
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'dlq',
      events: [
        { type: 'kafkaHuge', database: 'wiki1', params: { big } },
        { type: 'kafkaHuge', database: 'wiki1', params: { small: 1 } },
      ],
    });
    const r = await runner(config, { logger: quietLogger() });
    await waitFor('one dead letter', () => r.stats().deadLetters === 1);
    // The small one got its error event, and the partition's offset moved past both.
    const errors = await readTopic([broker.address], 'dlq.jobrunner.error', (m) => m.length >= 1);
    expect(
      errors.map((m) => (JSON.parse(m.value.toString('utf8')) as { raw_event: string }).raw_event),
    ).toEqual([exec.requests.find((q) => q.id === produced.ids[1])?.body.toString('utf8')]);
    await waitFor(
      'committed past both',
      () => r.stats().rules[0]?.lagTotal === 0 && r.stats().rules[0]?.lagMeasuredAt !== undefined,
    );
    const [line, ...rest] = readFileSync(deadLetterFile, 'utf8').trim().split('\n');
    expect(rest).toEqual([]);
    const letter = JSON.parse(line ?? '') as { topic: string; value: string; error: string };
    expect(letter.topic).toBe('dlq.jobrunner.error');
    expect(letter.error).toMatch(/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
    const errorEvent = JSON.parse(Buffer.from(letter.value, 'base64').toString('utf8')) as {
      raw_event: string;
    };
    // Nothing lost: the original event's bytes are in the file.
    expect(JSON.parse(errorEvent.raw_event)).toMatchObject({ meta: { id: produced.ids[0] } });
  }, 90_000);

  it('makes exactly one attempt with retryLimit 0; 4xx is not retried; 412 counts as done', async () => {
    const exec = await executor();
    exec.reply = (q) =>
      ({
        kafkaOnce: { status: 503 },
        kafkaBad: { status: 400, body: 'bad params' },
        kafkaGone: { status: 412 },
      })[q.type] ?? { status: 200 };
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'once',
        endpoint: exec.url,
        rules: { once: { types: ['kafkaOnce'], retryLimit: 0 } },
        lowTraffic: { retryDelayMs: 1 },
      },
      redis.address,
    );
    await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'once',
      events: [
        { type: 'kafkaOnce', database: 'wiki1' },
        { type: 'kafkaBad', database: 'wiki1' },
        { type: 'kafkaGone', database: 'wiki1' },
      ],
    });
    const r = await runner(config, { logger: quietLogger() });
    const errors = await readTopic([broker.address], 'once.jobrunner.error', (m) => m.length >= 2);
    const byMessage = errors
      .map((e) => parseError(e.value))
      .map((e) => [e.emitter_id, e.message, e.details.attempts]);
    expect(byMessage).toEqual(
      expect.arrayContaining([
        ['jobrunner#once', 'HTTP 503 (no retries left)', 1],
        ['jobrunner#low_traffic_jobs', 'HTTP 400: bad params', 1],
      ]),
    );
    await waitFor('412 counted as ignored', () =>
      r.stats().rules.some((rule) => rule.counters.ignored === 1),
    );
    expect(exec.requests.map((q) => q.type).sort()).toEqual(['kafkaBad', 'kafkaGone', 'kafkaOnce']);
    const once = r.stats().rules.find((rule) => rule.name === 'once');
    expect(once?.counters).toMatchObject({ retried: 0, failed: 1 });
  }, 60_000);

  it('retries a read-only 5xx without using up an attempt', async () => {
    const exec = await executor();
    let calls = 0;
    exec.reply = () => (++calls === 1 ? { status: 500, headers: { 'X-Readonly': 'true' } } : { status: 200 });
    const clock = new OffsetClock();
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'readonly',
        endpoint: exec.url,
        readonlyRetryDelayMs: 30_000,
        ruleDefaults: { retryLimit: 1 },
      },
      redis.address,
    );
    await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'readonly',
      events: [{ type: 'kafkaRO', database: 'wiki1' }],
    });
    const r = await runner(config, { logger: quietLogger(), clock });
    await waitFor('held after read-only', () => r.stats().rules[0]?.held === 1);
    const retries = await readTopic(
      [broker.address],
      'readonly.jobrunner.retry.low_traffic_jobs',
      (m) => m.length >= 1,
    );
    expect(retries[0]?.headers.get('jobrunner-retries-left')).toBe('1');
    clock.advance(60_000);
    await waitFor('second attempt', () => exec.requests.length === 2);
    await waitFor('done', () => r.stats().rules[0]?.counters.ok === 1);
    expect(r.stats().rules[0]?.counters).toMatchObject({ readonly: 1, retried: 0, failed: 0 });
  }, 60_000);

  it('sends bad input to the error topic without running it', async () => {
    const exec = await executor();
    const config = kafkaConfig(
      { brokers: [broker.address], datacenter: 'junk', endpoint: exec.url },
      redis.address,
    );
    await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'junk',
      events: [{ type: 'kafkaJunk', database: 'wiki1' }],
    });
    const { produceRaw } = await import('./kafka-support.js');
    await produceRaw(
      [broker.address],
      [
        { topic: 'junk.mediawiki.job.kafkaJunk', value: Buffer.from('{not json') },
        { topic: 'junk.mediawiki.job.kafkaJunk', value: Buffer.from('{"type":"kafkaJunk","params":{}}') },
        {
          topic: 'junk.mediawiki.job.kafkaJunk',
          value: Buffer.from('{"type":"kafkaJunk","database":"w","params":{},"delay_until":"soon"}'),
        },
      ],
    );
    await runner(config, { logger: quietLogger() });
    const errors = await readTopic([broker.address], 'junk.jobrunner.error', (m) => m.length >= 3);
    expect(errors.map((e) => parseError(e.value).message)).toEqual([
      expect.stringMatching(/^invalid event: not JSON/),
      "invalid event: missing or empty 'database'",
      'invalid event: delay_until "soon" is neither ISO-8601 nor UNIX seconds',
    ]);
    expect(parseError(errors[0]?.value ?? Buffer.alloc(0)).raw_event).toBe('{not json');
    await waitFor('the valid event', () => exec.requests.length === 1);
  }, 60_000);
});

describe('delayed events', () => {
  it('runs a delayed event at its time without holding a slot or the commits of later events', async () => {
    const exec = await executor();
    const clock = new OffsetClock();
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'later',
        endpoint: exec.url,
        rules: { delayed: { types: ['kafkaDelay'], concurrency: 1 } },
        lowTraffic: { enabled: false },
      },
      redis.address,
    );
    const inAnHour = Math.floor(Date.now() / 1000) + 3600;
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'later',
      events: [
        { type: 'kafkaDelay', database: 'wiki1', releaseTimestamp: inAnHour, params: { which: 'delayed' } },
        ...Array.from({ length: 50 }, (_, i) => ({
          type: 'kafkaDelay',
          database: 'wiki1',
          params: { which: i },
        })),
      ],
    });
    const r = await runner(config, { logger: quietLogger(), clock });
    const delayedId = produced.ids[0] ?? '';
    await waitFor('the 50 undelayed events', () => exec.requests.length === 50);
    expect(exec.counts.has(delayedId)).toBe(false);
    // The main topic is committed past the delayed event; the event waits (held, no slot) instead.
    await waitFor('main topic committed to the end', () => {
      const rule = r.stats().rules[0];
      return rule?.lag['later.mediawiki.job.kafkaDelay'] === 0 && rule.held === 1;
    });
    expect(r.stats().rules[0]?.executing).toBe(0);

    clock.advance(3600_000 + 1000);
    await waitFor('the delayed event', () => exec.counts.get(delayedId) === 1);
    // The executor has answered; the runner counts the outcome once it has read that answer.
    await waitFor('the delayed event counted', () => r.stats().rules[0]?.counters.ok === 51);
    expect(exec.requests.length).toBe(51);
    expect(r.stats().rules[0]?.counters).toMatchObject({ delayed: 1, ok: 51 });
  }, 60_000);
});

describe('paused queues', () => {
  it('parks a paused (wiki, type) on the delayed topic, runs the others, and runs it once resumed', async () => {
    const exec = await executor();
    const clock = new OffsetClock();
    const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    cleanups.push(() => client.disconnect());
    await pauseQueue(client, 'wikiP', 'kafkaPause', Date.now());
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'pause',
        endpoint: exec.url,
        rules: { paused: { types: ['kafkaPause'], concurrency: 2 } },
        lowTraffic: { enabled: false },
      },
      redis.address,
    );
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'pause',
      events: Array.from({ length: 6 }, (_, i) => ({
        type: 'kafkaPause',
        database: i < 3 ? 'wikiP' : 'wikiQ',
        params: { i },
      })),
    });
    const pausedIds = produced.ids.slice(0, 3);
    const r = await runner(config, { logger: quietLogger(), clock });
    const counters = () => r.stats().rules[0]?.counters;
    await waitFor('the other wiki ran and the paused one was parked', () => {
      return exec.requests.length === 3 && counters()?.paused === 3 && r.stats().rules[0]?.held === 3;
    });
    expect(pausedIds.some((id) => exec.counts.has(id))).toBe(false);
    // Due again while still paused: parked again, not run.
    clock.advance(PAUSED_RECHECK_MS + 1000);
    await waitFor('parked again', () => counters()?.paused === 6);
    expect(exec.requests.length).toBe(3);

    await resumeQueue(client, 'wikiP', 'kafkaPause');
    // The runner sees the resume within its 2 s refresh; until then a due event is parked again.
    await waitFor('the resumed wiki ran', () => {
      if (r.stats().rules[0]?.held === 3) clock.advance(PAUSED_RECHECK_MS + 1000);
      return pausedIds.every((id) => exec.counts.get(id) === 1);
    });
    expect(exec.requests.length).toBe(6);
  }, 60_000);
});

describe('dedup', () => {
  it('skips the same event ID and events superseded by a newer root job', async () => {
    const exec = await executor();
    const config = kafkaConfig(
      { brokers: [broker.address], datacenter: 'dedup', endpoint: exec.url },
      redis.address,
    );
    const first = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'dedup',
      now: new Date('2030-01-01T00:10:00Z'),
      events: [{ type: 'kafkaRoot', database: 'wiki1', rootJobKey: 'root:Template:X', params: { leaf: 1 } }],
    });
    const r = await runner(config, { logger: quietLogger() });
    await waitFor('first root leaf', () => exec.requests.length === 1);
    const { produceRaw } = await import('./kafka-support.js');
    // The same bytes again (a re-delivery), and a leaf of an older run of the same root job.
    await produceRaw(
      [broker.address],
      [{ topic: 'dedup.mediawiki.job.kafkaRoot', value: exec.requests[0]?.body ?? Buffer.alloc(0) }],
    );
    await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'dedup',
      now: new Date('2030-01-01T00:00:00Z'),
      events: [{ type: 'kafkaRoot', database: 'wiki1', rootJobKey: 'root:Template:X', params: { leaf: 2 } }],
    });
    await waitFor('two duplicates', () => r.stats().rules[0]?.counters.duplicates === 2);
    expect(exec.requests.map((q) => q.id)).toEqual(first.ids);
  }, 60_000);

  it('runs 10 identical events in flight together once (claimed before the run), and a failed claim is given back', async () => {
    const exec = await executor();
    // A slow executor: all ten are read and in slots long before the first answers.
    let failFirst = true;
    exec.reply = async () => {
      await new Promise((r) => setTimeout(r, 300));
      if (failFirst) {
        failFirst = false;
        return { status: 500, body: 'first attempt fails' };
      }
      return { status: 200 };
    };
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'inflight',
        endpoint: exec.url,
        ruleDefaults: { concurrency: 20, retryDelayMs: 200, retryFactor: 1 },
      },
      redis.address,
    );
    // One refreshLinks job pushed ten times (same dedup info → same sha1, different meta.id),
    // queued 10 s before the runner reads them.
    const spec = {
      type: 'kafkaInflight',
      database: 'wiki1',
      removeDuplicates: true,
      params: { namespace: 0, title: 'Same_page' },
    };
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'inflight',
      now: new Date(Date.now() - 10_000),
      events: Array.from({ length: 10 }, () => spec),
    });
    const r = await runner(config, { logger: quietLogger() });
    await waitFor('one success after the retry', () => r.stats().rules[0]?.counters.ok === 1);
    await waitFor('nine duplicates', () => r.stats().rules[0]?.counters.duplicates === 9);
    // The first attempt failed and gave its claim back, so its retry ran: two requests, one event.
    expect(exec.requests).toHaveLength(2);
    expect(exec.requests[0]?.id).toBe(exec.requests[1]?.id);
    expect(produced.ids).toContain(exec.requests[0]?.id);
  }, 60_000);

  it('claims an event on arrival; one that grows too old waiting for a slot is abandoned and gives its claim back', async () => {
    const exec = await executor();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    exec.reply = async () => {
      await gate;
      return { status: 200 };
    };
    const clock = new OffsetClock();
    const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    cleanups.push(() => client.disconnect());
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'stale',
        endpoint: exec.url,
        lowTraffic: { concurrency: 1, claimTtlSeconds: 60 },
      },
      redis.address,
    );
    const produced = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'stale',
      events: [
        { type: 'kafkaStale', database: 'wiki1', params: { n: 1 } },
        { type: 'kafkaStale', database: 'wiki1', params: { n: 2 } },
      ],
    });
    const second = produced.ids[1] ?? '';
    const r = await runner(config, { logger: quietLogger(), clock });
    await waitFor('the first event running', () => exec.requests.length === 1);
    // The second, already claimed, waits for the only slot.
    await waitFor('the second waiting', () => r.stats().rules[0]?.waiting === 1);
    expect(await client.keys(`*_${second}`)).toHaveLength(1);
    clock.advance(120_000);
    open();
    await waitFor('the second abandoned', () => r.stats().rules[0]?.counters.abandoned === 1);
    expect(r.stats().rules[0]?.counters.ok).toBe(1);
    expect(exec.requests.map((q) => q.id)).toEqual([produced.ids[0]]);
    await waitFor('its claim given back', async () => (await client.keys(`*_${second}`)).length === 0);
  }, 60_000);
});

describe('partitioned rules', () => {
  it('keeps other database sections running while one section is stuck', async () => {
    // wiki1 (section 0) gets no answer until released; the other sections must not wait for it.
    const { exec, stuck } = await executorStuckOn('wiki1');
    const config = refreshLinksPartitioned('sections', exec.url, { map: { wiki1: 0, wiki2: 1 }, default: 2 });
    await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'sections',
      events: Array.from({ length: 30 }, (_, i) => ({
        type: 'refreshLinks',
        database: `wiki${(i % 3) + 1}`,
      })),
    });
    const r = await runner(config, { logger: quietLogger() });
    // Distinct events per wiki (a request is one run; the same event twice would be a bug checked
    // below). Each section's slots belong to its partition, whichever of the rule's consumers the
    // group gives it to (at start-up one consumer may get all three for a while), so wiki1's two
    // slots stay wiki1's two slots. Wait for its two stuck requests too, then check it took no more.
    const ran = (db: string) =>
      new Set(
        exec.requests.filter((q) => JSON.parse(q.body.toString('utf8')).database === db).map((q) => q.id),
      ).size;
    await waitFor(
      'wiki2 and wiki3 done while wiki1 is stuck',
      () => ran('wiki2') === 10 && ran('wiki3') === 10 && ran('wiki1') >= 2,
    );
    expect(ran('wiki1')).toBe(2); // its section's two slots, nothing more
    await waitFor('wiki1 done', () => {
      for (const release of stuck.splice(0)) release();
      return ran('wiki1') === 10 && r.stats().rules[0]?.counters.ok === 30;
    });
    expect(exec.requests.length).toBe(30); // none ran twice
    const rule = r.stats().rules[0];
    expect(rule?.partitioned).toBe(true);
    expect(rule?.counters.partitioned).toBe(30);
    const copies = await readTopic(
      [broker.address],
      'sections.jobrunner.partitioned.mediawiki.job.refreshLinks',
      (m) => m.length >= 30,
    );
    const partitionOf = (m: (typeof copies)[number]) => [
      JSON.parse(m.value.toString('utf8')).database,
      m.partition,
    ];
    expect(new Set(copies.map((m) => JSON.stringify(partitionOf(m))))).toEqual(
      new Set([JSON.stringify(['wiki1', 0]), JSON.stringify(['wiki2', 1]), JSON.stringify(['wiki3', 2])]),
    );
  }, 90_000);

  it('keeps sections apart when one consumer reads several partitions', async () => {
    // The group gives a consumer several partitions while the others join or reconnect. Here for
    // good: the topic has 3 partitions, the rule (shrunk to one) has one consumer. A section's slots
    // belong to its partition, so wiki1's stuck events leave wiki2's and wiki3's slots free.
    const { exec, stuck } = await executorStuckOn('wiki1');
    const topic = 'shared.jobrunner.partitioned.mediawiki.job.refreshLinks';
    await createTopic(topic, 3);
    const config = refreshLinksPartitioned('shared', exec.url, {
      map: { wiki1: 0 },
      default: 0,
      partitions: 1,
    });
    const r = await runner(config, { logger: quietLogger() });
    const section = (database: string, partition: number) =>
      Array.from({ length: 10 }, (_, i) => ({
        topic,
        partition,
        value: buildJobEvent({ type: 'refreshLinks', database, params: { i } }).bytes,
      }));
    // wiki1 first: the consumer runs two of its events and the other eight wait for slots.
    await produceRaw([broker.address], section('wiki1', 0));
    await waitFor('wiki1 stuck with 2 running and 8 waiting', () => {
      return exec.requests.length === 2 && r.stats().rules[0]?.waiting === 8;
    });
    await produceRaw([broker.address], [...section('wiki2', 1), ...section('wiki3', 2)]);
    const ran = (db: string) =>
      new Set(
        exec.requests.filter((q) => JSON.parse(q.body.toString('utf8')).database === db).map((q) => q.id),
      ).size;
    await waitFor(
      'wiki2 and wiki3 done while wiki1 is stuck',
      () => ran('wiki2') === 10 && ran('wiki3') === 10,
    );
    expect(ran('wiki1')).toBe(2);
    await waitFor('wiki1 done', () => {
      for (const release of stuck.splice(0)) release();
      return ran('wiki1') === 10 && r.stats().rules[0]?.counters.ok === 30;
    });
    expect(exec.requests.length).toBe(30);
  }, 90_000);
});

describe('rebalance', () => {
  it('a runner that loses a partition gives up its events waiting for a slot; the new owner runs them at once', async () => {
    const exec = await executor();
    // Every request hangs until released: the first runner's slots stay full.
    const stuck: (() => void)[] = [];
    exec.reply = () => new Promise((resolve) => stuck.push(() => resolve({ status: 200 })));
    const topic = 'moved.mediawiki.job.kafkaMoved';
    await createTopic(topic, 2);
    const configFor = (instanceId: string) =>
      kafkaConfig(
        {
          brokers: [broker.address],
          datacenter: 'moved',
          endpoint: exec.url,
          instanceId,
          rules: { moved: { types: ['kafkaMoved'], concurrency: 2 } },
          lowTraffic: { enabled: false },
        },
        redis.address,
      );
    // Runner A is the group's only member: it reads both partitions, runs two events and holds
    // the other 18 claimed, waiting for its slots.
    const a = await runner(configFor('runner-a'), { logger: quietLogger() });
    const events = await fillTwoSlots(a, exec, topic, 'kafkaMoved');
    // Runner B joins: two members, two partitions, so A loses one of them (either), with the events
    // of it that wait for A's slots. B must run those now, not skip them as duplicates of A's claims.
    const b = await runner(configFor('runner-b'), { logger: quietLogger() });
    await waitFor('runner B running 2 events of the partition it took over while A is stuck', () => {
      return new Set(exec.requests.map((q) => q.id)).size === 4;
    });
    const handedOver = a.stats().rules[0]?.counters.handedOver ?? 0;
    // A's lost partition had 10 events; those A had started (0 to 2) it keeps running.
    expect(handedOver).toBeGreaterThanOrEqual(8);
    expect(handedOver).toBeLessThanOrEqual(10);
    expect(a.stats().rules[0]?.waiting).toBe(18 - handedOver);
    // A's running ones: B neither skips nor runs them, it waits for them (A's release of a handed-
    // over event can also reach Redis after B's claim: B then waits for that one until it lands).
    expect(b.stats().rules[0]?.counters.duplicates).toBe(0);
    expect(b.stats().rules[0]?.counters.waitedOnLiveClaim).toBeGreaterThanOrEqual(10 - handedOver);
    await waitFor('every event run', () => {
      for (const release of stuck.splice(0)) release();
      return exec.requests.length >= 20;
    });
    await waitFor('both runners committed everything', () =>
      [a, b].every(
        (r) => r.stats().rules[0]?.lagMeasuredAt !== undefined && r.stats().rules[0]?.lagTotal === 0,
      ),
    );
    // B's waits ended: A's running ones ran there, so B counts them as duplicates.
    expect(b.stats().rules[0]?.counters.duplicates).toBe(10 - handedOver);
    expect(b.stats().rules[0]?.waitingOnLiveClaim).toBe(0);
    // Exactly once each: nothing given up was lost, nothing ran on both runners.
    expect(exec.requests.length).toBe(20);
    expect(new Set(exec.requests.map((q) => q.id))).toEqual(new Set(events.map((e) => e.id)));
    const ok = (r: KafkaRunner) => r.stats().rules[0]?.counters.ok ?? 0;
    expect(ok(a) + ok(b)).toBe(20);
  }, 90_000);

  /**
   * Runner A (concurrency 2) runs the only two events of a 2-partition topic, one per partition,
   * and their requests hang. Runner B joins and takes one partition: it reads that partition's
   * event, which A holds claimed and has not run, and must wait for it (neither skip nor run it).
   * The first request of each event hangs until released; later ones are answered at once.
   */
  async function waitingOnA(datacenter: string, type: string, bClock?: OffsetClock) {
    const exec = await executor();
    const stuck: (() => void)[] = [];
    exec.reply = (q) =>
      exec.counts.get(q.id) === 1
        ? new Promise((resolve) => stuck.push(() => resolve({ status: 200 })))
        : { status: 200 };
    const topic = `${datacenter}.mediawiki.job.${type}`;
    await createTopic(topic, 2);
    const configFor = (instanceId: string) =>
      kafkaConfig(
        {
          brokers: [broker.address],
          datacenter,
          endpoint: exec.url,
          instanceId,
          // The shortest allowed: B's rechecks (a third of the alive TTL, ⅔ of this) come sooner.
          sessionTimeoutMs: 6000,
          rules: { waits: { types: [type], concurrency: 2, timeoutMs: 60_000 } },
          lowTraffic: { enabled: false },
        },
        redis.address,
      );
    const a = await runner(configFor('runner-a'), { logger: quietLogger() });
    const events = [0, 1].map((i) => buildJobEvent({ type, database: 'wiki1', params: { i } }));
    await produceRaw(
      [broker.address],
      events.map((e, i) => ({ topic, value: e.bytes, partition: i })),
    );
    await waitFor('runner A running both events', () => exec.requests.length === 2);
    const b = await runner(configFor('runner-b'), {
      logger: quietLogger(),
      ...(bClock ? { clock: bClock } : {}),
    });
    await waitFor('runner B waiting for the event of the partition it took over', () => {
      return b.stats().rules[0]?.waitingOnLiveClaim === 1;
    });
    expect(b.stats().rules[0]?.counters.waitedOnLiveClaim).toBe(1);
    expect(b.stats().rules[0]?.counters.duplicates).toBe(0);
    expect(a.stats().rules[0]?.counters.handedOver).toBe(0);
    expect(exec.requests.length).toBe(2);
    return { exec, stuck, a, b, events, configFor };
  }

  const committedAll = (r: KafkaRunner): boolean =>
    r.stats().rules[0]?.lagMeasuredAt !== undefined && r.stats().rules[0]?.lagTotal === 0;

  it('an event the old owner still runs: the new owner waits, and skips it once it ran there', async () => {
    const { exec, stuck, a, b, events } = await waitingOnA('waitdone', 'kafkaWaitDone');
    for (const release of stuck.splice(0)) release();
    await waitFor('A ran both; B counted its waited event as a duplicate', () => {
      return a.stats().rules[0]?.counters.ok === 2 && b.stats().rules[0]?.counters.duplicates === 1;
    });
    await waitFor('B committed past it', () => committedAll(b));
    expect(exec.requests.length).toBe(2); // exactly once in total
    expect(new Set(exec.requests.map((q) => q.id))).toEqual(new Set(events.map((e) => e.id)));
    expect(b.stats().rules[0]?.counters.ok).toBe(0);
    expect(b.stats().rules[0]?.waitingOnLiveClaim).toBe(0);
  }, 90_000);

  it('an event the old owner dies running: the new owner runs it, once more, never losing it', async () => {
    const { exec, a, b, events } = await waitingOnA('waitkill', 'kafkaWaitKill');
    // A dies mid-run: nothing finishes, its dedup alive key is deleted, it leaves the group (B then
    // also reads A's other event from the committed offset). Before 'w', B had skipped the event
    // it took over as a duplicate of A's claim and committed past it: lost.
    await a.stop(false);
    await waitFor('B ran both events', () => b.stats().rules[0]?.counters.ok === 2);
    await waitFor('B committed past them', () => committedAll(b));
    for (const e of events) expect(exec.counts.get(e.id)).toBe(2); // A's cut-off run, B's run
    expect(exec.requests.length).toBe(4);
    expect(b.stats().rules[0]?.counters.duplicates).toBe(0);
    expect(b.stats().rules[0]?.counters.liveClaimOverdue).toBe(0);
  }, 90_000);

  it('a partition that comes back while its event still runs: that run is waited for, not skipped', async () => {
    // B leaves: A gets the partition back and reads the event it still runs again from the
    // committed offset. The claim is A's own (a duplicate to the script); A must wait for its
    // original run instead of committing past it. A then dies mid-run: runner C runs the event.
    const { exec, a, b, events, configFor } = await waitingOnA('waitback', 'kafkaWaitBack');
    await b.stop(false);
    await waitFor('A waiting for its own run of the event it read again', () => {
      return a.stats().rules[0]?.counters.waitedOnLiveClaim === 1;
    });
    expect(a.stats().rules[0]?.counters.duplicates).toBe(0);
    await a.stop(false);
    const c = await runner(configFor('runner-c'), { logger: quietLogger() });
    await waitFor('C ran both events', () => c.stats().rules[0]?.counters.ok === 2);
    await waitFor('C committed past them', () => committedAll(c));
    for (const e of events) expect(exec.counts.get(e.id)).toBe(2); // A's cut-off run, C's run
  }, 90_000);

  it("runs a waited event once the old owner's claim outlasts the rule's timeout", async () => {
    // A's claim stays live and unrun (its run hangs): past timeoutMs + connect timeout + alive TTL
    // on B's clock, B claims it as a retry would (only runs count) and runs it, with a warning.
    const clock = new OffsetClock();
    const { exec, stuck, b, events } = await waitingOnA('waitlong', 'kafkaWaitLong', clock);
    clock.advance(60_000 + 10_000 + 4_000);
    await waitFor('B ran the event it waited for', () => b.stats().rules[0]?.counters.ok === 1);
    expect(b.stats().rules[0]?.counters.liveClaimOverdue).toBe(1);
    expect(exec.requests.length).toBe(3);
    for (const release of stuck.splice(0)) release();
    await waitFor('B committed past it', () => committedAll(b));
    expect(events.map((e) => exec.counts.get(e.id)).sort()).toEqual([1, 2]);
  }, 90_000);
});

describe('broker restart', () => {
  it('recovers without restarting the runner and loses nothing', async () => {
    const exec = await executor();
    exec.reply = () => new Promise((resolve) => setTimeout(() => resolve({ status: 200 }), 5));
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'bounce',
        endpoint: exec.url,
        ruleDefaults: { concurrency: 5 },
      },
      redis.address,
    );
    const before = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'bounce',
      events: Array.from({ length: 1500 }, (_, i) => ({
        type: `kafkaBounce${i % 2}`,
        database: 'wiki1',
        params: { i },
      })),
    });
    const r = await runner(config, { logger: quietLogger() });
    await waitFor('a third of the events', () => exec.requests.length >= 500);
    await broker.restart();
    const after = await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'bounce',
      events: Array.from({ length: 500 }, (_, i) => ({
        type: `kafkaBounce${i % 2}`,
        database: 'wiki1',
        params: { i },
      })),
    });
    const all = [...before.ids, ...after.ids];
    await waitFor('every event after the restart', () => all.every((id) => exec.counts.has(id)), 120_000);
    await waitFor(
      'everything committed',
      () => r.stats().rules[0]?.lagTotal === 0 && r.stats().rules[0]?.lagMeasuredAt !== undefined,
    );
    const duplicates = all.filter((id) => (exec.counts.get(id) ?? 0) > 1).length;
    // At most the events that were in flight when the broker went away may run twice.
    const rule = r.stats().rules[0];
    expect(duplicates).toBeLessThanOrEqual(5 + 64);
    expect(exec.requests.length).toBe(all.length + duplicates);
    expect(rule?.consumers.some((lane) => lane.reconnects > 0)).toBe(true);
    console.log(`broker restart: ${all.length} events, ${duplicates} ran twice`);
  }, 180_000);
});
