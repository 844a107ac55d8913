// One Kafka consumer (a group member) feeding a handler: out-of-order completion with in-order
// commits, back-pressure by pausing the stream, and recovery from broker failures by building a new
// consumer. Offsets already delivered survive a reconnect, so events in flight are not run twice
// when the new consumer fetches them again. A partition that moves to another group member in a
// rebalance is let go: messages of it still arriving are dropped, its offsets are no longer
// committed here, and each message carries its partition's lease, so the handler gives up events
// of it that have not started running (the new owner reads them from the committed offset).
import { Consumer, type Message } from '@platformatic/kafka';
import type { Logger } from '../observability/logger.js';
import type { PartitionLease } from './lease.js';
import { OffsetBook, type Assignment } from './offsets.js';

export type { PartitionLease } from './lease.js';

export interface LaneMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly value: Buffer | undefined;
  readonly headers: ReadonlyMap<string, string>;
  /** Lost once the partition moved to another group member (see LaneOptions.onPartitionsLost). */
  readonly lease: PartitionLease;
}

/** Resolves once the message may be committed. Must not reject. */
export type LaneHandler = (message: LaneMessage) => Promise<void>;

export interface LaneOptions {
  /** For logs and stats, e.g. "refreshLinks/main". */
  readonly name: string;
  readonly groupId: string;
  readonly clientId: string;
  /** Static group membership ID (a restarted runner gets its partitions back at once). */
  readonly instanceId: string | undefined;
  readonly brokers: readonly string[];
  readonly startFrom: 'earliest' | 'latest';
  readonly sessionTimeoutMs: number;
  readonly commitIntervalMs: number;
  readonly maxMessageBytes: number;
  /** Delivered but unfinished messages at which fetching pauses. */
  readonly maxOutstanding: number;
  readonly handler: LaneHandler;
  /**
   * Called after a rebalance took partitions away from this consumer (their leases are lost now):
   * the handler's events of them that wait (for a slot) should be given up.
   */
  readonly onPartitionsLost?: () => void;
  readonly logger: Logger;
}

export interface LaneStats {
  readonly name: string;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly connected: boolean;
  readonly paused: boolean;
  readonly outstanding: number;
  readonly reconnects: number;
}

type Stream = Awaited<ReturnType<Consumer['consume']>>;

/** The headers of a message without any (most job events): one shared, read-only map. */
const NO_HEADERS: ReadonlyMap<string, string> = new Map();

/** How soon after a range of a partition completes its offset is committed (at most). */
const PROMPT_COMMIT_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Leaves the group without waiting for a clean shutdown; errors are of no interest here. */
function closeConsumer(consumer: Consumer): Promise<void> {
  return new Promise((resolve) => consumer.close(true, () => resolve()));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ConsumerLane {
  private topics: string[] = [];
  private consumer: Consumer | undefined;
  private stream: Stream | undefined;
  private readonly book = new OffsetBook();
  private outstanding = 0;
  private paused = false;
  private stopping = false;
  private started = false;
  private connecting: Promise<void> | undefined;
  private reconnectWanted = false;
  private failures = 0;
  private reconnects = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private commitChain: Promise<void> = Promise.resolve();
  /** A periodic commit is queued or running (the timer skips a tick instead of piling up). */
  private commitPending = false;
  private commitSoonTimer: NodeJS.Timeout | undefined;
  private readonly drained: (() => void)[] = [];
  private readonly log: Logger;

  constructor(private readonly options: LaneOptions) {
    this.log = options.logger.child({ lane: options.name, group: options.groupId });
  }

  get name(): string {
    return this.options.name;
  }

  get currentTopics(): readonly string[] {
    return this.topics;
  }

  get connectedConsumer(): Consumer | undefined {
    return this.stream !== undefined ? this.consumer : undefined;
  }

  /** Subscribes to exactly these topics (a change means a new consumer and a group rejoin). */
  setTopics(topics: readonly string[]): void {
    const next = [...new Set(topics)].sort();
    if (next.length === this.topics.length && next.every((t, i) => t === this.topics[i])) return;
    this.topics = next;
    this.log.info('Kafka consumer topics', { topics: next });
    this.requestReconnect(false);
  }

  start(): void {
    this.started = true;
    this.commitTimer = setInterval(() => void this.commit(), this.options.commitIntervalMs);
    this.commitTimer.unref();
    this.requestReconnect(false);
  }

  stats(): LaneStats {
    return {
      name: this.options.name,
      groupId: this.options.groupId,
      topics: this.topics,
      connected: this.stream !== undefined,
      paused: this.paused,
      outstanding: this.outstanding,
      reconnects: this.reconnects,
    };
  }

  private requestReconnect(afterFailure: boolean): void {
    if (this.stopping || !this.started) return;
    this.reconnectWanted = true;
    if (this.connecting) return;
    this.connecting = this.reconnectLoop(afterFailure).finally(() => {
      this.connecting = undefined;
    });
  }

  private async reconnectLoop(afterFailure: boolean): Promise<void> {
    let failed = afterFailure;
    while (this.reconnectWanted && !this.stopping) {
      this.reconnectWanted = false;
      await this.disconnect();
      if (failed) {
        this.failures++;
        await sleep(Math.min(250 * 2 ** Math.min(this.failures, 6), 10_000));
        if (this.stopping) return;
      }
      if (this.topics.length === 0) return;
      try {
        await this.connect();
        if (this.failures > 0) this.log.info('Kafka consumer connected again', { failures: this.failures });
        this.failures = 0;
        failed = false;
      } catch (error) {
        if (this.failures === 0 || this.failures % 10 === 0) {
          this.log.warn('Kafka consumer cannot connect; retrying', { error: errorText(error) });
        }
        this.reconnectWanted = true;
        failed = true;
      }
    }
  }

  private async connect(): Promise<void> {
    const o = this.options;
    const consumer = new Consumer({
      clientId: o.clientId,
      groupId: o.groupId,
      bootstrapBrokers: [...o.brokers],
      ...(o.instanceId !== undefined ? { groupInstanceId: o.instanceId } : {}),
      sessionTimeout: o.sessionTimeoutMs,
      rebalanceTimeout: o.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(o.sessionTimeoutMs / 3)),
      autocommit: false,
      maxBytes: o.maxMessageBytes,
      maxBytesPerPartition: o.maxMessageBytes,
      maxWaitTime: 500,
      retries: 2,
      retryDelay: 500,
      // The client's request timeout (5 s by default) must outlast a JoinGroup/SyncGroup, which the
      // broker holds for up to the rebalance timeout while the group's members rejoin; a shorter
      // one makes a slow rebalance time out and start over, again and again on a loaded machine.
      timeout: o.sessionTimeoutMs + 5000,
      highWaterMark: Math.max(16, Math.min(1024, o.maxOutstanding)),
    });
    consumer.on('error', (error: Error) => this.log.warn('Kafka consumer error', { error: error.message }));
    // Every (re)join of the group, also the rejoins the client makes by itself after a rebalance.
    consumer.on('consumer:group:join', (joined: { assignments?: readonly Assignment[] | null }) => {
      if (this.consumer === consumer) this.reassign(joined.assignments ?? []);
    });
    this.consumer = consumer;
    const topics = [...this.topics];
    let stream: Stream;
    try {
      stream = await consumer.consume({
        topics,
        mode: 'committed',
        fallbackMode: o.startFrom,
        autocommit: false,
      });
    } catch (error) {
      await closeConsumer(consumer);
      this.consumer = undefined;
      throw error;
    }
    this.reassign(consumer.assignments ?? []);
    this.stream = stream;
    this.paused = false;
    stream.on('data', (message: Message) => this.onMessage(message));
    stream.on('error', (error: Error) => {
      if (this.stream !== stream || this.stopping) return;
      this.log.warn('Kafka consumer stream failed; reconnecting', { error: error.message });
      this.reconnects++;
      this.stream = undefined;
      this.requestReconnect(true);
    });
    stream.on('close', () => {
      if (this.stream !== stream || this.stopping) return;
      this.reconnects++;
      this.stream = undefined;
      this.requestReconnect(true);
    });
    if (this.outstanding >= o.maxOutstanding) this.pause();
    this.log.info('Kafka consumer joined', { topics, assignments: consumer.assignments });
  }

  private async disconnect(): Promise<void> {
    const stream = this.stream;
    const consumer = this.consumer;
    this.stream = undefined;
    this.consumer = undefined;
    if (consumer !== undefined && stream !== undefined) await this.commitWith(consumer);
    if (stream !== undefined) await stream.close().catch(() => undefined);
    if (consumer !== undefined) await closeConsumer(consumer);
  }

  /** Follows the consumer's assignment; lets go of partitions that moved to another member. */
  private reassign(assignments: readonly Assignment[]): void {
    const lost = this.book.reassign(assignments, this.options.startFrom === 'latest');
    if (lost.length === 0) return;
    this.log.info('Kafka partitions moved to another consumer; their events not yet running are given up', {
      partitions: lost,
    });
    this.options.onPartitionsLost?.();
  }

  private onMessage(message: Message): void {
    const offsets = this.book.owned(message.topic, message.partition);
    // Fetched before the partition moved to another member (which reads it from the committed offset).
    if (offsets === undefined) return;
    const accepted = offsets.accept(message.offset);
    if (accepted === 'seen') return;
    if (accepted === 'reset') {
      this.log.warn('Offsets went back below the committed offset; treating the partition as new', {
        topic: message.topic,
        partition: message.partition,
        offset: String(message.offset),
      });
    }
    let headers: ReadonlyMap<string, string> = NO_HEADERS;
    if (message.headers.size > 0) {
      const map = new Map<string, string>();
      for (const [key, value] of message.headers) {
        if (key !== undefined) map.set(String(key), value === undefined ? '' : value.toString('utf8'));
      }
      headers = map;
    }
    this.outstanding++;
    if (this.outstanding >= this.options.maxOutstanding) this.pause();
    const done = (): void => {
      // A lost partition's offsets are the new owner's to commit.
      if (!offsets.lost) {
        offsets.finish(message.offset);
        if (offsets.commitDue() !== undefined) this.commitSoon();
      }
      this.outstanding--;
      if (this.paused && this.outstanding <= Math.floor(this.options.maxOutstanding * 0.75)) this.resume();
      if (this.outstanding === 0) for (const notify of this.drained.splice(0)) notify();
    };
    this.options
      .handler({
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        value: message.value,
        headers,
        lease: offsets,
      })
      .then(done, (error: unknown) => {
        // Handlers do not reject; if one does, the offset stays uncommitted (re-read after restart).
        this.log.error('Event handler failed; its offset will not be committed', {
          topic: message.topic,
          partition: message.partition,
          offset: String(message.offset),
          error: errorText(error),
        });
        this.outstanding--;
      });
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.stream?.pause();
  }

  private resume(): void {
    if (!this.paused || this.stopping) return;
    this.paused = false;
    this.stream?.resume();
  }

  /**
   * A completed range is committed within PROMPT_COMMIT_MS instead of waiting for the next tick of
   * commitIntervalMs, so a crash re-reads as little as possible; at most one commit is scheduled or
   * running at a time, which bounds the commit rate per lane.
   */
  private commitSoon(): void {
    if (this.commitSoonTimer !== undefined || this.commitPending || this.stopping) return;
    this.commitSoonTimer = setTimeout(
      () => {
        this.commitSoonTimer = undefined;
        void this.commit();
      },
      Math.min(PROMPT_COMMIT_MS, this.options.commitIntervalMs),
    );
    this.commitSoonTimer.unref();
  }

  private async commit(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined || this.stream === undefined || this.commitPending) return;
    this.commitPending = true;
    try {
      await this.commitWith(consumer);
    } finally {
      this.commitPending = false;
    }
  }

  /** Commits run one after another; a commit asked for while one runs follows it (final commits). */
  private commitWith(consumer: Consumer): Promise<void> {
    const next = this.commitChain.then(() => this.commitNow(consumer));
    this.commitChain = next.catch(() => undefined);
    return next;
  }

  private async commitNow(consumer: Consumer): Promise<void> {
    const assigned = new Set<string>();
    for (const { topic, partitions } of consumer.assignments ?? []) {
      for (const partition of partitions) assigned.add(`${topic}:${partition}`);
    }
    const due: { topic: string; partition: number; offset: bigint }[] = [];
    for (const { topic, partition, offsets } of this.book.entries()) {
      const offset = offsets.commitDue();
      if (offset !== undefined && assigned.has(`${topic}:${partition}`))
        due.push({ topic, partition, offset });
    }
    if (due.length === 0) return;
    try {
      await consumer.commit({ offsets: due.map((d) => ({ ...d, leaderEpoch: -1 })) });
      for (const { topic, partition, offset } of due) {
        const offsets = this.book.owned(topic, partition);
        if (offsets === undefined) continue;
        if (offsets.committed === undefined || offset > offsets.committed) offsets.committed = offset;
      }
    } catch (error) {
      this.log.warn('Offset commit failed; will retry', { error: errorText(error), partitions: due.length });
    }
  }

  /** Stops fetching, waits up to drainMs for outstanding messages, commits, leaves the group. */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    this.stream?.pause();
    if (this.outstanding > 0 && drainMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.commitTimer) clearInterval(this.commitTimer);
    if (this.commitSoonTimer) clearTimeout(this.commitSoonTimer);
    this.commitSoonTimer = undefined;
    await this.connecting?.catch(() => undefined);
    if (this.consumer !== undefined) await this.commitWith(this.consumer);
    const stream = this.stream;
    const consumer = this.consumer;
    this.stream = undefined;
    this.consumer = undefined;
    await stream?.close().catch(() => undefined);
    await (consumer ? closeConsumer(consumer) : undefined);
  }
}
