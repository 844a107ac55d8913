// backend kafka end to end with the REAL MediaWiki 1.39 farm: events built and signed like EventBus,
// produced to a real Kafka 4 broker, run by the Kafka runner through rpc/RunSingleJob.php under
// `php -S`, which checks mediawiki_signature with $wgSecretKey (its default). MediaWiki's own runJobs log confirms
// every job ran once. (200 events here; the 5,000-event run is in kafka-runner.test.ts.)
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { buildFarm, type FarmWebServer, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { PhpArray, PhpFloat } from '../../src/mediawiki/php-serialize.js';
import { buildJobEvent } from '../../src/kafka/job-event-builder.js';
import { produceJobEvents } from '../../src/kafka/producer.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/kafka/runner.js';
import { kafkaConfig, quietLogger, readTopic, waitFor } from './kafka-support.js';

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let web: FarmWebServer;
let runner: KafkaRunner | undefined;

beforeAll(async () => {
  [broker, redis] = await Promise.all([startKafkaBroker(), startRedisServer()]);
  farm = await buildFarm({ redis, wikis: 2, debugLog: true });
  await farm.setExtraJobTypes({ kafkaNullA: 'null', kafkaNullB: 'null', kafkaFail: 'fail' });
  web = await farm.startWebServer({ workers: 4 });
}, 240_000);

afterAll(async () => {
  await runner?.stop(false);
  await farm?.destroy();
  await Promise.allSettled([broker?.stop(), redis?.stop()]);
}, 60_000);

function endpoint(): string {
  return `${web.baseUrl}/rpc/RunSingleJob.php`;
}

async function post(
  body: string | Buffer | undefined,
  method = 'POST',
): Promise<{ status: number; text: string; allow: string | null }> {
  const response = await fetch(endpoint(), {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, text: await response.text(), allow: response.headers.get('allow') };
}

/** runJobs log lines MediaWiki wrote for jobs that ran and succeeded, by their `marker` param. */
function goodRuns(): Map<string, number> {
  const file = join(farm.dir, 'logs', 'runJobs.log');
  const counts = new Map<string, number>();
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // [^\n], not ".": a title may hold U+2028, which "." does not match.
    const marker = / marker=(k[0-9a-z-]+)\b[^\n]* good$/.exec(line)?.[1];
    if (marker !== undefined) counts.set(marker, (counts.get(marker) ?? 0) + 1);
  }
  return counts;
}

describe('rpc/RunSingleJob.php', () => {
  it('answers with the documented status codes', async () => {
    const signed = (spec: Parameters<typeof buildJobEvent>[0]) =>
      buildJobEvent(spec, { secretKey: farm.secretKey }).bytes;
    expect(await post(undefined, 'GET')).toMatchObject({ status: 405, allow: 'POST' });
    expect(await post('')).toMatchObject({ status: 422, text: 'No event received.\n' });
    expect(await post('{not json')).toMatchObject({ status: 400, text: 'Invalid event received!\n' });
    expect(await post('{"type":"kafkaNullA","params":{}}')).toMatchObject({ status: 400 });
    const unsigned = buildJobEvent({ type: 'kafkaNullA', database: 'wiki1' });
    expect(await post(unsigned.bytes)).toMatchObject({ status: 403, text: 'Missing mediawiki signature\n' });
    expect(await post(signed({ type: 'noSuchJobType', database: 'wiki1' }))).toMatchObject({
      status: 400,
      text: "Invalid job command 'noSuchJobType'\n",
    });
    expect((await post(signed({ type: 'kafkaNullA', database: 'nowiki' }))).status).toBe(404);
    expect(await post(signed({ type: 'kafkaFail', database: 'wiki1' }))).toMatchObject({
      status: 500,
      text: 'kafkaFail: deliberate failure\n',
    });
    const ok = signed({ type: 'kafkaNullA', database: 'wiki2', params: { marker: 'k-direct' } });
    expect(await post(ok)).toMatchObject({ status: 200, text: '' });
    await waitFor('the direct run in the runJobs log', () => goodRuns().get('k-direct') === 1);
  });
});

describe('signed events', () => {
  let signedWeb: FarmWebServer;
  beforeAll(() => {
    signedWeb = web; // signatures are checked by default
  });

  async function postSigned(body: Buffer): Promise<{ status: number; text: string }> {
    const response = await fetch(`${signedWeb.baseUrl}/rpc/RunSingleJob.php`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    return { status: response.status, text: await response.text() };
  }

  it('accepts EventBus signatures made here and rejects missing or wrong ones', async () => {
    // As PHP arrays: keys stay in PHP order (an int-like key after a string key), ints vs floats.
    const params = PhpArray.from([
      ['marker', 'k-signed'],
      ['title', 'Ünïcode/Slash "quoted" <tag> & \u2028 line'],
      ['namespace', 0],
      ['ratio', new PhpFloat(0.1)],
      ['big', new PhpFloat(1e25)],
      ['whole', new PhpFloat(3)],
      ['empty', new PhpArray()],
      ['list', PhpArray.list([1, 'two', PhpArray.from([['three', 3]])])],
      [
        'map',
        PhpArray.from([
          ['b', null],
          ['10', 'int-like key'],
          ['c', true],
        ]),
      ],
    ]);
    const signed = buildJobEvent(
      { type: 'kafkaNullB', database: 'wiki1', params, removeDuplicates: true, rootJobKey: 'r' },
      { secretKey: farm.secretKey },
    );
    expect(await postSigned(signed.bytes)).toMatchObject({ status: 200 });
    const unsigned = buildJobEvent({ type: 'kafkaNullB', database: 'wiki1', params });
    expect(await postSigned(unsigned.bytes)).toMatchObject({
      status: 403,
      text: 'Missing mediawiki signature\n',
    });
    const wrongKey = buildJobEvent(
      { type: 'kafkaNullB', database: 'wiki1', params },
      { secretKey: 'not-the-key' },
    );
    expect(await postSigned(wrongKey.bytes)).toMatchObject({
      status: 403,
      text: 'Invalid mediawiki signature\n',
    });
    // JSON.parse + JSON.stringify of the signed event moves the integer-like key and breaks it.
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(signed.bytes.toString('utf8'))));
    expect(await postSigned(reserialized)).toMatchObject({
      status: 403,
      text: 'Invalid mediawiki signature\n',
    });
    await waitFor('the signed run in the runJobs log', () => goodRuns().get('k-signed') === 1);
  });

  it("runs 200 signed events of two types on two wikis, each once by MediaWiki's own log", async () => {
    const config = kafkaConfig(
      {
        brokers: [broker.address],
        datacenter: 'mw',
        endpoint: `${signedWeb.baseUrl}/rpc/RunSingleJob.php`,
        rules: { nullA: { types: ['kafkaNullA'], concurrency: 4 } },
        lowTraffic: { concurrency: 4 },
        ruleDefaults: { retryLimit: 1, retryDelayMs: 100 },
      },
      redis.address,
    );
    const events = Array.from({ length: 200 }, (_, i) => ({
      type: i % 2 === 0 ? 'kafkaNullA' : 'kafkaNullB',
      database: i % 4 < 2 ? 'wiki1' : 'wiki2',
      params: { marker: `k${i}`, seq: i },
    }));
    const failing = { type: 'kafkaFail', database: 'wiki2', params: { marker: 'k-fail' } };
    await produceJobEvents({
      brokers: [broker.address],
      datacenter: 'mw',
      events: [...events, failing],
      secretKey: farm.secretKey,
    });
    runner = await startKafkaRunner(config, { logger: quietLogger() });
    await waitFor(
      'MediaWiki logged 200 good runs',
      () => events.every((e) => goodRuns().has(e.params.marker)),
      120_000,
    );
    const runs = goodRuns();
    expect(events.filter((e) => runs.get(e.params.marker) !== 1)).toEqual([]);
    // The failing job: one retry, then the error topic with MediaWiki's reason.
    const errors = await readTopic([broker.address], 'mw.jobrunner.error', (m) => m.length >= 1, 60_000);
    const error = JSON.parse(errors[0]?.value.toString('utf8') ?? '{}') as {
      message: string;
      details: { attempts: number };
    };
    expect(error.message).toBe('HTTP 500: kafkaFail: deliberate failure (no retries left)');
    expect(error.details.attempts).toBe(2);
    const stats = runner.stats();
    expect(stats.rules.reduce((sum, rule) => sum + rule.counters.ok, 0)).toBe(200);
  }, 180_000);
});
