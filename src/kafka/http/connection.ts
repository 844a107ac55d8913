// One keep-alive HTTP/1.1 connection of the Kafka executor: one request at a time, written as one
// buffer, its response read by ResponseParser. A connection that the server closed, that failed or
// that sat idle past its limit is opened again by the next request. No request is ever sent twice:
// when a connection fails, the request on it fails (the rule runner retries the event through its
// retry topic, with its dedup claim given back), because a POST that reached the server may have
// run. The server's Keep-Alive timeout hint is kept to (less a second), so an idle connection is
// not reused at the moment the server closes it.
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { HttpProtocolError, ResponseParser, type ParsedResponse } from './response-parser.js';

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** Extra CA certificates for https (tests); the system's are used otherwise. */
  readonly ca?: string | Buffer;
}

export interface ConnectionOptions {
  readonly connectTimeoutMs: number;
  /** Longest idle time before the connection is closed (the server may ask for less). */
  readonly keepAliveTimeoutMs: number;
  /** Body bytes kept of a failed response. */
  readonly bodyCap: number;
}

export type RequestOutcome =
  | { readonly kind: 'response'; readonly response: ParsedResponse }
  | { readonly kind: 'timeout' | 'error'; readonly message: string };

type Done = (outcome: RequestOutcome) => void;

function errorMessage(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e.message === 'string' ? e.message : String(error)}`;
}

export class Http1Connection {
  private socket: Socket | undefined;
  private connected = false;
  /** The request on this connection: its parser and whom to tell. */
  private parser: ResponseParser | undefined;
  private done: Done | undefined;
  private timeoutMs = 0;
  private deadline = 0;
  /** One timer per connection, refreshed per request (a new timer per request costs more). */
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private idleSince = 0;
  private idleLimitMs: number;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly target: Target,
    private readonly options: ConnectionOptions,
    /** Called once a request finished, with this connection free again. */
    private readonly onFree: (connection: Http1Connection) => void,
  ) {
    this.idleLimitMs = options.keepAliveTimeoutMs;
  }

  get busy(): boolean {
    return this.done !== undefined;
  }

  /** Sends `request` (head and body, one buffer); `done` gets the outcome, exactly once. */
  send(request: Buffer, timeoutMs: number, done: Done): void {
    if (this.done !== undefined) throw new Error('Http1Connection: a request is already running');
    this.done = done;
    this.parser = new ResponseParser(this.options.bodyCap);
    this.timeoutMs = timeoutMs;
    const now = performance.now();
    let socket = this.socket;
    if (socket !== undefined && now - this.idleSince > this.idleLimitMs) {
      socket.destroy();
      socket = undefined;
    }
    socket ??= this.open();
    // Written at once even while connecting: the socket sends it once connected.
    socket.write(request);
    if (this.connected) this.startClock(now);
  }

  /** Closes the socket if it has been idle longer than its limit (a periodic sweep calls this). */
  closeIfIdle(now: number): void {
    if (this.socket !== undefined && this.done === undefined && now - this.idleSince > this.idleLimitMs) {
      this.socket.destroy();
      this.socket = undefined;
    }
  }

  /** Resolves once no request runs on this connection. */
  whenIdle(): Promise<void> {
    if (this.done === undefined) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Closes the socket; a running request fails with `reason`. */
  destroy(reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    if (this.done !== undefined) this.finish({ kind: 'error', message: reason }, false);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private open(): Socket {
    const { host, port, tls, ca } = this.target;
    const socket = tls
      ? connectTls({
          host,
          port,
          servername: /^[0-9.]+$|:/.test(host) ? undefined : host,
          ca,
          ALPNProtocols: ['http/1.1'],
        })
      : connectTcp({ host, port });
    this.socket = socket;
    this.connected = false;
    socket.setNoDelay(true);
    const connectMs = this.options.connectTimeoutMs;
    const connectTimer = setTimeout(() => {
      const error = Object.assign(new Error(`connecting took longer than ${connectMs} ms`), {
        code: 'ETIMEDOUT',
      });
      socket.destroy(error);
    }, connectMs);
    connectTimer.unref();
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      if (socket !== this.socket) return;
      this.connected = true;
      if (this.done !== undefined) this.startClock(performance.now());
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('end', () => this.onEnd(socket));
    socket.on('error', (error: Error) => this.onClosed(socket, errorMessage(error)));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      this.onClosed(socket, 'the server closed the connection before the response');
    });
    return socket;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    const parser = this.parser;
    if (parser === undefined) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.drop(socket);
      return;
    }
    let response;
    try {
      response = parser.feed(chunk);
    } catch (error) {
      this.drop(socket);
      this.finish({ kind: 'error', message: `invalid HTTP response: ${(error as Error).message}` }, false);
      return;
    }
    if (response !== undefined) this.answered(socket, response);
  }

  private onEnd(socket: Socket): void {
    if (socket !== this.socket) return;
    const parser = this.parser;
    this.drop(socket);
    if (parser === undefined) return;
    try {
      this.answered(undefined, parser.end());
    } catch (error) {
      const message = error instanceof HttpProtocolError ? error.message : errorMessage(error);
      this.finish({ kind: 'error', message }, false);
    }
  }

  private onClosed(socket: Socket, message: string): void {
    if (socket !== this.socket) return;
    this.drop(socket);
    if (this.done !== undefined) this.finish({ kind: 'error', message }, false);
  }

  private answered(socket: Socket | undefined, response: ParsedResponse): void {
    if (socket !== undefined && !response.keepAlive) this.drop(socket);
    const hint = response.keepAliveHintMs;
    if (hint !== undefined) {
      this.idleLimitMs = Math.min(this.options.keepAliveTimeoutMs, Math.max(hint - 1000, hint / 2));
    }
    this.finish({ kind: 'response', response }, true);
  }

  private drop(socket: Socket): void {
    if (socket === this.socket) this.socket = undefined;
    socket.destroy();
  }

  private startClock(now: number): void {
    this.deadline = now + this.timeoutMs;
    if (this.timer !== undefined && this.timerMs === this.timeoutMs) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerMs = this.timeoutMs;
    // A timer left running after its request ended finds nothing to do when it fires.
    this.timer = setTimeout(() => this.onTimer(), this.timeoutMs);
    this.timer.unref();
  }

  private onTimer(): void {
    if (this.done === undefined || !this.connected) return;
    const left = this.deadline - performance.now();
    if (left > 1) {
      // Timers count whole milliseconds: wait out the rest.
      this.timerMs = -1;
      this.timer = setTimeout(() => this.onTimer(), left);
      this.timer.unref();
      return;
    }
    const socket = this.socket;
    if (socket !== undefined) this.drop(socket);
    this.finish({ kind: 'timeout', message: `no response within ${this.timeoutMs} ms` }, false);
  }

  private finish(outcome: RequestOutcome, reusable: boolean): void {
    const done = this.done;
    this.done = undefined;
    this.parser = undefined;
    this.idleSince = performance.now();
    if (!reusable && this.socket !== undefined) this.drop(this.socket);
    if (done === undefined) return;
    done(outcome);
    if (this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.onFree(this);
  }
}
