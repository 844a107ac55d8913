// Shared pieces of the Kafka integration tests: a local HTTP executor standing in for RunSingleJob,
// configs built through the real config loader, and raw produce/consume helpers.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Consumer, Producer, ProduceAcks } from '@platformatic/kafka';
import { parseConfigText } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { freePort } from '../../src/farm/free-port.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface ExecutorRequest {
  readonly body: Buffer;
  readonly id: string;
  readonly type: string;
  readonly headers: IncomingHttpHeaders;
  readonly at: number;
}

export interface ExecutorReply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface TestExecutor {
  readonly url: string;
  readonly requests: ExecutorRequest[];
  /** meta.id → number of requests */
  readonly counts: Map<string, number>;
  /** May return a promise: the response waits for it. */
  reply: (request: ExecutorRequest) => ExecutorReply | Promise<ExecutorReply>;
  close(): Promise<void>;
}

/** An HTTP server that records every event POSTed to it and answers with `reply` (200 by default). */
export async function startTestExecutor(): Promise<TestExecutor> {
  const port = await freePort();
  const requests: ExecutorRequest[] = [];
  const counts = new Map<string, number>();
  const executor: TestExecutor = {
    url: `http://127.0.0.1:${port}/rpc/RunSingleJob.php`,
    requests,
    counts,
    reply: () => ({ status: 200 }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let id = '';
      let type = '';
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { meta?: { id?: string }; type?: string };
        id = parsed.meta?.id ?? '';
        type = parsed.type ?? '';
      } catch {
        // recorded with an empty id
      }
      const request = { body, id, type, headers: req.headers, at: Date.now() };
      requests.push(request);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      void Promise.resolve(executor.reply(request)).then((answer) => {
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...(answer.headers ?? {}) });
        res.end(answer.body ?? '');
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return executor;
}

/** A jobrunner.conf with backend kafka, read through the real loader. `kafka` is merged in. */
export function kafkaConfig(
  kafka: Record<string, unknown>,
  redisAddress: string,
  extra: Record<string, unknown> = {},
): JobrunnerConfig {
  const text = JSON.stringify(
    {
      backend: 'kafka',
      redis: { aggregators: [redisAddress], queues: [redisAddress] },
      runner: { drainTimeoutSeconds: 10 },
      ...extra,
      kafka: {
        commitIntervalMs: 100,
        topicRefreshMs: 500,
        lagIntervalMs: 500,
        sessionTimeoutMs: 10000,
        ...kafka,
      },
    },
    null,
    2,
  );
  return parseConfigText(text, 'kafka-test.conf');
}

export function quietLogger(): Logger {
  const level = process.env.JOBRUNNER_TEST_LOG === '1' ? 'debug' : 'error';
  return createLogger({ service: 'jobrunner-test', level });
}

export async function produceRaw(
  brokers: readonly string[],
  messages: { topic: string; value: Buffer; partition?: number }[],
): Promise<void> {
  const producer = new Producer({
    clientId: 'test-producer',
    bootstrapBrokers: [...brokers],
    autocreateTopics: true,
  });
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ acks: ProduceAcks.ALL, messages: messages.slice(i, i + 500) });
    }
  } finally {
    await producer.close();
  }
}

export interface ConsumedMessage {
  readonly value: Buffer;
  readonly headers: Map<string, string>;
  readonly partition: number;
  readonly offset: bigint;
}

/** Reads a topic from the beginning until `until(messages)` holds (or timeoutMs passes). */
export async function readTopic(
  brokers: readonly string[],
  topic: string,
  until: (messages: ConsumedMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<ConsumedMessage[]> {
  const consumer = new Consumer({
    clientId: 'test-reader',
    groupId: `test-reader-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    bootstrapBrokers: [...brokers],
    maxWaitTime: 200,
  });
  const messages: ConsumedMessage[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      if (until(messages)) {
        clearTimeout(timer);
        resolve();
      }
      stream.on('data', (m) => {
        const headers = new Map<string, string>();
        for (const [k, v] of m.headers) headers.set(String(k), v === undefined ? '' : v.toString('utf8'));
        messages.push({
          value: m.value ?? Buffer.alloc(0),
          headers,
          partition: m.partition,
          offset: m.offset,
        });
        if (until(messages)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
  } finally {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
  return messages;
}

/** Polls `check` every 25 ms until it returns true; fails with `what` after timeoutMs. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Polls `check` every 25 ms until it returns true. Fails with `what` once `progress()` (a counter
 * that grows while work gets done) has not moved for `stallMs`: on a loaded machine a slow run is
 * not a failure, a stopped one is.
 */
export async function waitWhileProgressing(
  what: string,
  check: () => boolean,
  progress: () => number,
  stallMs: number,
): Promise<void> {
  let last = progress();
  let movedAt = Date.now();
  while (!check()) {
    const now = progress();
    if (now !== last) {
      last = now;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`no progress for ${Math.round(stallMs / 1000)} s waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
