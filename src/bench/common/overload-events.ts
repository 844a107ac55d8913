// Records, for bench:overload, when each job was stored and claimed, from Redis keyspace events:
// every stored job is one HSET on its queue's h-data, every claim one ZADD on its z-claimed
// (MediaWiki's pop script). No polling, so the recorder adds no load that would skew the run.
import { rawurldecode } from '../../mediawiki/php-encoding.js';
import { BenchKeyevents, type RedisTarget } from './bench-keyevents.js';
import { preciseNow } from './job-events.js';
import type { QueueEvent } from './overload-metrics.js';

const KEY = /^(.+):jobqueue:(.+):(h-data|z-claimed)$/;
const CHANNELS: Readonly<Record<string, { suffix: string; kind: 'stored' | 'claimed' }>> = {
  '__keyevent@0__:hset': { suffix: 'h-data', kind: 'stored' },
  '__keyevent@0__:zadd': { suffix: 'z-claimed', kind: 'claimed' },
};

export class OverloadRecorder {
  readonly events: QueueEvent[] = [];

  private subscription: BenchKeyevents | null = null;

  private constructor() {}

  /** Adds the h and z classes to notify-keyspace-events and subscribes (left on when stopped). */
  static async start(target: RedisTarget): Promise<OverloadRecorder> {
    const recorder = new OverloadRecorder();
    recorder.subscription = await BenchKeyevents.open(
      target,
      ['h', 'z'],
      Object.keys(CHANNELS),
      (channel, key) => recorder.onMessage(channel, key),
    );
    return recorder;
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
    await this.subscription?.close();
  }
}
