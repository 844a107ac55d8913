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
import { waitReady } from '../redis/connection.js';
import { ensureNotifications, ZSET_EVENTS } from '../redis/notify-flags.js';

const CHANNEL = '__keyevent@0__:zadd';
const WATCHED_SUFFIXES = [':z-claimed', ':z-delayed'];
const FLAG_CHECK_MS = 60_000;
const RETRY_MS = 1000;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ChangeWatch {
  private subscriber: Redis | null = null;
  private wanted = false;
  private subscribed = false;
  private closed = false;
  private syncing: Promise<void> | null = null;
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private flagTimer: NodeJS.Timeout | null = null;
  private loggedProblem: string | null = null;
  /** Times notifications may have been missed (gaps in the subscription, flags lost). */
  gaps = 0;

  constructor(
    private readonly client: Redis,
    /** Called with the key prefix ("<wikiId>:jobqueue:<type>") of a queue that changed. */
    private readonly onChange: (prefix: string) => void,
    private readonly log: Logger,
  ) {}

  get watching(): boolean {
    return this.wanted && this.subscribed && this.subscriber?.status === 'ready';
  }

  start(): void {
    if (this.wanted || this.closed) return;
    this.wanted = true;
    this.flagTimer = setInterval(() => this.checkFlags(), FLAG_CHECK_MS);
    this.flagTimer.unref();
    this.sync();
  }

  stop(): void {
    if (!this.wanted) return;
    this.wanted = false;
    if (this.flagTimer) clearInterval(this.flagTimer);
    this.flagTimer = null;
    this.sync();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wanted = false;
    if (this.flagTimer) clearInterval(this.flagTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const sub = this.subscriber;
    this.subscriber = null;
    this.subscribed = false;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  private sync(): void {
    if (this.closed) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.reconcile()
      .catch((error: unknown) => this.failed(error))
      .finally(() => {
        this.syncing = null;
        if (this.again) {
          this.again = false;
          this.sync();
        }
      });
  }

  private async reconcile(): Promise<void> {
    if (!this.wanted) {
      if (this.subscribed && this.subscriber?.status === 'ready') await this.subscriber.unsubscribe(CHANNEL);
      this.subscribed = false;
      return;
    }
    if (this.subscribed && this.subscriber?.status === 'ready') return;
    if (!(await waitReady(this.client, RETRY_MS * 10))) throw new Error('partition connection not ready');
    const { before, now } = await ensureNotifications(this.client, ZSET_EVENTS);
    if (before !== now) {
      this.log.info('enabled keyspace notifications for sorted sets (notify-keyspace-events)', {
        before,
        now,
      });
    }
    const sub = this.subscriberClient();
    if (!(await waitReady(sub, RETRY_MS * 10))) throw new Error('subscriber connection not ready');
    if (!this.wanted || this.closed) return;
    await sub.subscribe(CHANNEL);
    this.subscribed = true;
    if (this.loggedProblem !== null) {
      this.loggedProblem = null;
      this.log.info('watching queue changes again');
    }
  }

  private subscriberClient(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = this.client.duplicate({ connectionName: 'jobchron-change-watch' });
    sub.on('message', (_channel: string, key: string) => {
      for (const suffix of WATCHED_SUFFIXES) {
        if (key.endsWith(suffix)) {
          this.onChange(key.slice(0, key.length - suffix.length));
          return;
        }
      }
    });
    sub.on('error', () => undefined); // the partition connection already logs this server's outages
    sub.on('close', () => {
      if (this.subscribed) this.gaps += 1;
      this.subscribed = false;
    });
    sub.on('ready', () => {
      if (this.wanted && !this.subscribed) this.sync();
    });
    this.subscriber = sub;
    return sub;
  }

  private failed(error: unknown): void {
    const message = errorText(error);
    this.subscribed = false;
    if (this.closed || !this.wanted) return;
    if (this.loggedProblem !== message) {
      this.loggedProblem = message;
      // Not an outage of upkeep: the paced walk still visits every queue.
      this.log.warn('cannot watch queue changes; relying on the paced walk', { error: message });
    }
    if (this.retryTimer) return;
    // CONFIG refused (renamed away, ACL) will not change soon: retry at the flag-check pace.
    const refused = /unknown command|NOPERM|no permissions?|not allowed/i.test(message);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        this.sync();
      },
      refused ? FLAG_CHECK_MS : RETRY_MS,
    );
    this.retryTimer.unref();
  }

  /** Someone may have turned the flags off: set them again (changes in between wait for the walk). */
  private checkFlags(): void {
    if (this.closed || !this.wanted || this.syncing || !this.subscribed) return;
    ensureNotifications(this.client, ZSET_EVENTS).then(
      ({ before, now }) => {
        if (before === now) return;
        this.gaps += 1;
        this.log.warn('notify-keyspace-events had lost the sorted-set flags; set them again', {
          before,
          now,
        });
      },
      (error: unknown) => this.failed(error),
    );
  }
}
