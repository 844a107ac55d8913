// Wakes the runner when a job lands in a ready list, so an idle runner can poll rarely and still
// notice new work at once. Redis announces every LPUSH/RPUSH on the keyevent channels (MediaWiki
// pushes with LPUSH; the chron undelays with LPUSH and retries with RPUSH); we listen for keys
// ending in `:l-unclaimed` on a dedicated subscriber connection per partition.
//
// The runner subscribes only while idle: a busy runner polls every discoveryIntervalMs anyway, and
// staying subscribed would make Redis copy every push of a busy farm to every runner. Events are
// fire-and-forget, so each (re)subscription and each loss of the flags is followed by onResync:
// "look again, you may have missed something".
import type { Redis } from 'ioredis';
import type { PushListener } from '../backend/types.js';
import type { Logger } from '../observability/logger.js';
import { parseReadyListKey } from '../mediawiki/queue-keys.js';
import { KeyeventSubscriber } from './keyevent-subscriber.js';
import { ensureListNotifications } from './notify-flags.js';

export interface PushWatchOptions {
  /** How often the notify flags are checked (someone may turn them off) and a refused CONFIG retried. */
  readonly flagCheckMs?: number;
  /** Retry delay after a transient failure (server down, timeout). */
  readonly retryMs?: number;
}

const READY_LIST_SUFFIX = ':l-unclaimed';

export class PartitionPushWatch {
  private readonly subscriber: KeyeventSubscriber;

  constructor(
    readonly partition: string,
    client: Redis,
    listener: PushListener,
    logger: Logger,
    options: PushWatchOptions = {},
  ) {
    this.subscriber = new KeyeventSubscriber(
      client,
      {
        // Queue partitions use Redis DB 0 (MediaWiki's JobQueueRedis has no DB setting).
        channels: ['__keyevent@0__:lpush', '__keyevent@0__:rpush'],
        ensureFlags: ensureListNotifications,
        flagsFor: 'list',
        connectionName: 'jobrunner-push-watch',
        onKey: (key) => {
          if (key.endsWith(READY_LIST_SUFFIX)) listener.onPush(partition, parseReadyListKey(key), key);
        },
        onSubscribed: () => listener.onResync(partition),
        // A lost connection is followed by a new subscription, which resyncs.
        onGap: (reason) => {
          if (reason === 'flags') listener.onResync(partition);
        },
        ...options,
      },
      logger.child({ component: 'push-watch', partition }),
    );
  }

  /** True while pushes on this partition are reported: flags confirmed and subscribed. */
  get watching(): boolean {
    return this.subscriber.watching;
  }

  /** Subscribe (if not already); onResync follows once subscribed. */
  resume(): void {
    this.subscriber.want(true);
  }

  /** Unsubscribe: the caller polls often enough on its own for now. */
  pause(): void {
    this.subscriber.want(false);
  }

  /** Ends the subscription at once. */
  close(): Promise<void> {
    return this.subscriber.close();
  }
}
