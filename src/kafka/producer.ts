// `jobqueue push --backend kafka`: builds mediawiki/job events exactly as EventBus does and produces
// them to <datacenter>.mediawiki.job.<type>, as EventGate would.
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { JobSpecError } from './errors.js';
import { buildJobEvent, type BuiltJobEvent, type JobEventSpec } from './job-event-builder.js';
import { jobTopic } from './topics.js';

export type { JobEventSpec } from './job-event-builder.js';

export interface ProduceJobEventsOptions {
  readonly brokers: readonly string[];
  readonly datacenter: string;
  readonly events: readonly JobEventSpec[];
  /** $wgSecretKey of the wikis; without it events carry no mediawiki_signature. */
  readonly secretKey?: string;
  readonly clientId?: string;
  /** Messages per produce request (default 500). */
  readonly batchSize?: number;
  /** Event time (meta.dt); default now. */
  readonly now?: Date;
}

export interface ProducedJobEvents {
  readonly produced: number;
  /** topic → number of events */
  readonly topics: Readonly<Record<string, number>>;
  /** meta.id of every event, in input order. */
  readonly ids: readonly string[];
}

/** Builds every event first (bad input fails before anything is produced), then produces them. */
export async function produceJobEvents(options: ProduceJobEventsOptions): Promise<ProducedJobEvents> {
  if (options.brokers.length === 0) throw new JobSpecError('no Kafka brokers given');
  const built: { topic: string; event: BuiltJobEvent }[] = options.events.map((spec, index) => {
    try {
      return {
        topic: jobTopic({ datacenter: options.datacenter, serviceName: '' }, spec.type),
        event: buildJobEvent(spec, { secretKey: options.secretKey, now: options.now }),
      };
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new JobSpecError(`event ${index + 1}: ${detail}`);
    }
  });
  const producer = new Producer({
    clientId: options.clientId ?? 'jobqueue-push',
    bootstrapBrokers: [...options.brokers],
    // EventGate's Kafka creates job topics on first use; so does this.
    autocreateTopics: true,
    acks: ProduceAcks.ALL,
  });
  const topics: Record<string, number> = {};
  const batchSize = Math.max(1, options.batchSize ?? 500);
  try {
    for (let start = 0; start < built.length; start += batchSize) {
      const chunk = built.slice(start, start + batchSize);
      await producer.send({ messages: chunk.map(({ topic, event }) => ({ topic, value: event.bytes })) });
      for (const { topic } of chunk) topics[topic] = (topics[topic] ?? 0) + 1;
    }
  } finally {
    await producer.close();
  }
  return { produced: built.length, topics, ids: built.map(({ event }) => event.id) };
}
