// Watches job storage and completion in MediaWiki's Redis layout through Redis keyspace
// notifications, without polling: every stored job is one HSET on its queue's h-data (MediaWiki's
// push script and ours), every acknowledged job one HDEL there (MediaWiki's ack). Events carry
// the key only, so per-queue counts and times are exact while individual jobs are not named.
import { rawurldecode } from '../../mediawiki/php-encoding.js';
import { BenchKeyevents, type RedisTarget } from './bench-keyevents.js';

export type { RedisTarget } from './bench-keyevents.js';

export type JobEventKind = 'stored' | 'removed';

export interface JobEvent {
  readonly kind: JobEventKind;
  /** Wiki ID and job type decoded from the h-data key. */
  readonly wiki: string;
  readonly type: string;
  /** The h-data key as Redis reported it. */
  readonly key: string;
  /** Date.now()-based time of arrival, with sub-millisecond resolution. */
  readonly at: number;
}

export interface QueueTally {
  stored: number;
  removed: number;
}

const H_DATA = /^(.+):jobqueue:(.+):h-data$/;
const CHANNELS = { '__keyevent@0__:hset': 'stored', '__keyevent@0__:hdel': 'removed' } as const;

/** Sub-millisecond wall-clock time. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Parses "<wiki>:jobqueue:<type>:h-data" (both parts rawurlencoded); null for other keys. */
export function parseDataKey(key: string): { wiki: string; type: string } | null {
  const match = H_DATA.exec(key);
  if (!match) return null;
  return { wiki: rawurldecode(match[1] as string), type: rawurldecode(match[2] as string) };
}

export class JobEventTracker {
  private readonly tallies = new Map<string, QueueTally>();
  private readonly listeners = new Set<(event: JobEvent) => void>();
  private closed = false;
  private subscription: BenchKeyevents | null = null;

  private constructor() {}

  /** Enables hash keyspace events on db 0 and subscribes; leaves them on when stopped. */
  static async start(target: RedisTarget): Promise<JobEventTracker> {
    const tracker = new JobEventTracker();
    tracker.subscription = await BenchKeyevents.open(target, ['h'], Object.keys(CHANNELS), (channel, key) =>
      tracker.onMessage(channel, key),
    );
    return tracker;
  }

  private onMessage(channel: string, key: string): void {
    const kind = CHANNELS[channel as keyof typeof CHANNELS] as JobEventKind | undefined;
    if (!kind) return;
    const parsed = parseDataKey(key);
    if (!parsed) return;
    const at = preciseNow();
    const label = `${parsed.wiki}\t${parsed.type}`;
    let tally = this.tallies.get(label);
    if (!tally) {
      tally = { stored: 0, removed: 0 };
      this.tallies.set(label, tally);
    }
    tally[kind]++;
    const event: JobEvent = { kind, key, at, ...parsed };
    for (const listener of this.listeners) listener(event);
  }

  /** Calls `listener` for every event until the returned function is called. */
  subscribe(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves at the next event matching `match` (events already seen do not count). */
  next(match: (event: JobEvent) => boolean, timeoutMs: number, what: string): Promise<JobEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.subscribe((event) => {
        if (!match(event)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  /** Jobs stored and removed so far in one (wiki, type) queue. */
  queue(wiki: string, type: string): QueueTally {
    return { ...(this.tallies.get(`${wiki}\t${type}`) ?? { stored: 0, removed: 0 }) };
  }

  /** Every (wiki, type) queue an event was seen for. */
  queues(): { wiki: string; type: string }[] {
    return [...this.tallies.keys()].map((label) => {
      const tab = label.indexOf('\t');
      return { wiki: label.slice(0, tab), type: label.slice(tab + 1) };
    });
  }

  /** Per job type: jobs stored and removed so far, over every wiki. */
  byType(): Map<string, QueueTally> {
    const out = new Map<string, QueueTally>();
    for (const [label, tally] of this.tallies) {
      const type = label.slice(label.indexOf('\t') + 1);
      const sum = out.get(type) ?? { stored: 0, removed: 0 };
      sum.stored += tally.stored;
      sum.removed += tally.removed;
      out.set(type, sum);
    }
    return out;
  }

  totals(): QueueTally {
    const sum = { stored: 0, removed: 0 };
    for (const tally of this.tallies.values()) {
      sum.stored += tally.stored;
      sum.removed += tally.removed;
    }
    return sum;
  }

  reset(): void {
    this.tallies.clear();
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.subscription?.close();
  }
}
