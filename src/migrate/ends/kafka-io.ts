// The Kafka operations a migration needs, over @platformatic/kafka (the client the Kafka backend
// uses): topic offsets, consumer-group offsets (read and move), reading exact offset ranges without
// disturbing any real consumer group, and producing.
import { randomBytes } from 'node:crypto';
import { Admin, Consumer, Producer, ProduceAcks } from '@platformatic/kafka';

export interface KafkaRecordAt {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly value: Buffer;
  readonly headers: ReadonlyMap<string, string>;
}

export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  /** First offset to read. */
  readonly from: bigint;
  /** One past the last offset to read. */
  readonly to: bigint;
}

/** topic → offset per partition index. */
export type TopicOffsets = Map<string, bigint[]>;

const EARLIEST = -2n;

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

export class KafkaIo {
  private readonly admin: Admin;
  private producer: Producer | null = null;
  private offsetsClient: Consumer | null = null;

  constructor(
    readonly brokers: readonly string[],
    readonly clientId: string,
  ) {
    this.admin = new Admin({
      clientId: `${clientId}-admin`,
      bootstrapBrokers: [...brokers],
      retries: 2,
      retryDelay: 500,
    });
  }

  async listTopics(): Promise<string[]> {
    return this.admin.listTopics({ includeInternals: false });
  }

  private offsets(): Consumer {
    this.offsetsClient ??= new Consumer({
      clientId: `${this.clientId}-offsets`,
      groupId: `${this.clientId}-offsets-${randomBytes(6).toString('hex')}`,
      bootstrapBrokers: [...this.brokers],
      retries: 2,
      retryDelay: 500,
    });
    return this.offsetsClient;
  }

  /** High watermarks (next offset to be written) of existing topics. */
  async endOffsets(topics: readonly string[]): Promise<TopicOffsets> {
    if (topics.length === 0) return new Map();
    return this.offsets().listOffsets({ topics: [...topics] });
  }

  /** Log start offsets. */
  async startOffsets(topics: readonly string[]): Promise<TopicOffsets> {
    if (topics.length === 0) return new Map();
    return this.offsets().listOffsets({ topics: [...topics], timestamp: EARLIEST });
  }

  /** A group's committed offsets (-1 = nothing committed) for the given topics. */
  async committed(groupId: string, topics: readonly string[]): Promise<Map<string, Map<number, bigint>>> {
    const out = new Map<string, Map<number, bigint>>();
    if (topics.length === 0) return out;
    const ends = await this.endOffsets(topics);
    const [group] = await this.admin.listConsumerGroupOffsets({
      groups: [
        {
          groupId,
          topics: topics.map((name) => ({ name, partitionIndexes: (ends.get(name) ?? []).map((_, i) => i) })),
        },
      ],
    });
    for (const topic of group?.topics ?? []) {
      const map = new Map<number, bigint>();
      for (const p of topic.partitions) map.set(p.partitionIndex, p.committedOffset);
      out.set(topic.name, map);
    }
    return out;
  }

  /** Members per group (a group with members is being consumed right now). */
  async groupMembers(groupIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (groupIds.length === 0) return out;
    const groups = await this.admin.describeGroups({ groups: [...groupIds] });
    for (const [id, group] of groups) out.set(id, group.members.size);
    return out;
  }

  /** Moves a group's committed offsets (the group must have no members). */
  async commit(groupId: string, topic: string, offsets: ReadonlyMap<number, bigint>): Promise<void> {
    if (offsets.size === 0) return;
    await this.admin.alterConsumerGroupOffsets({
      groupId,
      topics: [
        { name: topic, partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset })) },
      ],
    });
  }

  /**
   * Reads exactly the given ranges, through a throwaway consumer group (deleted afterwards) so no
   * real group's offsets move.
   */
  async read(ranges: readonly OffsetRange[], timeoutMs = 120_000): Promise<KafkaRecordAt[]> {
    const wanted = ranges.filter((r) => r.to > r.from);
    if (wanted.length === 0) return [];
    const groupId = `${this.clientId}-read-${randomBytes(6).toString('hex')}`;
    const consumer = new Consumer({
      clientId: `${this.clientId}-read`,
      groupId,
      bootstrapBrokers: [...this.brokers],
      autocommit: false,
      maxWaitTime: 200,
      retries: 2,
      retryDelay: 500,
    });
    const topics = [...new Set(wanted.map((r) => r.topic))];
    const ends = await this.endOffsets(topics);
    // Every partition of the topics gets a start offset: its range start, or its end (nothing to read).
    const remaining = new Map<string, bigint>();
    const offsets: { topic: string; partition: number; offset: bigint }[] = [];
    for (const topic of topics) {
      (ends.get(topic) ?? []).forEach((end, partition) => {
        const range = wanted.find((r) => r.topic === topic && r.partition === partition);
        offsets.push({ topic, partition, offset: range ? range.from : end });
        if (range) remaining.set(`${topic}:${partition}`, range.to);
      });
    }
    const records: KafkaRecordAt[] = [];
    const deadline = Date.now() + timeoutMs;
    try {
      const stream = await consumer.consume({ topics, mode: 'manual', offsets, autocommit: false });
      const timer = setInterval(() => {
        if (Date.now() > deadline) void stream.close();
      }, 500);
      try {
        for await (const message of stream) {
          const key = `${message.topic}:${message.partition}`;
          const to = remaining.get(key);
          if (to !== undefined && message.offset < to) {
            const headers = new Map<string, string>();
            for (const [k, v] of message.headers) headers.set(text(k), text(v));
            records.push({
              topic: message.topic,
              partition: message.partition,
              offset: message.offset,
              value: Buffer.isBuffer(message.value) ? message.value : Buffer.from(text(message.value)),
              headers,
            });
            if (message.offset + 1n >= to) remaining.delete(key);
          }
          if (remaining.size === 0) break;
        }
      } finally {
        clearInterval(timer);
        await Promise.resolve(stream.close()).catch(() => undefined);
      }
      if (remaining.size > 0) {
        throw new Error(
          `could not read Kafka ranges within ${Math.round(timeoutMs / 1000)} s: ${[...remaining.keys()].join(', ')}`,
        );
      }
    } finally {
      await Promise.resolve(consumer.close(true) as unknown).catch(() => undefined);
      await this.admin.deleteGroups({ groups: [groupId] }).catch(() => undefined);
    }
    return records;
  }

  /** Produces values to one topic (acks=all), creating it like EventGate's Kafka would. */
  async produce(topic: string, values: readonly Buffer[]): Promise<void> {
    if (values.length === 0) return;
    this.producer ??= new Producer({
      clientId: `${this.clientId}-producer`,
      bootstrapBrokers: [...this.brokers],
      autocreateTopics: true,
      acks: ProduceAcks.ALL,
      retries: 3,
      retryDelay: 500,
    });
    await this.producer.send({ messages: values.map((value) => ({ topic, value })) });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.admin.close(), this.producer?.close(), this.offsetsClient?.close()]);
  }
}
