// `jobqueue push` and `jobqueue status` with backend kafka against a real Kafka 4 broker: push
// produces mediawiki/job events (fields, key order, topic) signed with $wgSecretKey exactly as
// EventBus signs them (checked by PHP with MediaWiki's own FormatJson), and status reads each rule's
// lag from Kafka alone, adding what the runner executes, holds and has in flight when its status
// server answers. The running runner's /metrics carries the Kafka families (Prometheus translation).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobqueue } from '../../src/cli/jobqueue/run.js';
import type { KafkaStatus } from '../../src/cli/jobqueue/kafka-status.js';
import { loadConfigFile } from '../../src/config/load.js';
import { freePort } from '../../src/farm/free-port.js';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/kafka/runner.js';
import { noMetrics } from '../../src/observability/statsd.js';
import { daemonMetrics, startDaemonStatus, type DaemonStatusHandle } from '../../src/status/daemon-status.js';
import { quietLogger, readTopic, startTestExecutor, waitFor, type TestExecutor } from './kafka-support.js';

const SECRET = 'jq-kafka-test-secret-key-81c2';
const REDIS_PASSWORD = 'jq-kafka-redis-password-5d0e';
const FORMAT_JSON = '/usr/share/mediawiki/includes/json/FormatJson.php';

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let executor: TestExecutor;
let dir: string;
let conf: string;
let runner: KafkaRunner | undefined;
let status: DaemonStatusHandle | null = null;
let releaseGate: () => void = () => undefined;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function jobqueue(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  stdin.end('');
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runJobqueue(args, { stdin, stdout, stderr });
  for (const text of [stdout.text, stderr.text]) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(REDIS_PASSWORD);
  }
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function writeConfig(name: string, body: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, `// jobqueue kafka test\n${JSON.stringify(body, null, 2)}\n`);
  return path;
}

beforeAll(async () => {
  [broker, redis] = await Promise.all([startKafkaBroker(), startRedisServer({ password: REDIS_PASSWORD })]);
  executor = await startTestExecutor();
  const gate = new Promise<void>((resolve) => {
    releaseGate = resolve;
  });
  // jqHeld events wait until the test opens the gate; everything else is done at once.
  executor.reply = async (request) => {
    if (request.type === 'jqHeld') await gate;
    return { status: 200 };
  };
  dir = mkdtempSync(join(tmpdir(), 'jobqueue-kafka-'));
  writeFileSync(join(dir, 'secret-key'), `${SECRET}\n`);
  const [runnerPort, chronPort] = [await freePort(), await freePort()];
  conf = writeConfig('kafka.conf', {
    backend: 'kafka',
    redis: { aggregators: [redis.address], queues: [redis.address], password: REDIS_PASSWORD },
    dispatch: { secretKeyFile: 'secret-key' },
    status: { runnerPort, chronPort },
    runner: { drainTimeoutSeconds: 5 },
    kafka: {
      brokers: [broker.address],
      datacenter: 'jq',
      endpoint: executor.url,
      commitIntervalMs: 100,
      topicRefreshMs: 300,
      lagIntervalMs: 300,
      sessionTimeoutMs: 10000,
      rules: { held: { types: ['jqHeld'], concurrency: 2 } },
      lowTraffic: { concurrency: 4 },
    },
  });
}, 180_000);

afterAll(async () => {
  releaseGate();
  await runner?.stop(false);
  await status?.close();
  await executor?.close();
  await Promise.allSettled([broker?.stop(), redis?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

interface PushedEvent {
  $schema: string;
  meta: { uri: string; request_id: string; id: string; dt: string; domain: string; stream: string };
  database: string;
  type: string;
  delay_until?: string;
  sha1?: string;
  params: Record<string, unknown>;
  mediawiki_signature?: string;
}

/**
 * For each raw event, PHP checks mediawiki_signature as EventBus's verifier does (decode, drop the
 * signature, FormatJson::encode(..., ALL_OK), HMAC-SHA1 with $wgSecretKey) and computes the sha1 of
 * Job::getDeduplicationInfo(). Prints one JSON line per event.
 */
function phpCheck(raws: Buffer[]): { signature: 'ok' | 'bad' | 'missing'; dedupSha1: string }[] {
  const eventsFile = join(dir, `events-${Date.now()}.jsonl`);
  writeFileSync(eventsFile, raws.map((r) => r.toString('utf8')).join('\n') + '\n');
  const script = join(dir, 'check.php');
  writeFileSync(
    script,
    `<?php
require ${JSON.stringify(FORMAT_JSON)};
$secret = trim(file_get_contents($argv[2]));
foreach (file($argv[1], FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
  $event = json_decode($line, true);
  $given = $event['mediawiki_signature'] ?? null;
  unset($event['mediawiki_signature']);
  $expected = hash_hmac('sha1', FormatJson::encode($event, false, FormatJson::ALL_OK), $secret);
  $params = $event['params'];
  foreach (['rootJobSignature', 'rootJobTimestamp', 'jobReleaseTimestamp', 'requestId'] as $k) unset($params[$k]);
  ksort($params);
  echo json_encode([
    'signature' => $given === null ? 'missing' : (hash_equals($expected, $given) ? 'ok' : 'bad'),
    'dedupSha1' => sha1(serialize(['type' => $event['type'], 'params' => $params])),
  ]), "\\n";
}
`,
  );
  const out = execFileSync('php', [script, eventsFile, join(dir, 'secret-key')], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { signature: 'ok' | 'bad' | 'missing'; dedupSha1: string });
}

describe('jobqueue push --backend kafka', () => {
  it('produces EventBus job events to <dc>.mediawiki.job.<type>, signed like EventBus', async () => {
    const before = Math.floor(Date.now() / 1000);
    // backend kafka is the config's, so --backend is optional; given here once explicitly.
    const plain = await jobqueue([
      '-c',
      conf,
      'push',
      '--backend',
      'kafka',
      '--wiki',
      'enwiki',
      '--type',
      'jqSigned',
      '--count',
      '3',
      '--params',
      '{"marker":"p1","ratio":0.5,"list":[1,"two"],"nested":{"a":null,"b":true}}',
      '--title',
      'Main Page/ünï "q"',
      '--json',
    ]);
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    const pushed = JSON.parse(plain.stdout) as { ids: string[]; topic: string; signed: boolean };
    expect(pushed).toMatchObject({
      backend: 'kafka',
      topic: 'jq.mediawiki.job.jqSigned',
      produced: 3,
      signed: true,
    });
    const dedupe = [
      '-c',
      conf,
      'push',
      '--wiki',
      'enwiki',
      '--type',
      'jqSigned',
      '--dedupe',
      '--params',
      '{"x":1}',
    ];
    expect((await jobqueue(dedupe)).code).toBe(0);
    const text = await jobqueue(dedupe);
    expect(text.stdout).toBe(
      'Produced 1 job event of type jqSigned for enwiki to jq.mediawiki.job.jqSigned (signed with dispatch.secretKeyFile).\n',
    );
    const delayed = await jobqueue([
      '-c',
      conf,
      'push',
      '--wiki',
      'dewiki',
      '--type',
      'jqDelayed',
      '--delay',
      '3600',
      '--json',
    ]);
    expect(delayed.code).toBe(0);
    const releaseAt = (JSON.parse(delayed.stdout) as { releaseAt: number }).releaseAt;
    expect(releaseAt).toBeGreaterThanOrEqual(before + 3600);

    const messages = await readTopic([broker.address], 'jq.mediawiki.job.jqSigned', (m) => m.length >= 5);
    expect(messages).toHaveLength(5);
    const events = messages.map((m) => JSON.parse(m.value.toString('utf8')) as PushedEvent);
    expect(events.slice(0, 3).map((e) => e.meta.id)).toEqual(pushed.ids);
    for (const event of events) {
      // EventBus key order; no delay_until for jobs without a release time.
      const keys = Object.keys(event);
      expect(keys).toEqual([
        '$schema',
        'meta',
        'database',
        'type',
        ...(event.sha1 ? ['sha1'] : []),
        'params',
        'mediawiki_signature',
      ]);
      expect(Object.keys(event.meta)).toEqual(['uri', 'request_id', 'id', 'dt', 'domain', 'stream']);
      expect(event).toMatchObject({
        $schema: '/mediawiki/job/1.0.0',
        database: 'enwiki',
        type: 'jqSigned',
        meta: { stream: 'mediawiki.job.jqSigned', domain: 'enwiki' },
      });
      expect(event.meta.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(event.meta.dt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(event.meta.dt) / 1000).toBeGreaterThanOrEqual(before - 1);
      expect(event.params.requestId).toBe(event.meta.request_id);
    }
    // One push is one request: its events share the request ID.
    expect(new Set(events.slice(0, 3).map((e) => e.meta.request_id)).size).toBe(1);
    expect(events[0]?.params).toEqual({
      marker: 'p1',
      ratio: 0.5,
      list: [1, 'two'],
      nested: { a: null, b: true },
      namespace: 0,
      title: 'Main_Page/ünï_"q"',
      requestId: events[0]?.meta.request_id,
    });

    // Params keep the order given, then namespace/title, then requestId (as in the raw bytes).
    expect(messages[0]?.value.toString('utf8')).toContain(
      `"params":{"marker":"p1","ratio":0.5,"list":[1,"two"],"nested":{"a":null,"b":true},"namespace":0,"title":"Main_Page/ünï_\\"q\\"","requestId":"${events[0]?.meta.request_id}"}`,
    );
    const checks = phpCheck(messages.map((m) => m.value));
    expect(checks.map((c) => c.signature)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // --dedupe: sha1 = MediaWiki's Job::getDeduplicationInfo() hash; the same for both pushes.
    expect(events[3]?.sha1).toBe(checks[3]?.dedupSha1);
    expect(events[4]?.sha1).toBe(events[3]?.sha1);
    expect(events[3]?.params.removeDuplicates).toBe(true);

    const [delayedMessage] = await readTopic(
      [broker.address],
      'jq.mediawiki.job.jqDelayed',
      (m) => m.length >= 1,
    );
    const delayedEvent = JSON.parse(delayedMessage?.value.toString('utf8') ?? '{}') as PushedEvent;
    expect(delayedEvent.delay_until).toBe(new Date(releaseAt * 1000).toISOString().replace('.000Z', 'Z'));
    expect(delayedEvent.params.jobReleaseTimestamp).toBe(releaseAt);
    expect(Object.keys(delayedEvent).indexOf('delay_until')).toBe(4);
    expect(phpCheck([delayedMessage?.value ?? Buffer.alloc(0)])[0]?.signature).toBe('ok');
  });

  it('a wrong --secret-key-file gives a signature PHP rejects; bad input is refused before producing', async () => {
    writeFileSync(join(dir, 'other-key'), 'not-the-wiki-secret\n');
    const wrong = await jobqueue([
      '-c',
      conf,
      'push',
      '--wiki',
      'enwiki',
      '--type',
      'jqWrongKey',
      '--secret-key-file',
      join(dir, 'other-key'),
    ]);
    expect(wrong.code).toBe(0);
    expect(wrong.stdout).toContain('(signed with --secret-key-file)');
    const [message] = await readTopic([broker.address], 'jq.mediawiki.job.jqWrongKey', (m) => m.length >= 1);
    expect(phpCheck([message?.value ?? Buffer.alloc(0)])[0]?.signature).toBe('bad');

    const usage = async (args: string[], pattern: RegExp) => {
      const run = await jobqueue(['-c', conf, 'push', '--wiki', 'enwiki', '--type', 'jqRefused', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(pattern);
    };
    await usage(['--gzip'], /--gzip is for the redis backend/);
    await usage(['--partition', redis.address], /--partition is for the redis backend/);
    await usage(['--params', '[1]'], /--params must be a JSON object/);
    await usage(
      ['--secret-key-file', join(dir, 'missing-key')],
      /missing-key: --secret-key-file: cannot read the file: it does not exist/,
    );
    await usage(['--backend', 'memcached'], /Invalid values|choices/i);
    await usage(
      ['--backend', 'redis', '--secret-key-file', join(dir, 'secret-key')],
      /has no meaning with the redis backend/,
    );
    const bad = await jobqueue(['-c', conf, 'push', '--wiki', 'enwiki', '--type', 'has space']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be a non-empty name without spaces');

    const unreachable = writeConfig('unreachable.conf', {
      backend: 'kafka',
      redis: { aggregators: [redis.address], queues: [redis.address] },
      kafka: { brokers: [`127.0.0.1:${await freePort()}`], datacenter: 'jq', endpoint: executor.url },
    });
    const down = await jobqueue(['-c', unreachable, 'push', '--wiki', 'enwiki', '--type', 'jqNowhere']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^jobqueue: cannot produce to Kafka brokers 127\.0\.0\.1:\d+: /);
    // Nothing was produced by the refused pushes.
    const topics = await jobqueue(['-c', conf, 'status', '--json']);
    expect(topics.stdout).not.toContain('jqRefused');
  });
});

describe('jobqueue status with backend kafka', () => {
  async function kafkaStatus(extra: string[] = []): Promise<KafkaStatus> {
    const run = await jobqueue(['-c', conf, 'status', '--json', ...extra]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(run.stdout) as KafkaStatus;
  }

  it('shows rules, topics and lag from Kafka alone, then the runner in-flight view once it runs', async () => {
    const push = await jobqueue(['-c', conf, 'push', '--wiki', 'enwiki', '--type', 'jqHeld', '--count', '5']);
    expect(push.code).toBe(0);

    // No runner yet: lag counts every event from the start of the topic (startFrom earliest).
    const cold = await kafkaStatus();
    expect(cold.runner).toMatchObject({ reachable: false });
    expect(cold.rules.map((r) => r.name)).toEqual(['held', 'low_traffic_jobs']);
    const held = cold.rules[0];
    expect(held).toMatchObject({ jobTopics: ['jq.mediawiki.job.jqHeld'], lag: 5, retryLag: 0 });
    expect(held?.consumers).toEqual([
      expect.objectContaining({
        role: 'main',
        groupId: 'jobrunner-held',
        topic: 'jq.mediawiki.job.jqHeld',
        lag: 5,
      }),
      expect.objectContaining({ role: 'retry', groupId: 'jobrunner-held-retry', exists: false, lag: 0 }),
      expect.objectContaining({ role: 'retry', topic: 'jq.jobrunner.delayed.held', exists: false }),
    ]);
    const low = cold.rules[1];
    expect(low?.jobTopics).toEqual([
      'jq.mediawiki.job.jqDelayed',
      'jq.mediawiki.job.jqSigned',
      'jq.mediawiki.job.jqWrongKey',
    ]);
    expect(low?.lag).toBe(7);
    // --type narrows to the rule that runs the type, even one whose topic does not exist yet.
    expect((await kafkaStatus(['--type', 'jqSigned'])).rules).toEqual([
      expect.objectContaining({ name: 'low_traffic_jobs', jobTopics: ['jq.mediawiki.job.jqSigned'], lag: 5 }),
    ]);
    expect((await kafkaStatus(['--type', 'jqNotYet'])).rules).toEqual([
      expect.objectContaining({ name: 'low_traffic_jobs', jobTopics: [], lag: 0 }),
    ]);

    // The runner, with its status server where the config says (what `jobrunner` starts).
    const config = loadConfigFile(conf);
    const observed = daemonMetrics(noMetrics, 'jobrunner');
    runner = await startKafkaRunner(config, { logger: quietLogger(), metrics: observed.metrics });
    const started = runner;
    status = await startDaemonStatus({
      role: 'jobrunner',
      config,
      logger: quietLogger(),
      registry: observed.registry,
      status: () => started.stats(),
      ready: () => true,
    });
    expect(status).not.toBeNull();
    const rule = (name: string) => started.stats().rules.find((r) => r.name === name);
    await waitFor(
      'jqHeld events executing and the delayed one held',
      () =>
        rule('held')?.executing === 2 && rule('held')?.inFlight === 5 && rule('low_traffic_jobs')?.held === 1,
    );
    await waitFor('the low-traffic events run and committed', async () => {
      const s = await kafkaStatus();
      return s.rules[1]?.lag === 0 && s.rules[1]?.retryLag === 1;
    });
    const live = await kafkaStatus();
    expect(live.runner).toMatchObject({
      reachable: true,
      url: `http://127.0.0.1:${config.status.runnerPort}/status`,
    });
    const own = rule('held');
    expect(live.rules[0]?.runner).toEqual({
      executing: own?.executing,
      waiting: own?.waiting,
      held: own?.held,
      inFlight: own?.inFlight,
      counters: own?.counters,
      waitingOnLiveClaim: 0,
      stages: own?.stages,
    });
    expect(own?.stages.events).toBe(0); // its two run into the gate and have not come back
    expect(live.rules[0]).toMatchObject({ lag: 5, runner: { executing: 2, waiting: 3, inFlight: 5 } });
    expect(live.rules[1]).toMatchObject({ runner: { held: 1 }, retryLag: 1 });
    // The two --dedupe events: the second is skipped when the first finished before it started.
    const lowCounters = live.rules[1]?.runner?.counters;
    expect(lowCounters?.delayed).toBe(1);
    expect((lowCounters?.ok ?? 0) + (lowCounters?.duplicates ?? 0)).toBe(6);

    const table = await jobqueue(['-c', conf, 'status']);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toBe(`Kafka ${broker.address}, datacenter jq, service jobrunner: 2 rules`);
    expect(lines[2]).toMatch(
      /^RULE\s+TOPICS\s+LAG\s+RETRY\/DELAYED\s+EXECUTING\s+WAITING\s+HELD\s+IN-FLIGHT\s+DEDUP-WAIT\s+MS SLOT\/REQUEST$/,
    );
    expect(lines[3]).toMatch(/^held\s+1\s+5\s+0\s+2\/2\s+3\s+0\s+5\s+0\s+-$/);
    expect(lines[4]).toMatch(
      /^low_traffic_jobs \(low traffic\)\s+3\s+0\s+1\s+0\/4\s+0\s+1\s+\d+\s+0\s+\d+\.\d\/\d+\.\d$/,
    );
    expect(table.stdout).toMatch(/\nheld\s+jq\.mediawiki\.job\.jqHeld\s+jobrunner-held\s+1\s+5\s+0\s+5\n/);
    expect(table.stdout).toContain(
      `Runner: http://127.0.0.1:${config.status.runnerPort}/status (running since `,
    );

    // Open the gate: the five finish, their offsets are committed, the lag goes to 0.
    releaseGate();
    await waitFor('the held rule caught up', async () => (await kafkaStatus()).rules[0]?.lag === 0);
    expect(rule('held')?.counters.ok).toBe(5);

    // /metrics of the same runner: outcomes, lag per rule and delay histograms by rule.
    const metrics = await (await fetch(`http://127.0.0.1:${config.status.runnerPort}/metrics`)).text();
    expect(metrics).toContain('jobrunner_kafka_events_total{rule="held",outcome="ok"} 5');
    const lowOk = Number(
      /jobrunner_kafka_events_total\{rule="low_traffic_jobs",outcome="ok"\} (\d+)/.exec(metrics)?.[1],
    );
    const lowDuplicates = Number(
      /jobrunner_kafka_events_total\{rule="low_traffic_jobs",outcome="duplicate"\} (\d+)/.exec(
        metrics,
      )?.[1] ?? 0,
    );
    expect(lowOk + lowDuplicates).toBe(6);
    expect(metrics).toContain('jobrunner_kafka_events_total{rule="low_traffic_jobs",outcome="delayed"} 1');
    expect(metrics).toContain('jobrunner_kafka_dequeued_total{rule="held",type="jqHeld",attempt="first"} 5');
    expect(metrics).toMatch(/jobrunner_kafka_delay_seconds_count\{rule="held",attempt="first"\} 5/);
    expect(metrics).toMatch(/jobrunner_kafka_exec_duration_seconds_count\{rule="held",attempt="first"\} 5/);
    expect(metrics).toMatch(/jobrunner_kafka_lag\{rule="held"\} \d+/);
    expect(metrics).toContain(
      'jobrunner_kafka_produced_total{stream="jobrunner_delayed_low_traffic_jobs"} 1',
    );
    expect(metrics).not.toContain('jobqueue_unmapped_metrics_total{');
  }, 120_000);

  it('refuses options that only mean something for Redis, and names an unreachable Kafka', async () => {
    const run = await jobqueue(['-c', conf, 'status', '--by-partition']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--by-partition is for the redis backend');
    const unreachable = writeConfig('unreachable-status.conf', {
      backend: 'kafka',
      redis: { aggregators: [redis.address], queues: [redis.address] },
      kafka: { brokers: [`127.0.0.1:${await freePort()}`], datacenter: 'jq', endpoint: executor.url },
    });
    const down = await jobqueue(['-c', unreachable, 'status']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^jobqueue: cannot list topics on Kafka brokers 127\.0\.0\.1:\d+: /);
    // inspect and friends stay Redis-only and say where the Kafka views are.
    const inspect = await jobqueue(['-c', conf, 'inspect', '--wiki', 'enwiki', '--type', 'jqHeld']);
    expect(inspect.code).toBe(2);
    expect(inspect.stderr).toContain('for backend kafka: jobqueue status, jobqueue push');
  });
});
