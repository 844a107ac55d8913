// Kafka metadata jobrunner needs: the topic list (to find job topics), creating its own topics,
// and consumer lag.
import { Admin, type Consumer } from '@platformatic/kafka';
import { KafkaSetupError } from './errors.js';

export class TopicAdmin {
  private readonly admin: Admin;

  constructor(
    brokers: readonly string[],
    clientId: string,
    private readonly brokersText = brokers.join(', '),
  ) {
    this.admin = new Admin({ clientId, bootstrapBrokers: [...brokers], retries: 2, retryDelay: 500 });
  }

  async listTopics(): Promise<string[]> {
    return this.admin.listTopics({ includeInternals: false });
  }

  /** Creates the topics that are missing (with `partitions` each); returns the created names. */
  async ensureTopics(
    wanted: readonly { topic: string; partitions: number }[],
    create: boolean,
  ): Promise<string[]> {
    const existing = new Set(await this.listTopics());
    const missing = wanted.filter(({ topic }) => !existing.has(topic));
    if (missing.length === 0) return [];
    if (!create) {
      throw new KafkaSetupError(
        `Kafka topics missing on ${this.brokersText}: ${missing.map((m) => m.topic).join(', ')} (create them, or set kafka.createTopics to true)`,
      );
    }
    const byCount = new Map<number, string[]>();
    for (const { topic, partitions } of missing)
      byCount.set(partitions, [...(byCount.get(partitions) ?? []), topic]);
    for (const [partitions, topics] of byCount) {
      try {
        await this.admin.createTopics({ topics, partitions, replicas: -1 });
      } catch (error) {
        // Another runner may have created them at the same moment.
        const now = new Set(await this.listTopics());
        if (topics.some((t) => !now.has(t))) throw error;
      }
    }
    return missing.map((m) => m.topic);
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}

/**
 * Lag per topic of a consumer: high watermark minus the group's committed offset, summed over the
 * partitions assigned to it (a partition with nothing committed yet counts from offset 0).
 */
export async function consumerLag(consumer: Consumer): Promise<Record<string, number>> {
  const assignments = consumer.assignments ?? [];
  if (assignments.length === 0) return {};
  const topics = assignments.map((a) => a.topic);
  const [ends, committed] = await Promise.all([
    consumer.listOffsets({ topics }),
    consumer.listCommittedOffsets({ topics: assignments }),
  ]);
  const lag: Record<string, number> = {};
  for (const { topic, partitions } of assignments) {
    const end = ends.get(topic) ?? [];
    const done = committed.get(topic) ?? [];
    let total = 0;
    for (const partition of partitions) {
      const high = end[partition] ?? 0n;
      const at = done[partition] ?? -1n;
      const behind = high - (at >= 0n ? at : 0n);
      total += Number(behind > 0n ? behind : 0n);
    }
    lag[topic] = (lag[topic] ?? 0) + total;
  }
  return lag;
}
