// A keyevent subscription for the benchmarks' recorders (job-events.ts, overload-events.ts): turns on
// the notification classes they need on a Redis server the benchmark owns and subscribes. Closing
// leaves the flags on: putting back the value read at open would wipe the classes a daemon added
// meanwhile, and the runner would then hear no pushes until its next flag check (up to 60 s).
import { Redis } from 'ioredis';

export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly password?: string | undefined;
}

/** `previous` plus E (keyevent) and each class in `classes`; `A` already covers every type class. */
export function withEventClasses(previous: string, classes: readonly string[]): string {
  let flags = previous;
  for (const c of classes) if (!flags.includes(c) && !flags.includes('A')) flags += c;
  if (!flags.includes('E')) flags += 'E';
  return flags;
}

export class BenchKeyevents {
  private closed = false;

  private constructor(
    private readonly admin: Redis,
    private readonly subscriber: Redis,
  ) {}

  /** Enables `classes` on db 0, subscribes to `channels` and calls `onMessage(channel, key)`. */
  static async open(
    target: RedisTarget,
    classes: readonly string[],
    channels: readonly string[],
    onMessage: (channel: string, key: string) => void,
  ): Promise<BenchKeyevents> {
    const options = { host: target.host, port: target.port, password: target.password, lazyConnect: true };
    const admin = new Redis(options);
    const subscriber = new Redis(options);
    try {
      await admin.connect();
      await subscriber.connect();
      const reply = (await admin.config('GET', 'notify-keyspace-events')) as string[];
      const previous = reply[1] ?? '';
      await admin.config('SET', 'notify-keyspace-events', withEventClasses(previous, classes));
      const events = new BenchKeyevents(admin, subscriber);
      subscriber.on('message', onMessage);
      await subscriber.subscribe(...channels);
      return events;
    } catch (error) {
      admin.disconnect();
      subscriber.disconnect();
      throw error;
    }
  }

  /** Unsubscribes; a second call does nothing. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.subscriber.disconnect();
    this.admin.disconnect();
    return Promise.resolve();
  }
}
