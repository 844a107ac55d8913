// A real UDP socket on loopback that collects what a statsd client sends, for metric assertions.
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

const COUNTER_LINE = /^(.*):(-?\d+)\|c$/;

export class StatsdSink {
  readonly lines: string[] = [];
  private socket: Socket | null = null;
  port = 0;

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('message', (msg) => this.lines.push(...msg.toString().split('\n').filter(Boolean)));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.port = (socket.address() as AddressInfo).port;
    this.socket = socket;
  }

  /** Sum of the counter called exactly `name`. */
  counter(name: string): number {
    return this.sum((metric) => metric === name);
  }

  /** Sum of every counter whose name matches. */
  sum(name: RegExp | ((metric: string) => boolean)): number {
    const matches = typeof name === 'function' ? name : (metric: string) => name.test(metric);
    let total = 0;
    for (const line of this.lines) {
      const m = COUNTER_LINE.exec(line);
      if (m && matches(m[1] ?? '')) total += Number(m[2]);
    }
    return total;
  }

  /** Every metric name seen, of any type. */
  names(): Set<string> {
    return new Set(this.lines.map((l) => l.slice(0, l.lastIndexOf(':'))));
  }

  stop(): void {
    this.socket?.close();
  }
}
