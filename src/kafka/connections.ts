// The executor's keep-alive connections to one origin, one undici Client each, handed out by this
// set itself: a request takes an idle connection (the most recently used, so the fewest go cold)
// or opens a new one up to the limit, and waits in order when all are busy. undici's Agent and Pool
// would do the same, but per request they look the origin up, scan every connection for a free one
// and re-emit each connection's "drain" twice; at tens of thousands of requests a second on one
// core that was a measurable share of the runner's CPU per event.
import { Client } from 'undici';

export interface ConnectionOptions {
  readonly max: number;
  readonly keepAliveTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

type Start = (client: Client) => void;

export class OriginConnections {
  private readonly idle: Client[] = [];
  private readonly all: Client[] = [];
  /** Requests waiting for a connection, oldest first; `head` skips the taken ones. */
  private readonly waiting: Start[] = [];
  private head = 0;

  constructor(
    private readonly origin: string,
    private readonly options: ConnectionOptions,
  ) {}

  /** Runs `start` with a connection of its own; hand it back with release() once answered. */
  acquire(start: Start): void {
    const client = this.idle.pop() ?? this.open();
    if (client !== undefined) return start(client);
    this.waiting.push(start);
  }

  release(client: Client): void {
    if (this.head === this.waiting.length) {
      this.idle.push(client);
      return;
    }
    const next = this.waiting[this.head] as Start;
    this.waiting[this.head++] = undefined as unknown as Start;
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    }
    // Not from inside the Client's own callback: while it fails its queued requests it must not be
    // handed a new one. Only requests that waited pay for this.
    queueMicrotask(() => next(client));
  }

  /** Waits for running requests, then closes every connection. */
  async close(): Promise<void> {
    await Promise.all(this.all.map((client) => client.close()));
  }

  /** Aborts running requests and closes every connection. */
  async destroy(): Promise<void> {
    await Promise.all(this.all.map((client) => client.destroy()));
  }

  private open(): Client | undefined {
    if (this.all.length >= this.options.max) return undefined;
    const client = new Client(this.origin, {
      keepAliveTimeout: this.options.keepAliveTimeoutMs,
      connect: { timeout: this.options.connectTimeoutMs },
    });
    // Connection errors reach the request's handler; the Client connects again for its next one.
    this.all.push(client);
    return client;
  }
}
