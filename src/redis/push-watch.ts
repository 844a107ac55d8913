// Wakes the runner when a job lands in a ready list, so an idle runner can poll rarely and still
// notice new work at once. Redis announces every LPUSH/RPUSH on the keyevent channels (MediaWiki
// pushes with LPUSH; the chron undelays with LPUSH and retries with RPUSH); we listen for keys
// ending in `:l-unclaimed` on a dedicated subscriber connection per partition.
//
// The runner subscribes only while idle: a busy runner polls every discoveryIntervalMs anyway, and
// staying subscribed would make Redis copy every push of a busy farm to every runner. Events are
// fire-and-forget, so each (re)subscription is followed by onResync: "look again, you may have
// missed something".
import type { Redis } from 'ioredis';
import type { PushListener } from '../backend/types.js';
import type { Logger } from '../observability/logger.js';
import { parseReadyListKey } from '../mediawiki/queue-keys.js';
import { waitReady } from './connection.js';
import { ensureListNotifications } from './notify-flags.js';

export interface PushWatchOptions {
  /** How often the notify flags are checked (someone may turn them off) and a refused CONFIG retried. */
  readonly flagCheckMs?: number;
  /** Retry delay after a transient failure (server down, timeout). */
  readonly retryMs?: number;
}

const READY_LIST_SUFFIX = ':l-unclaimed';
/** Queue partitions use Redis DB 0 (MediaWiki's JobQueueRedis has no DB setting). */
const CHANNELS = ['__keyevent@0__:lpush', '__keyevent@0__:rpush'];
const DEFAULT_FLAG_CHECK_MS = 60_000;
const DEFAULT_RETRY_MS = 1000;

/** CONFIG is renamed away or not allowed: no use retrying before the next flag check. */
function isRefusal(message: string): boolean {
  return /unknown command|NOPERM|no permissions?|not allowed/i.test(message);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PartitionPushWatch {
  private subscriber: Redis | null = null;
  private wanted = false;
  private subscribed = false;
  private flagsOk = false;
  /** CONFIG was refused: stay unsubscribed until the next flag check tries again. */
  private refused = false;
  private loggedRefusal: string | null = null;
  private closed = false;
  private syncing: Promise<void> | null = null;
  private resyncAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly flagTimer: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly flagCheckMs: number;
  private readonly retryMs: number;

  private checkingFlags = false;

  constructor(
    readonly partition: string,
    private readonly client: Redis,
    private readonly listener: PushListener,
    logger: Logger,
    options: PushWatchOptions = {},
  ) {
    this.log = logger.child({ component: 'push-watch', partition });
    this.flagCheckMs = options.flagCheckMs ?? DEFAULT_FLAG_CHECK_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.flagTimer = setInterval(() => this.checkFlags(), this.flagCheckMs);
    this.flagTimer.unref();
  }

  /** True while pushes on this partition are reported: flags confirmed and subscribed. */
  get watching(): boolean {
    return this.wanted && this.subscribed && this.flagsOk && this.subscriber?.status === 'ready';
  }

  /** Subscribe (if not already); onResync follows once subscribed. */
  resume(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.sync();
  }

  /** Unsubscribe: the caller polls often enough on its own for now. */
  pause(): void {
    if (!this.wanted) return;
    this.wanted = false;
    this.sync();
  }

  /** Ends the subscription at once (a reconciliation in progress stops at its next step). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.flagTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  /** Runs one reconciliation at a time; a request during one runs it again afterwards. */
  private sync(): void {
    if (this.closed) return;
    if (this.syncing) {
      this.resyncAgain = true;
      return;
    }
    this.syncing = this.reconcile()
      .catch((error: unknown) => this.failed(error))
      .finally(() => {
        this.syncing = null;
        if (this.resyncAgain) {
          this.resyncAgain = false;
          this.sync();
        }
      });
  }

  private async reconcile(): Promise<void> {
    if (!this.wanted) {
      if (this.subscribed && this.subscriber?.status === 'ready') await this.subscriber.unsubscribe();
      this.subscribed = false;
      return;
    }
    if (this.refused) return; // retried by the flag check
    if (this.subscribed && this.subscriber?.status === 'ready') return;
    if (!(await waitReady(this.client, this.retryMs * 10))) throw new Error('queue connection not ready');
    await this.ensureFlags();
    const sub = this.subscriberClient();
    if (!(await waitReady(sub, this.retryMs * 10))) throw new Error('subscriber connection not ready');
    if (!this.wanted || this.closed) return;
    await sub.subscribe(...CHANNELS);
    this.subscribed = true;
    this.log.debug('watching pushes');
    this.listener.onResync(this.partition);
  }

  private async ensureFlags(): Promise<void> {
    const { before, now } = await ensureListNotifications(this.client);
    if (before !== now) {
      this.log.info('enabled keyspace notifications for list pushes (notify-keyspace-events)', {
        before,
        now,
      });
    }
    this.flagsOk = true;
    if (this.loggedRefusal !== null) {
      this.loggedRefusal = null;
      this.log.info('keyspace notifications usable again; waking on pushes');
    }
  }

  private subscriberClient(): Redis {
    if (this.closed) throw new Error('push watch closed');
    if (this.subscriber) return this.subscriber;
    // Same address, password and timeouts as the queue connection; subscriber mode needs its own.
    const sub = this.client.duplicate({ connectionName: 'jobrunner-push-watch' });
    sub.on('message', (_channel: string, key: string) => {
      if (key.endsWith(READY_LIST_SUFFIX)) this.listener.onPush(this.partition, parseReadyListKey(key), key);
    });
    sub.on('error', () => undefined); // the queue connection already logs this server's outages
    sub.on('close', () => {
      this.subscribed = false;
    });
    sub.on('ready', () => {
      // After a reconnect: subscribe again (pushes during the gap are covered by onResync).
      if (this.wanted && !this.subscribed) this.sync();
    });
    this.subscriber = sub;
    return sub;
  }

  private failed(error: unknown): void {
    const message = errorText(error);
    this.subscribed = false;
    if (this.closed) return;
    if (isRefusal(message)) {
      this.flagsOk = false;
      this.refused = true;
      if (this.loggedRefusal !== message) {
        this.log.warn('cannot use keyspace notifications (CONFIG refused); polling instead', {
          error: message,
          retryInMs: this.flagCheckMs,
        });
      }
      this.loggedRefusal = message;
      return;
    }
    this.log.debug('push watch not ready; retrying', { error: message });
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.sync();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /** Periodic: flags may have been turned off by someone else; a refusal may have been lifted. */
  private checkFlags(): void {
    if (this.closed || !this.wanted || this.syncing) return;
    if (this.refused) {
      this.refused = false;
      this.sync();
      return;
    }
    if (!this.subscribed || this.client.status !== 'ready') return;
    // One check at a time: on a slow server two overlapping checks would both restore the flags
    // and report two resyncs (and two warnings) for one loss.
    if (this.checkingFlags) return;
    this.checkingFlags = true;
    ensureListNotifications(this.client)
      .then(
        ({ before, now }) => {
          if (before === now) return;
          this.log.warn('notify-keyspace-events had lost the list flags; set them again', { before, now });
          this.listener.onResync(this.partition);
        },
        (error: unknown) => this.failed(error),
      )
      .finally(() => {
        this.checkingFlags = false;
      });
  }
}
