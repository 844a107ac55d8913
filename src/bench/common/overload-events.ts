// Records, for bench:overload, when each job was stored and claimed, from Redis keyspace events:
// every stored job is one HSET on its queue's h-data, every claim one ZADD on its z-claimed
// (MediaWiki's pop script). No polling, so the recorder adds no load that would skew the run.
import { Redis } from 'ioredis';
import { rawurldecode } from '../../mediawiki/php-encoding.js';
import { preciseNow, type RedisTarget } from './job-events.js';
import type { QueueEvent } from './overload-metrics.js';

const KEY = /^(.+):jobqueue:(.+):(h-data|z-claimed)$/;
const CHANNELS: Readonly<Record<string, { suffix: string; kind: 'stored' | 'claimed' }>> = {
  '__keyevent@0__:hset': { suffix: 'h-data', kind: 'stored' },
  '__keyevent@0__:zadd': { suffix: 'z-claimed', kind: 'claimed' },
};

export class OverloadRecorder {
  readonly events: QueueEvent[] = [];

  private constructor(
    private readonly admin: Redis,
    private readonly subscriber: Redis,
    private readonly previousFlags: string,
  ) {
    subscriber.on('message', (channel: string, key: string) => this.onMessage(channel, key));
  }

  /** Adds the E, h and z classes to notify-keyspace-events (stop() restores them) and subscribes. */
  static async start(target: RedisTarget): Promise<OverloadRecorder> {
    const options = { host: target.host, port: target.port, password: target.password, lazyConnect: true };
    const admin = new Redis(options);
    const subscriber = new Redis(options);
    try {
      await admin.connect();
      await subscriber.connect();
      const reply = (await admin.config('GET', 'notify-keyspace-events')) as string[];
      const previous = reply[1] ?? '';
      let flags = previous;
      for (const flag of ['E', 'h', 'z']) if (!flags.includes(flag)) flags += flag;
      await admin.config('SET', 'notify-keyspace-events', flags);
      const recorder = new OverloadRecorder(admin, subscriber, previous);
      await subscriber.subscribe(...Object.keys(CHANNELS));
      return recorder;
    } catch (error) {
      admin.disconnect();
      subscriber.disconnect();
      throw error;
    }
  }

  /** A dispatch start or end from the runner's log (its `ts`, in ms). */
  dispatch(kind: 'start' | 'end', wiki: string, type: string, at: number): void {
    this.events.push({ kind, wiki, type, at });
  }

  private onMessage(channel: string, key: string): void {
    const spec = CHANNELS[channel];
    const match = KEY.exec(key);
    if (!spec || !match || match[3] !== spec.suffix) return;
    this.events.push({
      kind: spec.kind,
      wiki: rawurldecode(match[1] as string),
      type: rawurldecode(match[2] as string),
      at: preciseNow(),
    });
  }

  async stop(): Promise<void> {
    this.subscriber.disconnect();
    try {
      await this.admin.config('SET', 'notify-keyspace-events', this.previousFlags);
    } finally {
      this.admin.disconnect();
    }
  }
}
