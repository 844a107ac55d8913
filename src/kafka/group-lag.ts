// Consumer lag read from Kafka alone (no runner needed): per (consumer group, topic) the end offsets
// of every partition against the group's committed offsets. This is what `jobqueue status` shows
// for backend kafka; the runner's own stats() measure lag only for partitions it holds.
import { Admin, ListOffsetTimestamps } from '@platformatic/kafka';

export interface LagRequest {
  readonly groupId: string;
  readonly topics: readonly string[];
}

export interface TopicLag {
  readonly groupId: string;
  readonly topic: string;
  /** False when the topic does not exist (yet): nothing to consume, lag 0. */
  readonly exists: boolean;
  readonly partitions: number;
  /** Sum over partitions of the next offset to be written (high watermark). */
  readonly endOffset: number;
  /** Sum over partitions of the position the group resumes from (see `lagOfPartition`). */
  readonly position: number;
  /** Partitions on which the group has committed an offset. */
  readonly committedPartitions: number;
  readonly lag: number;
}

export interface PartitionOffsets {
  /** Log start (earliest offset still stored). */
  readonly start: bigint;
  /** High watermark. */
  readonly end: bigint;
  /** The group's committed offset; -1 when it has none. */
  readonly committed: bigint;
}

/**
 * Where the group resumes on one partition and how far behind the end that is. Without a committed
 * offset (or one below the log start, already deleted) the consumer starts where `startFrom` says.
 */
export function lagOfPartition(
  offsets: PartitionOffsets,
  startFrom: 'earliest' | 'latest',
): { position: bigint; lag: bigint } {
  let position: bigint;
  if (offsets.committed >= 0n && offsets.committed >= offsets.start) position = offsets.committed;
  else position = startFrom === 'earliest' ? offsets.start : offsets.end;
  if (position > offsets.end) position = offsets.end;
  return { position, lag: offsets.end - position };
}

export interface LagReaderOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly startFrom: 'earliest' | 'latest';
  /** Connect and request timeout (ms); an operator tool should not hang. */
  readonly timeoutMs?: number;
}

/** Offsets per partition of `topics` at `timestamp` (LATEST or EARLIEST). */
async function offsetsAt(
  admin: Admin,
  topics: ReadonlyMap<string, number>,
  timestamp: bigint,
): Promise<Map<string, bigint[]>> {
  const result = new Map<string, bigint[]>();
  if (topics.size === 0) return result;
  const listed = await admin.listOffsets({
    topics: [...topics].map(([name, count]) => ({
      name,
      partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })),
    })),
  });
  for (const topic of listed) {
    const offsets = new Array<bigint>(topics.get(topic.name) ?? 0).fill(0n);
    for (const p of topic.partitions) offsets[p.partitionIndex] = p.offset;
    result.set(topic.name, offsets);
  }
  return result;
}

/** One admin connection for an operator's look at the cluster; close() when done. */
export class GroupLagReader {
  private readonly admin: Admin;

  constructor(private readonly options: LagReaderOptions) {
    const timeout = options.timeoutMs ?? 5000;
    this.admin = new Admin({
      clientId: options.clientId,
      bootstrapBrokers: [...options.brokers],
      connectTimeout: timeout,
      timeout,
      retries: 1,
      retryDelay: 300,
    });
  }

  listTopics(): Promise<string[]> {
    return this.admin.listTopics({ includeInternals: false });
  }

  /** End, start and committed offsets for every request; throws when Kafka cannot be asked. */
  async read(requests: readonly LagRequest[]): Promise<TopicLag[]> {
    const admin = this.admin;
    const options = this.options;
    const existing = new Set(await this.listTopics());
    const wanted = [...new Set(requests.flatMap((r) => r.topics))].filter((t) => existing.has(t));
    const partitionCounts = new Map<string, number>();
    if (wanted.length > 0) {
      const metadata = await admin.metadata({ topics: wanted, autocreateTopics: false });
      for (const topic of wanted) {
        partitionCounts.set(topic, metadata.topics.get(topic)?.partitionsCount ?? 0);
      }
    }
    const [ends, starts] = await Promise.all([
      offsetsAt(admin, partitionCounts, ListOffsetTimestamps.LATEST),
      offsetsAt(admin, partitionCounts, ListOffsetTimestamps.EARLIEST),
    ]);
    const groups = requests
      .map((r) => ({
        groupId: r.groupId,
        topics: r.topics
          .filter((t) => partitionCounts.has(t))
          .map((name) => ({
            name,
            partitionIndexes: Array.from({ length: partitionCounts.get(name) ?? 0 }, (_, i) => i),
          })),
      }))
      .filter((g) => g.topics.length > 0);
    const committed = new Map<string, Map<string, bigint[]>>();
    if (groups.length > 0) {
      for (const group of await admin.listConsumerGroupOffsets({ groups })) {
        const byTopic = new Map<string, bigint[]>();
        for (const topic of group.topics) {
          const offsets: bigint[] = [];
          for (const p of topic.partitions) offsets[p.partitionIndex] = p.committedOffset;
          byTopic.set(topic.name, offsets);
        }
        committed.set(group.groupId, byTopic);
      }
    }
    return requests.flatMap((request) =>
      request.topics.map((topic): TopicLag => {
        const count = partitionCounts.get(topic);
        if (count === undefined) {
          return {
            groupId: request.groupId,
            topic,
            exists: false,
            partitions: 0,
            endOffset: 0,
            position: 0,
            committedPartitions: 0,
            lag: 0,
          };
        }
        let endOffset = 0n;
        let position = 0n;
        let lag = 0n;
        let committedPartitions = 0;
        for (let p = 0; p < count; p++) {
          const offsets = {
            start: starts.get(topic)?.[p] ?? 0n,
            end: ends.get(topic)?.[p] ?? 0n,
            committed: committed.get(request.groupId)?.get(topic)?.[p] ?? -1n,
          };
          if (offsets.committed >= 0n) committedPartitions++;
          const one = lagOfPartition(offsets, options.startFrom);
          endOffset += offsets.end;
          position += one.position;
          lag += one.lag;
        }
        return {
          groupId: request.groupId,
          topic,
          exists: true,
          partitions: count,
          endOffset: Number(endOffset),
          position: Number(position),
          committedPartitions,
          lag: Number(lag),
        };
      }),
    );
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}
