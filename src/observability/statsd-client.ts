// A statsd client that aggregates between flushes: a counter is one sum per name, a gauge its last
// value, a timer its values (a uniform sample of at most `timerSamples` per name, sent with the
// statsd sample rate, so the server's counts stay exact on average and its percentiles unbiased).
// The Kafka runner reports 4–5 metrics for every event it runs, tens of thousands a second; hot-shots
// formatted and buffered each one as it came (7.5 µs of CPU per event, ~1 datagram per two events),
// here a metric costs a field update, and the wire carries a few hundred datagrams a second at
// 30,000 events/s instead of ~15,000.
// Lines are the plain statsd format ("name:value|c", "|g", "|ms" with an optional "|@rate"), joined
// by "\n" into UDP datagrams of at most `maxDatagramBytes` (512, as the original jobrunner sent).
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';

export interface StatsdClientOptions {
  readonly host: string;
  readonly port: number;
  /** Prepended to every name as is (include the trailing "."). */
  readonly prefix: string;
  readonly flushIntervalMs?: number;
  readonly maxDatagramBytes?: number;
  /** Timer values kept per name and flush; past it a uniform sample with its rate. */
  readonly timerSamples?: number;
  /** Send and name-resolution failures (metrics are best effort: never thrown). */
  readonly onError?: (error: Error) => void;
  /** How long close() waits to send what is left (a slow name lookup); default 2,000 ms. */
  readonly closeTimeoutMs?: number;
  /** Resolves the host to an address (tests); default: DNS, IPv4 first. */
  readonly lookup?: (host: string) => Promise<string>;
}

/** IPv4 first, as statsd agents commonly listen on 127.0.0.1 while "localhost" may be ::1 first. */
async function lookupHost(host: string): Promise<string> {
  const found = await lookup(host, { family: 4 }).catch(() => lookup(host));
  return found.address;
}

/** The values of one timer since the last flush: a reservoir of at most `cap` of the `seen`. */
class TimerValues {
  readonly values: number[] = [];
  seen = 0;

  add(value: number, cap: number): void {
    this.seen++;
    if (this.values.length < cap) {
      this.values.push(value);
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < cap) this.values[slot] = value;
  }

  merge(other: TimerValues, cap: number): void {
    // Rare (two handles of one name in one flush): each value of the other counts as seen once.
    for (const value of other.values) this.add(value, cap);
    this.seen += other.seen - other.values.length;
  }
}

/**
 * What one metric gathered since the last flush. A caller keeps its handle (statsd.ts keeps one per
 * name array), so reporting a metric is a field update, without a lookup by name.
 */
export class MetricHandle {
  sum = 0;
  gauge: number | undefined;
  timer: TimerValues | undefined;
  dirty = false;

  constructor(readonly name: string) {}
}

/** Up to 3 decimals: statsd takes any number, and shorter lines fit more into a datagram. */
function formatNumber(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

export class StatsdClient {
  /** Handles reported to since the last flush. */
  private dirty: MetricHandle[] = [];
  private readonly flushTimer: NodeJS.Timeout;
  private readonly maxBytes: number;
  private readonly timerCap: number;
  private socket: Socket | undefined;
  private address: Promise<string | undefined> | undefined;
  private pendingSends = 0;
  private sendsDone: (() => void) | undefined;
  private closed = false;
  private socketClosed = false;

  constructor(private readonly options: StatsdClientOptions) {
    this.maxBytes = options.maxDatagramBytes ?? 512;
    this.timerCap = options.timerSamples ?? 1000;
    this.flushTimer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.flushTimer.unref();
  }

  /** A handle for `name` (without the prefix); handles of one name are merged when sent. */
  handle(name: string): MetricHandle {
    return new MetricHandle(name);
  }

  count(handle: MetricHandle, delta: number): void {
    handle.sum += delta;
    this.touch(handle);
  }

  gauge(handle: MetricHandle, value: number): void {
    handle.gauge = value;
    this.touch(handle);
  }

  timing(handle: MetricHandle, ms: number): void {
    (handle.timer ??= new TimerValues()).add(ms, this.timerCap);
    this.touch(handle);
  }

  private touch(handle: MetricHandle): void {
    if (handle.dirty) return;
    handle.dirty = true;
    this.dirty.push(handle);
  }

  /** Sends what was gathered since the last flush. */
  async flush(): Promise<void> {
    const lines = this.takeLines();
    if (lines.length === 0) return;
    const address = await this.resolve();
    if (address === undefined) return; // logged; this flush's metrics are dropped
    // A timer's flush that was still resolving when close() finished: nothing to send on.
    if (this.socketClosed) return;
    const socket = this.openSocket(address);
    for (const datagram of this.pack(lines)) {
      this.pendingSends++;
      socket.send(datagram, this.options.port, address, (error) => {
        if (error) this.options.onError?.(error);
        if (--this.pendingSends === 0) this.sendsDone?.();
      });
    }
  }

  /**
   * Sends what is left, then closes the socket. A daemon's stop never waits on metrics for long:
   * past closeTimeoutMs (a name lookup hanging on a dead DNS server) what is left is dropped.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    const sent = (async () => {
      await this.flush();
      if (this.pendingSends > 0) await new Promise<void>((resolve) => (this.sendsDone = resolve));
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeTimeoutMs ?? 2000);
    });
    await Promise.race([sent, late]);
    clearTimeout(timer);
    this.socketClosed = true;
    this.socket?.close();
    this.socket = undefined;
  }

  private takeLines(): string[] {
    const prefix = this.options.prefix;
    // Handles of the same name (built from different arrays) go out as one metric.
    const counters = new Map<string, number>();
    const gauges = new Map<string, number>();
    const timers = new Map<string, TimerValues>();
    for (const handle of this.dirty) {
      const { name, timer } = handle;
      if (handle.sum !== 0) counters.set(name, (counters.get(name) ?? 0) + handle.sum);
      if (handle.gauge !== undefined) gauges.set(name, handle.gauge);
      if (timer !== undefined) {
        const known = timers.get(name);
        if (known === undefined) timers.set(name, timer);
        else known.merge(timer, this.timerCap);
      }
      handle.sum = 0;
      handle.gauge = undefined;
      handle.timer = undefined;
      handle.dirty = false;
    }
    this.dirty = [];
    const lines: string[] = [];
    for (const [name, sum] of counters) {
      if (sum !== 0) lines.push(`${prefix}${name}:${formatNumber(sum)}|c`);
    }
    for (const [name, value] of gauges) {
      // A signed gauge value is a change, not a value: a negative one is set from 0.
      if (value < 0) lines.push(`${prefix}${name}:0|g`);
      lines.push(`${prefix}${name}:${formatNumber(value)}|g`);
    }
    for (const [name, timer] of timers) {
      const kept = timer.values.length;
      const rate = kept < timer.seen ? `|@${Number((kept / timer.seen).toPrecision(6))}` : '';
      for (const value of timer.values) lines.push(`${prefix}${name}:${formatNumber(value)}|ms${rate}`);
    }
    return lines;
  }

  /** Lines joined by "\n" into datagrams of at most maxBytes (a longer line goes alone). */
  private pack(lines: readonly string[]): Buffer[] {
    const datagrams: Buffer[] = [];
    let current: string[] = [];
    let bytes = 0;
    for (const line of lines) {
      const size = Buffer.byteLength(line);
      if (current.length > 0 && bytes + 1 + size > this.maxBytes) {
        datagrams.push(Buffer.from(current.join('\n')));
        current = [];
        bytes = 0;
      }
      bytes += (current.length > 0 ? 1 : 0) + size;
      current.push(line);
    }
    if (current.length > 0) datagrams.push(Buffer.from(current.join('\n')));
    return datagrams;
  }

  /** The host's address, looked up once (again after a failure, at the next flush). */
  private resolve(): Promise<string | undefined> {
    this.address ??= (this.options.lookup ?? lookupHost)(this.options.host).catch((error: unknown) => {
      this.address = undefined;
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    });
    return this.address;
  }

  private openSocket(address: string): Socket {
    if (this.socket === undefined) {
      this.socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
      this.socket.on('error', (error) => this.options.onError?.(error));
      this.socket.unref();
    }
    return this.socket;
  }
}
