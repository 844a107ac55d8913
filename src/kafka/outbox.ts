// Produces jobrunner's own messages (retries, delayed events, error events, partitioned copies) in
// small batches. A failed produce is retried with back-off until it succeeds or the outbox closes,
// so the caller only marks its event finished (and lets its offset be committed) once the follow-up
// message is safely in Kafka. A refusal that retrying cannot cure (message too large, invalid
// record or topic) splits the batch so the other messages go through, and a single refused message
// goes to the local dead-letter file (logged, counted); then its caller moves on.
import { ProduceAcks, type Producer } from '@platformatic/kafka';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/statsd.js';
import type { DeadLetterFile } from './dead-letter.js';

/** Kafka error codes a retry cannot cure: the record or its topic is refused as such. */
const PERMANENT = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
]);

/** The Kafka error code (apiId) that makes this failure permanent, searching nested errors. */
export function permanentCause(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 5) return undefined;
  const e = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.apiId === 'string' && PERMANENT.has(e.apiId)) return e.apiId;
  const nested = [...(Array.isArray(e.errors) ? (e.errors as unknown[]) : []), e.cause];
  for (const inner of nested) {
    const found = permanentCause(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface OutgoingMessage {
  readonly topic: string;
  readonly value: Buffer;
  readonly partition?: number;
  readonly key?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Pending {
  readonly message: OutgoingMessage;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class OutboxClosedError extends Error {
  constructor() {
    super('the Kafka producer is closed');
    this.name = 'OutboxClosedError';
  }
}

export class Outbox {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = 0;
  private closed = false;
  private failures = 0;
  private deadLettered = 0;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly producer: Producer,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Topic prefix left out of metric names (the datacenter). */
    private readonly metricPrefix: string,
    private readonly deadLetter: DeadLetterFile,
    private readonly lingerMs = 2,
    private readonly maxBatch = 500,
  ) {}

  get pending(): number {
    return this.queue.length + this.sending;
  }

  /** Messages written to the dead-letter file since start. */
  get deadLetters(): number {
    return this.deadLettered;
  }

  send(message: OutgoingMessage): Promise<void> {
    if (this.closed) return Promise.reject(new OutboxClosedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    void this.sendBatch(batch);
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), this.lingerMs);
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    this.sending += batch.length;
    try {
      for (;;) {
        if (this.closed) {
          for (const item of batch) item.reject(new OutboxClosedError());
          return;
        }
        try {
          await this.producer.send({
            acks: ProduceAcks.ALL,
            messages: batch.map(({ message }) => ({
              topic: message.topic,
              value: message.value,
              ...(message.key ? { key: message.key } : {}),
              ...(message.partition !== undefined ? { partition: message.partition } : {}),
              // Without serializers every header key and value must be a Buffer.
              headers: new Map(
                Object.entries(message.headers ?? {}).map(([k, v]) => [
                  Buffer.from(k, 'utf8'),
                  Buffer.from(v, 'utf8'),
                ]),
              ),
            })),
          });
          if (this.failures > 0) this.logger.info('Kafka produce works again', { after: this.failures });
          this.failures = 0;
          for (const { message, resolve } of batch) {
            const stream = message.topic.startsWith(this.metricPrefix)
              ? message.topic.slice(this.metricPrefix.length)
              : message.topic;
            this.metrics.increment([
              `produce_${stream.replace(/\./g, '_')}`,
              String(message.partition ?? 'any'),
            ]);
            resolve();
          }
          return;
        } catch (error) {
          const permanent = permanentCause(error);
          if (permanent !== undefined) {
            // Retrying the same batch would fail forever: produce the others one by one.
            if (batch.length > 1) {
              await Promise.all(batch.map((item) => this.sendBatch([item])));
              return;
            }
            const [item] = batch as [Pending];
            if (await this.toDeadLetter(item, `${permanent}: ${errorText(error)}`)) return;
          }
          this.failures++;
          if (this.failures === 1 || this.failures % 10 === 0) {
            this.logger.warn('Kafka produce failed; retrying', {
              messages: batch.length,
              attempt: this.failures,
              error: error instanceof Error ? error.message : String(error),
            });
          }
          await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** Math.min(this.failures, 6), 5000)));
        }
      }
    } finally {
      this.sending -= batch.length;
      if (this.pending === 0) for (const done of this.idle.splice(0)) done();
    }
  }

  /** True when the message is safely in the dead-letter file (and its sender released). */
  private async toDeadLetter(item: Pending, reason: string): Promise<boolean> {
    const { message } = item;
    try {
      await this.deadLetter.write(message, reason);
    } catch (error) {
      this.logger.error('Kafka refused a message and the dead-letter file cannot be written; retrying', {
        topic: message.topic,
        file: this.deadLetter.path,
        error: errorText(error),
      });
      return false;
    }
    this.deadLettered++;
    this.metrics.increment(['kafka_dead_letter']);
    this.logger.error('Kafka refused a message for good; written to the dead-letter file', {
      topic: message.topic,
      partition: message.partition,
      bytes: message.value.length,
      source: message.headers?.['jobrunner-source'],
      reason,
      file: this.deadLetter.path,
    });
    item.resolve();
    return true;
  }

  /** Waits (up to timeoutMs) for queued messages, then fails whatever is left. */
  async close(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.closed = true;
    for (const item of this.queue.splice(0)) item.reject(new OutboxClosedError());
  }
}
