// jobrunner-intake against a real Kafka 4 broker: EventGate's answers (201, 202 hasty, 207, 400,
// 413), events produced as the exact bytes sent (number-like keys, floats and signatures kept),
// routing to partitioned topics as the runner's rules do, and health / metrics endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { startIntake, type RunningIntake } from '../../src/intake/daemon.js';
import { buildJobEvent } from '../../src/kafka/job-event-builder.js';
import { TopicAdmin } from '../../src/kafka/topic-admin.js';
import { PhpArray, PhpFloat } from '../../src/mediawiki/php-serialize.js';
import { kafkaConfig, quietLogger, readTopic, waitFor } from './kafka-support.js';

let broker: KafkaBrokerHandle;
let intake: RunningIntake;

beforeAll(async () => {
  broker = await startKafkaBroker();
  const config = kafkaConfig(
    {
      brokers: [broker.address],
      datacenter: 'in',
      endpoint: 'http://127.0.0.1:1/unused',
      rules: {
        cirrus: {
          types: ['cirrusWrite'],
          partitioned: { key: 'params.jobqueue_partition', map: { 'eqiad-0': 2 }, default: 1, partitions: 3 },
        },
      },
    },
    '127.0.0.1:1',
    { intake: { port: 0, maxBodyBytes: 200_000, maxEventsPerRequest: 100 } },
  );
  // The runner creates the partitioned topic at start-up; here the test does.
  const admin = new TopicAdmin([broker.address], 'intake-test-admin');
  await admin.ensureTopics(
    [{ topic: 'in.jobrunner.partitioned.mediawiki.job.cirrusWrite', partitions: 3 }],
    true,
  );
  await admin.close();
  intake = await startIntake(config, { logger: quietLogger() });
}, 120_000);

afterAll(async () => {
  await intake?.stop();
  await broker?.stop();
}, 60_000);

const SECRET = 'intake-test-secret';

function event(type: string, params: Record<string, unknown> | PhpArray = {}): Buffer {
  return buildJobEvent({ type, database: 'wiki1', params }, { secretKey: SECRET }).bytes;
}

async function post(body: Buffer | string, query = '', type = 'application/json') {
  const response = await fetch(`${intake.url}${query}`, {
    method: 'POST',
    body,
    headers: { 'content-type': type },
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown[]>),
  };
}

const batch = (events: (Buffer | string)[]) => Buffer.from(`[${events.map(String).join(',')}]`);

describe('POST /v1/events', () => {
  it('answers 201 after producing each event exactly as sent, and keeps signatures valid', async () => {
    // pages keyed by page ID and an int above 2^53: what JSON.parse + JSON.stringify would change.
    const pages = PhpArray.from([
      [
        12,
        PhpArray.from([
          [0, 0],
          [1, 'Foo'],
        ]),
      ],
      [
        7,
        PhpArray.from([
          [0, 0],
          [1, 'Bar'],
        ]),
      ],
    ]);
    const params = PhpArray.from([
      ['pages', pages],
      ['ratio', new PhpFloat(1)],
      ['big', 9007199254740993n],
      ['empty', new PhpArray()],
    ]);
    const events = [event('htmlUpdate', params), event('htmlUpdate', { n: 2 }), event('otherType', { n: 3 })];
    expect(events[0]?.toString('utf8')).toContain(
      '"pages":{"12":[0,"Foo"],"7":[0,"Bar"]},"ratio":1,"big":9007199254740993,',
    );
    expect(JSON.stringify(JSON.parse(events[0]?.toString('utf8') ?? ''))).not.toBe(
      events[0]?.toString('utf8'),
    );
    const answer = await post(batch(events));
    expect(answer).toEqual({ status: 201, json: undefined });
    const html = await readTopic([broker.address], 'in.mediawiki.job.htmlUpdate', (m) => m.length >= 2);
    expect(html.map((m) => m.value)).toEqual([events[0], events[1]]);
    const other = await readTopic([broker.address], 'in.mediawiki.job.otherType', (m) => m.length >= 1);
    expect(other.map((m) => m.value)).toEqual([events[2]]);
    // One event without an array works too.
    expect((await post(event('single'))).status).toBe(201);
    expect(intake.stats().events.accepted).toBe(4);
  }, 60_000);

  it('answers 207 with the invalid events, 400 when all are invalid, and never produces those', async () => {
    const good = event('mixed', { n: 1 });
    const wrongStream = event('mixed')
      .toString('utf8')
      .replace('"stream":"mediawiki.job.mixed"', '"stream":"jobrunner.retry.x"');
    const noDatabase =
      '{"$schema":"/mediawiki/job/1.0.0","meta":{"dt":"2030-01-01T00:00:00Z","stream":"mediawiki.job.mixed"},"type":"mixed"}';
    const partial = await post(batch([good, wrongStream, noDatabase]));
    expect(partial.status).toBe(207);
    expect(partial.json?.error).toEqual([]);
    const invalid = partial.json?.invalid as { status: string; context: { errors: string[] } }[];
    expect(invalid.map((i) => [i.status, i.context.errors[0]])).toEqual([
      [
        'invalid',
        "/meta/stream: must be 'mediawiki.job.mixed' (the stream of the event's type), not 'jobrunner.retry.x'",
      ],
      ['invalid', "/: must have required property 'database'"],
    ]);
    expect((await post(batch([noDatabase]))).status).toBe(400);
    const topic = await readTopic([broker.address], 'in.mediawiki.job.mixed', (m) => m.length >= 1);
    expect(topic.map((m) => m.value)).toEqual([good]);
  }, 60_000);

  it('answers 202 at once with ?hasty=true, and still produces', async () => {
    const e = event('hasty', { n: 1 });
    expect((await post(batch([e]), '?hasty=true')).status).toBe(202);
    const topic = await readTopic([broker.address], 'in.mediawiki.job.hasty', (m) => m.length >= 1);
    expect(topic.map((m) => m.value)).toEqual([e]);
  }, 60_000);

  it('refuses bodies that are not JSON, too large or with too many events (any Content-Type)', async () => {
    expect((await post('{not json')).status).toBe(400);
    expect((await post(Buffer.alloc(300_000, 0x20))).status).toBe(413);
    expect((await post(batch(Array.from({ length: 101 }, () => event('many'))))).status).toBe(413);
    // MediaWiki 1.39's HTTP client labels EventBus's JSON as a form post; EventGate takes it, so do we.
    expect((await post(event('formLabelled'), '', 'application/x-www-form-urlencoded')).status).toBe(201);
    expect((await fetch(intake.url)).status).toBe(405);
  });

  it('routes a partitioned rule type straight to its partition, by params.jobqueue_partition', async () => {
    const eqiad = event('cirrusWrite', { jobqueue_partition: 'eqiad-0' });
    const other = event('cirrusWrite', { jobqueue_partition: 'codfw-0' });
    expect((await post(batch([eqiad, other]))).status).toBe(201);
    const copies = await readTopic(
      [broker.address],
      'in.jobrunner.partitioned.mediawiki.job.cirrusWrite',
      (m) => m.length >= 2,
    );
    expect(copies.map((m) => [m.partition, m.value.toString('utf8')]).sort()).toEqual(
      [
        [1, other.toString('utf8')],
        [2, eqiad.toString('utf8')],
      ].sort(),
    );
  }, 60_000);
});

describe('health and metrics', () => {
  it('serves /healthz, /readyz, /metrics and /status', async () => {
    const base = intake.url.replace('/v1/events', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor('ready', async () => (await fetch(`${base}/readyz`)).status === 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/jobqueue_intake_events_total\{outcome="accepted"\} [1-9]/);
    expect(metrics).toMatch(/jobqueue_intake_requests_total\{status="207"\} 1/);
    const status = (await (await fetch(`${base}/status`)).json()) as { role: string; ready: boolean };
    expect(status).toMatchObject({ role: 'jobrunner-intake', ready: true });
  });
});
