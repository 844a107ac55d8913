// A subscription to Redis keyevent channels that survives what happens to it: it turns the
// notify-keyspace-events flags it needs on (others kept), subscribes on its own connection (a
// subscribed connection can do nothing else), subscribes again after a reconnect, checks now and
// then that nobody turned the flags off, and stays quiet while CONFIG is refused.
// Notifications are fire-and-forget, so whenever some may have been missed it says so (`onGap`)
// and the owner covers the gap with a walk. Shared by the runner's push watch and jobchron's
// change watch (they differ only in channels, flags and what a message means).
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { waitReady } from './connection.js';
import type { NotifyFlagsResult } from './notify-flags.js';

export interface KeyeventSubscriberOptions {
  /** Channels, e.g. `__keyevent@0__:lpush`. */
  readonly channels: readonly string[];
  /** Turns the needed notify-keyspace-events flags on; reports what they were and are. */
  readonly ensureFlags: (client: Redis) => Promise<NotifyFlagsResult>;
  /** Which events, in log lines: "list" (pushes), "sorted-set" (claims, delayed pushes). */
  readonly flagsFor: string;
  /** CLIENT SETNAME of the subscriber connection. */
  readonly connectionName: string;
  /** A message's key (the channel is one of `channels`). */
  readonly onKey: (key: string) => void;
  /** Subscribed (again): messages from now on arrive; anything before may have been missed. */
  readonly onSubscribed?: () => void;
  /** Messages may have been missed while subscribed: the connection was lost, or the flags found off. */
  readonly onGap?: (reason: 'connection' | 'flags') => void;
  /** How often the flags are checked and a refused CONFIG retried. */
  readonly flagCheckMs?: number;
  /** Retry delay after a transient failure (server down, timeout). */
  readonly retryMs?: number;
}

const DEFAULT_FLAG_CHECK_MS = 60_000;
const DEFAULT_RETRY_MS = 1000;

/** CONFIG is renamed away or not allowed: no use retrying before the next flag check. */
export function isConfigRefusal(message: string): boolean {
  return /unknown command|NOPERM|no permissions?|not allowed/i.test(message);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class KeyeventSubscriber {
  private subscriber: Redis | null = null;
  private wanted = false;
  private subscribed = false;
  private flagsOk = false;
  /** CONFIG was refused: stay unsubscribed until the next flag check tries again. */
  private refused = false;
  private loggedProblem: string | null = null;
  private closed = false;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private checkingFlags = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly flagTimer: NodeJS.Timeout;
  private readonly flagCheckMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly client: Redis,
    private readonly options: KeyeventSubscriberOptions,
    private readonly log: Logger,
  ) {
    this.flagCheckMs = options.flagCheckMs ?? DEFAULT_FLAG_CHECK_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.flagTimer = setInterval(() => this.checkFlags(), this.flagCheckMs);
    this.flagTimer.unref();
  }

  /** True while messages arrive: flags confirmed, subscribed, connection up. */
  get watching(): boolean {
    return this.wanted && this.subscribed && this.flagsOk && this.subscriber?.status === 'ready';
  }

  /** Subscribe (true) or unsubscribe (false); idempotent. */
  want(on: boolean): void {
    if (this.wanted === on) return;
    this.wanted = on;
    this.sync();
  }

  /** Ends the subscription at once (a reconciliation in progress stops at its next step). */
  async close(): Promise<void> {
    this.closed = true;
    this.wanted = false;
    clearInterval(this.flagTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const sub = this.subscriber;
    this.subscriber = null;
    this.subscribed = false;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  /** Runs one reconciliation at a time; a request during one runs it again afterwards. */
  private sync(): void {
    if (this.closed) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = this.reconcile()
      .catch((error: unknown) => this.failed(error))
      .finally(() => {
        this.syncing = null;
        if (this.syncAgain) {
          this.syncAgain = false;
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
    await sub.subscribe(...this.options.channels);
    this.subscribed = true;
    if (this.loggedProblem !== null) {
      this.loggedProblem = null;
      this.log.info(`keyspace notifications for ${this.options.flagsFor} events usable again`);
    }
    this.options.onSubscribed?.();
  }

  private async ensureFlags(): Promise<void> {
    const { before, now } = await this.options.ensureFlags(this.client);
    if (before !== now) {
      this.log.info(
        `enabled keyspace notifications for ${this.options.flagsFor} events (notify-keyspace-events)`,
        {
          before,
          now,
        },
      );
    }
    this.flagsOk = true;
  }

  private subscriberClient(): Redis {
    if (this.closed) throw new Error('keyevent subscriber closed');
    if (this.subscriber) return this.subscriber;
    // Same address, password and timeouts as the queue connection.
    const sub = this.client.duplicate({ connectionName: this.options.connectionName });
    sub.on('message', (_channel: string, key: string) => this.options.onKey(key));
    sub.on('error', () => undefined); // the queue connection already logs this server's outages
    sub.on('close', () => {
      if (this.subscribed) this.options.onGap?.('connection');
      this.subscribed = false;
    });
    sub.on('ready', () => {
      // After a reconnect: subscribe again (messages during the gap are covered by the owner).
      if (this.wanted && !this.subscribed) this.sync();
    });
    this.subscriber = sub;
    return sub;
  }

  private failed(error: unknown): void {
    const message = errorText(error);
    this.subscribed = false;
    if (this.closed || !this.wanted) return;
    if (isConfigRefusal(message)) {
      this.flagsOk = false;
      this.refused = true;
      if (this.loggedProblem !== message) {
        this.log.warn(
          `cannot use keyspace notifications for ${this.options.flagsFor} events (CONFIG refused)`,
          {
            error: message,
            retryInMs: this.flagCheckMs,
          },
        );
      }
      this.loggedProblem = message;
      return;
    }
    if (this.loggedProblem !== message) {
      this.loggedProblem = message;
      this.log.warn(`keyspace notifications for ${this.options.flagsFor} events not available; retrying`, {
        error: message,
        retryInMs: this.retryMs,
      });
    }
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.sync();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /** Periodic: someone may have turned the flags off; a refusal may have been lifted. */
  private checkFlags(): void {
    if (this.closed || !this.wanted || this.syncing) return;
    if (this.refused) {
      this.refused = false;
      this.sync();
      return;
    }
    if (!this.subscribed || this.client.status !== 'ready') return;
    // One check at a time: on a slow server two overlapping checks would both restore the flags
    // and report two gaps (and two warnings) for one loss.
    if (this.checkingFlags) return;
    this.checkingFlags = true;
    this.options
      .ensureFlags(this.client)
      .then(
        ({ before, now }) => {
          if (before === now) return;
          this.log.warn(
            `notify-keyspace-events had lost the ${this.options.flagsFor} flags; set them again`,
            {
              before,
              now,
            },
          );
          this.options.onGap?.('flags');
        },
        (error: unknown) => this.failed(error),
      )
      .finally(() => {
        this.checkingFlags = false;
      });
  }
}
