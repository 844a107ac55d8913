// The Kafka end: mediawiki/job events in <dc>.mediawiki.job.<type> topics, consumed by jobrunner's
// Kafka backend (src/kafka).
//
// As a target, events are produced as EventGate would write them. Before the first write to a
// topic the topic's end offsets are checkpointed; a resumed run reads from there to find the events
// the interrupted run already produced (by meta.id) and does not produce them again, and
// verification reads the same range back.
//
// As a source, the pending events are what the Kafka runner has not finished: for every rule, each
// topic it consumes from its consumer group's committed offset (or from where kafka.startFrom would
// start a group without one) to the end: job topics, partitioned topics, and the rule's retry and
// delayed topics (their messages carry the original event bytes). The runner must be stopped.
// "Deleting" means moving the groups' committed offsets past migrated events, which is possible only
// up to the first event that stays (not migrated, not verified) on each partition.
import { createHash } from 'node:crypto';
import type { JobrunnerConfig, KafkaConfig } from '../../config/types.js';
import { HEADER_ATTEMPT } from '../../kafka/follow-up.js';
import { ruleConsumers } from '../../kafka/rule-consumers.js';
import { assignJobTopics } from '../../kafka/rule-topics.js';
import { jobTopic, type TopicNaming } from '../../kafka/topics.js';
import type { CheckpointState, CheckpointWriter } from '../checkpoint.js';
import { eventToJob, jobToEvent } from '../convert/job-event.js';
import { CorruptJobError, idFromEventId, queueKey, type MigratedJob } from '../job.js';
import { KafkaIo, type KafkaRecordAt, type OffsetRange } from './kafka-io.js';
import type {
  DeleteResult,
  MigrationFilter,
  MigrationSource,
  MigrationTarget,
  PreflightProblem,
  ReadBack,
  SourceQueue,
  SourceRecord,
  WriteResult,
} from './types.js';

export const KAFKA_BATCH = 1000;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export interface KafkaEndOptions {
  readonly runId: string;
  /** As a source the runner must be stopped (its offsets are moved); as a target it may run. */
  readonly role: 'source' | 'target';
  readonly now?: () => number;
  /** $wgSecretKey: events get mediawiki_signature. */
  readonly secretKey?: string;
  readonly batchSize?: number;
}

/** One consumer group reading one topic. */
interface GroupTopic {
  readonly group: string;
  readonly topic: string;
}

/** A pending source event and where it sits. */
interface PendingEvent {
  readonly at: KafkaRecordAt;
  readonly group: string;
  readonly record: SourceRecord;
  /** The job ID, when the event could be read. */
  readonly id: string | null;
}

function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** The job ID of an event (its meta.id), or null for bytes that are not a job event. */
function eventIdOf(bytes: Buffer): string | null {
  try {
    const meta = (JSON.parse(bytes.toString('utf8')) as { meta?: { id?: unknown } }).meta;
    return typeof meta?.id === 'string' && meta.id !== '' ? idFromEventId(meta.id) : null;
  } catch {
    return null;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class KafkaEnd implements MigrationSource, MigrationTarget {
  readonly kind = 'kafka' as const;
  readonly name: string;
  private readonly kafka: KafkaConfig | undefined;
  private readonly naming: TopicNaming;
  private readonly io: KafkaIo | null;
  private readonly now: () => number;
  private readonly batchSize: number;
  // target state
  private marks = new Map<string, Record<string, string>>();
  private resumedTopics = new Set<string>();
  private writer: CheckpointWriter | null = null;
  /** Per topic: its preparation (mark, and IDs already produced), done once. */
  private readonly prepared = new Map<string, Promise<Set<string>>>();
  private scanned: Map<string, Map<string, string>> | null = null;
  /** Fingerprint → job ID of every event this run built. */
  private readonly idByPrint = new Map<string, string>();
  private readonly topicOk = new Map<string, boolean>();
  /** Event bytes built by fingerprint(), reused by write(). */
  private readonly encoded = new WeakMap<MigratedJob, Buffer>();
  // source state
  private pending = new Map<string, PendingEvent[]>();
  private ranges: { gt: GroupTopic; partition: number; from: bigint; to: bigint }[] = [];

  constructor(
    config: JobrunnerConfig,
    private readonly options: KafkaEndOptions,
  ) {
    this.kafka = config.kafka;
    this.naming = { datacenter: this.kafka?.datacenter ?? '', serviceName: this.kafka?.serviceName ?? '' };
    this.io = this.kafka ? new KafkaIo(this.kafka.brokers, `${this.kafka.clientId}-migrate`) : null;
    this.name = `kafka (${this.kafka?.brokers.join(', ') ?? 'no kafka section'})`;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.batchSize = options.batchSize ?? KAFKA_BATCH;
  }

  /** The checkpoint's topic marks (a resumed run continues from them). */
  useCheckpoint(state: CheckpointState | null, writer: CheckpointWriter | null): void {
    this.marks = new Map(state?.marks ?? []);
    this.resumedTopics = new Set(this.marks.keys());
    this.writer = writer;
  }

  private requireIo(): KafkaIo {
    if (!this.io) throw new Error('the configuration has no kafka section');
    return this.io;
  }

  /** Every (group, topic) the runner's rules consume, for the job topics that exist. */
  private groupTopics(topics: readonly string[]): GroupTopic[] {
    const kafka = this.kafka;
    if (!kafka) return [];
    const existing = new Set(topics);
    const assigned = assignJobTopics(kafka.rules, topics, this.naming);
    const out: GroupTopic[] = [];
    for (const rule of kafka.rules) {
      for (const consumer of ruleConsumers(rule, assigned.get(rule.name) ?? [], this.naming)) {
        for (const topic of consumer.topics) out.push({ group: consumer.groupId, topic });
      }
    }
    return out.filter((gt) => existing.has(gt.topic));
  }

  async preflight(): Promise<PreflightProblem[]> {
    if (!this.kafka || !this.io)
      return [{ kind: 'config', message: 'the configuration has no kafka section' }];
    const problems: PreflightProblem[] = [];
    let topics: string[];
    try {
      topics = await this.io.listTopics();
    } catch (error) {
      return [
        { kind: 'unreachable', message: `brokers ${this.kafka.brokers.join(', ')}: ${message(error)}` },
      ];
    }
    if (this.options.role === 'target' && this.kafka.startFrom === 'latest') {
      problems.push({
        kind: 'config',
        message:
          "kafka.startFrom is 'latest': a rule whose consumer group has not committed on a job topic yet would skip the migrated events; set it to 'earliest' for the cutover",
      });
    }
    if (this.options.role === 'target') return problems;
    try {
      const groups = [...new Set(this.groupTopics(topics).map((gt) => gt.group))];
      for (const [group, members] of await this.io.groupMembers(groups)) {
        if (members > 0) {
          problems.push({
            kind: 'config',
            message: `consumer group ${group} has ${members} active member(s): stop the Kafka runner before migrating from Kafka (its offsets are moved past the migrated events)`,
          });
        }
      }
    } catch (error) {
      problems.push({ kind: 'unreachable', message: `reading consumer groups: ${message(error)}` });
    }
    return problems;
  }

  // ---------------------------------------------------------------------------------------------
  // source

  async listQueues(filter: MigrationFilter): Promise<SourceQueue[]> {
    const io = this.requireIo();
    const kafka = this.kafka as KafkaConfig;
    const topics = await io.listTopics();
    const pairs = this.groupTopics(topics);
    const allTopics = [...new Set(pairs.map((p) => p.topic))];
    const [ends, starts] = await Promise.all([io.endOffsets(allTopics), io.startOffsets(allTopics)]);
    this.ranges = [];
    for (const gt of pairs) {
      const committed = (await io.committed(gt.group, [gt.topic])).get(gt.topic) ?? new Map<number, bigint>();
      (ends.get(gt.topic) ?? []).forEach((end, partition) => {
        const start = starts.get(gt.topic)?.[partition] ?? 0n;
        const done = committed.get(partition) ?? -1n;
        let from = done >= 0n ? done : kafka.startFrom === 'earliest' ? start : end;
        if (from < start) from = start; // retention already removed the older ones
        if (end > from) this.ranges.push({ gt, partition, from, to: end });
      });
    }
    const ranges: OffsetRange[] = this.ranges.map((r) => ({
      topic: r.gt.topic,
      partition: r.partition,
      from: r.from,
      to: r.to,
    }));
    const records = await io.read(ranges);
    const now = this.now();
    this.pending = new Map();
    const rangeOf = new Map(this.ranges.map((r) => [`${r.gt.topic}:${r.partition}`, r]));
    for (const at of records) {
      const range = rangeOf.get(`${at.topic}:${at.partition}`);
      if (!range) continue;
      let record: SourceRecord;
      let id: string | null = null;
      let key: string;
      const ref = `${at.topic}/${at.partition}/${at.offset}`;
      try {
        const job = eventToJob(at.value, now);
        const attempt = Number(at.headers.get(HEADER_ATTEMPT) ?? 0);
        const withAttempts = Number.isInteger(attempt) && attempt > 0 ? { ...job, attempts: attempt } : job;
        record = { kind: 'job', job: withAttempts, digest: sha1Hex(at.value) };
        id = job.id;
        key = queueKey(job.wiki, job.type);
      } catch (error) {
        if (!(error instanceof CorruptJobError)) throw error;
        record = { kind: 'corrupt', ref, reason: error.message };
        key = queueKey('(unreadable)', at.topic);
      }
      const list = this.pending.get(key) ?? [];
      list.push({ at, group: range.gt.group, record, id });
      this.pending.set(key, list);
    }
    const queues: SourceQueue[] = [];
    for (const [key, list] of this.pending) {
      const [wiki = '', type = ''] = key.split('\t');
      if (filter.wikis.length > 0 && !filter.wikis.includes(wiki)) continue;
      if (filter.types.length > 0 && !filter.types.includes(type)) continue;
      queues.push({ wiki, type, size: list.length });
    }
    return queues;
  }

  async *read(queue: SourceQueue): AsyncIterable<SourceRecord[]> {
    const list = this.pending.get(queueKey(queue.wiki, queue.type)) ?? [];
    for (let i = 0; i < list.length; i += this.batchSize) {
      yield list.slice(i, i + this.batchSize).map((p) => p.record);
    }
  }

  async deleteVerified(queue: SourceQueue, verified: ReadonlyMap<string, string>): Promise<DeleteResult> {
    const results = await this.deleteAll(new Map([[queueKey(queue.wiki, queue.type), verified]]));
    return results.get(queueKey(queue.wiki, queue.type)) ?? { deleted: 0, kept: [] };
  }

  /**
   * Moves each group's committed offset past the leading run of verified events on every partition.
   * Counted as deleted per queue: its verified events now below the committed offset.
   */
  async deleteAll(
    verifiedByQueue: ReadonlyMap<string, ReadonlyMap<string, string>>,
  ): Promise<Map<string, DeleteResult>> {
    const io = this.requireIo();
    const verifiedIds = new Set<string>();
    for (const map of verifiedByQueue.values()) for (const id of map.keys()) verifiedIds.add(id);
    const results = new Map<string, DeleteResult & { kept: { ref: string; reason: string }[] }>();
    for (const key of verifiedByQueue.keys()) results.set(key, { deleted: 0, kept: [] });
    const byRange = new Map<string, PendingEvent[]>();
    for (const list of this.pending.values()) {
      for (const p of list) {
        const rangeKey = `${p.group}\t${p.at.topic}\t${p.at.partition}`;
        const list = byRange.get(rangeKey);
        if (list) list.push(p);
        else byRange.set(rangeKey, [p]);
      }
    }
    const commits = new Map<string, Map<string, Map<number, bigint>>>();
    for (const range of this.ranges) {
      const rangeKey = `${range.gt.group}\t${range.gt.topic}\t${range.partition}`;
      const events = (byRange.get(rangeKey) ?? []).sort((a, b) => (a.at.offset < b.at.offset ? -1 : 1));
      let commitAt = range.from;
      let blocker: PendingEvent | null = null;
      for (const event of events) {
        if (event.id !== null && verifiedIds.has(event.id)) {
          commitAt = event.at.offset + 1n;
        } else {
          blocker = event;
          break;
        }
      }
      if (blocker === null) commitAt = range.to;
      for (const event of events) {
        if (event.id === null || !verifiedIds.has(event.id) || event.record.kind !== 'job') continue;
        const result = results.get(queueKey(event.record.job.wiki, event.record.job.type));
        if (!result) continue;
        if (event.at.offset < commitAt) {
          (result as { deleted: number }).deleted++;
        } else if (blocker) {
          result.kept.push({
            ref: `${event.at.topic}/${event.at.partition}/${event.at.offset}`,
            reason: `offset ${blocker.at.offset} before it on that partition stays (not migrated or not verified), so ${range.gt.group} cannot move past it`,
          });
        }
      }
      if (commitAt > range.from) {
        const byTopic = commits.get(range.gt.group) ?? new Map<string, Map<number, bigint>>();
        const offsets = byTopic.get(range.gt.topic) ?? new Map<number, bigint>();
        offsets.set(range.partition, commitAt);
        byTopic.set(range.gt.topic, offsets);
        commits.set(range.gt.group, byTopic);
      }
    }
    for (const [group, byTopic] of commits) {
      for (const [topic, offsets] of byTopic) await io.commit(group, topic, offsets);
    }
    return results;
  }

  // ---------------------------------------------------------------------------------------------
  // target

  cannotHold(job: MigratedJob): string | null {
    if (job.state === 'abandoned') {
      return 'abandoned (attempts used up): Kafka has no abandoned state; retry it on the source first (jobqueue retry-abandoned) or leave it';
    }
    let ok = this.topicOk.get(job.type);
    if (ok === undefined) {
      ok = TOPIC_NAME.test(jobTopic(this.naming, job.type));
      this.topicOk.set(job.type, ok);
    }
    return ok ? null : `job type "${job.type}" cannot be part of a Kafka topic name`;
  }

  /** Events from each topic's `from` offsets to its end, in one read: topic → meta.id → fingerprint. */
  private async scan(
    marks: ReadonlyMap<string, Record<string, string>>,
  ): Promise<Map<string, Map<string, string>>> {
    const io = this.requireIo();
    const topics = [...marks.keys()];
    const ends = await io.endOffsets(topics);
    const ranges: OffsetRange[] = [];
    for (const topic of topics) {
      const from = marks.get(topic) ?? {};
      (ends.get(topic) ?? []).forEach((to, partition) =>
        ranges.push({ topic, partition, from: BigInt(from[String(partition)] ?? '0'), to }),
      );
    }
    const out = new Map<string, Map<string, string>>(topics.map((t) => [t, new Map<string, string>()]));
    for (const record of await io.read(ranges)) {
      const print = sha1Hex(record.value);
      // Events this run built are known by their fingerprint; others are parsed for their meta.id.
      const id = this.idByPrint.get(print) ?? eventIdOf(record.value);
      if (id !== null) out.get(record.topic)?.set(id, print); // other producers' unreadable events are not ours
    }
    return out;
  }

  /** SHA-1 of the event bytes this job is produced as (kept for write()). */
  fingerprint(job: MigratedJob): string {
    const print = sha1Hex(this.bytesOf(job));
    this.idByPrint.set(print, job.id);
    return print;
  }

  private bytesOf(job: MigratedJob): Buffer {
    let bytes = this.encoded.get(job);
    if (!bytes) {
      bytes = jobToEvent(
        job,
        this.options.secretKey !== undefined ? { secretKey: this.options.secretKey } : {},
      );
      this.encoded.set(job, bytes);
    }
    return bytes;
  }

  private async prepareTopic(topic: string): Promise<Set<string>> {
    const io = this.requireIo();
    if (!this.marks.has(topic)) {
      const exists = (await io.listTopics()).includes(topic);
      const ends = exists ? ((await io.endOffsets([topic])).get(topic) ?? []) : [];
      const offsets: Record<string, string> = {};
      ends.forEach((end, partition) => (offsets[String(partition)] = end.toString()));
      this.marks.set(topic, offsets);
      this.writer?.mark(topic, offsets);
    }
    const seen = new Set<string>();
    if (this.resumedTopics.has(topic)) {
      const found = await this.scan(new Map([[topic, this.marks.get(topic) ?? {}]]));
      for (const id of found.get(topic)?.keys() ?? []) seen.add(id);
    }
    return seen;
  }

  async write(jobs: readonly MigratedJob[]): Promise<WriteResult> {
    const io = this.requireIo();
    const written: string[] = [];
    const present: string[] = [];
    const byTopic = new Map<string, MigratedJob[]>();
    for (const job of jobs) {
      const topic = jobTopic(this.naming, job.type);
      const list = byTopic.get(topic);
      if (list) list.push(job);
      else byTopic.set(topic, [job]);
    }
    for (const [topic, list] of byTopic) {
      // Once per topic, and before any write to it (writes run concurrently): the mark, and on a
      // resumed run the IDs the interrupted run already produced.
      let ready = this.prepared.get(topic);
      if (!ready) {
        ready = this.prepareTopic(topic);
        this.prepared.set(topic, ready);
      }
      const seen = await ready;
      const fresh = list.filter((job) => !seen.has(job.id));
      for (const job of list) if (seen.has(job.id)) present.push(job.id);
      for (let i = 0; i < fresh.length; i += this.batchSize) {
        const chunk = fresh.slice(i, i + this.batchSize);
        await io.produce(
          topic,
          chunk.map((job) => this.bytesOf(job)),
        );
        for (const job of chunk) {
          seen.add(job.id);
          written.push(job.id);
        }
      }
    }
    return { written, present };
  }

  async readBack(_wiki: string, type: string, ids: readonly string[]): Promise<Map<string, ReadBack>> {
    const topic = jobTopic(this.naming, type);
    const out = new Map<string, ReadBack>();
    if (!this.marks.has(topic)) return out;
    // Verification starts after every write: read all written topics back in one go.
    this.scanned ??= await this.scan(this.marks);
    const events = this.scanned.get(topic) ?? new Map<string, string>();
    for (const id of ids) {
      const print = events.get(id);
      if (print !== undefined) out.set(id, print);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.io?.close();
  }
}
