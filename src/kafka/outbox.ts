// Produces jobrunner's own messages (retries, delayed events, error events, partitioned copies) in
// small batches. A failed produce is retried with back-off until it succeeds or the outbox closes,
// so the caller only marks its event finished (and lets its offset be committed) once the follow-up
// message is safely in Kafka.
import { ProduceAcks, type Producer } from '@platformatic/kafka';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/statsd.js';

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
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly producer: Producer,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Topic prefix left out of metric names (the datacenter). */
    private readonly metricPrefix: string,
    private readonly lingerMs = 2,
    private readonly maxBatch = 500,
  ) {}

  get pending(): number {
    return this.queue.length + this.sending;
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
