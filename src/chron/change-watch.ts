// Tells jobchron which queues changed, so it visits a queue when something in it may have fallen
// due instead of visiting every queue every round. MediaWiki ZADDs to `z-claimed` when a job is
// claimed and to `z-delayed` when a delayed job is pushed; Redis announces both on
// `__keyevent@0__:zadd` (flags `Ez`, added to notify-keyspace-events, others kept). Only the
// partition's lease holder subscribes.
//
// Notifications are fire-and-forget: a dropped connection, a restart or flags turned off by
// someone lose some. Nothing depends on them alone: the paced walk of every queue (see walk.ts)
// visits each queue at least once per chron.fullWalkSeconds and learns its due times then.
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { KeyeventSubscriber } from '../redis/keyevent-subscriber.js';
import { ensureNotifications, ZSET_EVENTS } from '../redis/notify-flags.js';

const WATCHED_SUFFIXES = [':z-claimed', ':z-delayed'];

/** The queue key prefix ("<wikiId>:jobqueue:<type>") of a watched sorted set's key, else null. */
export function changedQueuePrefix(key: string): string | null {
  for (const suffix of WATCHED_SUFFIXES) {
    if (key.endsWith(suffix)) return key.slice(0, key.length - suffix.length);
  }
  return null;
}

export class ChangeWatch {
  private readonly subscriber: KeyeventSubscriber;
  /** Times notifications may have been missed (gaps in the subscription, flags lost). */
  gaps = 0;

  constructor(
    client: Redis,
    /** Called with the key prefix ("<wikiId>:jobqueue:<type>") of a queue that changed. */
    onChange: (prefix: string) => void,
    log: Logger,
    options: { flagCheckMs?: number; retryMs?: number } = {},
  ) {
    this.subscriber = new KeyeventSubscriber(
      client,
      {
        channels: ['__keyevent@0__:zadd'],
        ensureFlags: (c) => ensureNotifications(c, ZSET_EVENTS),
        flagsFor: 'sorted-set',
        connectionName: 'jobchron-change-watch',
        onKey: (key) => {
          const prefix = changedQueuePrefix(key);
          if (prefix !== null) onChange(prefix);
        },
        onGap: () => {
          this.gaps += 1;
        },
        ...options,
      },
      log,
    );
  }

  get watching(): boolean {
    return this.subscriber.watching;
  }

  start(): void {
    this.subscriber.want(true);
  }

  stop(): void {
    this.subscriber.want(false);
  }

  close(): Promise<void> {
    return this.subscriber.close();
  }
}
