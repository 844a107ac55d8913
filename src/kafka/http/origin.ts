// The executor's keep-alive connections to one origin: a request takes an idle connection (the most
// recently used, so the fewest go cold) or a new one up to the limit, and waits in order when all
// are busy. A sweep once a second closes connections idle past their limit.
import { Http1Connection, type ConnectionOptions, type RequestOutcome, type Target } from './connection.js';

export interface OriginOptions extends ConnectionOptions {
  readonly max: number;
}

interface Waiting {
  readonly request: Buffer;
  readonly timeoutMs: number;
  readonly done: (outcome: RequestOutcome) => void;
}

const SWEEP_MS = 1000;

export class Origin {
  private readonly idle: Http1Connection[] = [];
  private readonly all: Http1Connection[] = [];
  /** Requests waiting for a connection, oldest first; `head` skips the taken ones. */
  private readonly waiting: (Waiting | undefined)[] = [];
  private head = 0;
  private sweep: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly target: Target,
    private readonly options: OriginOptions,
  ) {}

  send(request: Buffer, timeoutMs: number, done: (outcome: RequestOutcome) => void): void {
    if (this.closed) return done({ kind: 'error', message: 'the executor is closed' });
    const connection = this.idle.pop() ?? this.open();
    if (connection !== undefined) return connection.send(request, timeoutMs, done);
    this.waiting.push({ request, timeoutMs, done });
  }

  /** Waits for running requests (and those waiting for a connection), then closes every connection. */
  async close(): Promise<void> {
    while (this.head < this.waiting.length || this.all.some((c) => c.busy)) {
      await Promise.all(this.all.map((c) => c.whenIdle()));
    }
    this.closed = true;
    this.stopSweep();
    for (const connection of this.all) connection.destroy('the executor is closed');
  }

  /** Fails running and waiting requests and closes every connection. */
  destroy(): void {
    this.closed = true;
    this.stopSweep();
    const waiting = this.waiting.splice(this.head);
    this.waiting.length = 0;
    this.head = 0;
    for (const connection of this.all) connection.destroy('aborted: the executor was destroyed');
    for (const w of waiting) w?.done({ kind: 'error', message: 'aborted: the executor was destroyed' });
  }

  private freed(connection: Http1Connection): void {
    if (this.head === this.waiting.length || this.closed) {
      this.idle.push(connection);
      return;
    }
    const next = this.waiting[this.head] as Waiting;
    this.waiting[this.head++] = undefined;
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    }
    connection.send(next.request, next.timeoutMs, next.done);
  }

  private open(): Http1Connection | undefined {
    if (this.all.length >= this.options.max) return undefined;
    const connection = new Http1Connection(this.target, this.options, (c) => this.freed(c));
    this.all.push(connection);
    if (this.sweep === undefined) {
      this.sweep = setInterval(() => {
        const now = performance.now();
        for (const c of this.idle) c.closeIfIdle(now);
      }, SWEEP_MS);
      this.sweep.unref();
    }
    return connection;
  }

  private stopSweep(): void {
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
