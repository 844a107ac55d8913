// Shared by the jobchron integration tests: real config files, captured JSON logs, a fake clock for
// job semantics, a real UDP statsd sink, and small polling helpers (no sleeps where a condition will do).
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfigFile } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface ChronConfigOptions {
  queues: string[];
  aggregators?: string[];
  password?: string;
  chron?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  statsd?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/** A scratch dir for config files, removed by cleanup(). */
export class ConfigDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'jobchron-test-'));
  private n = 0;

  /** Writes a jobrunner.conf (with a comment, as operators write them) and returns its path. */
  write(opts: ChronConfigOptions, name = `jobrunner-${++this.n}.conf`): string {
    const body = {
      groups: { basic: { runners: 0 } },
      redis: {
        aggregators: opts.aggregators ?? opts.queues.slice(0, 1),
        queues: opts.queues,
        ...(opts.password ? { password: opts.password } : {}),
        connectTimeoutMs: 1000,
        commandTimeoutMs: 2000,
      },
      dispatcher: 'true',
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.statsd ? { statsd: opts.statsd } : {}),
      chron: opts.chron ?? {},
      // Several daemons may run at once: let each status server pick a free port.
      status: { runnerPort: 0, chronPort: 0 },
      logging: { level: opts.logLevel ?? 'info' },
    };
    const path = join(this.dir, name);
    writeFileSync(path, `// jobchron test configuration\n${JSON.stringify(body, null, 2)}\n`);
    return path;
  }

  /** Writes and loads a config through the real loader. */
  load(opts: ChronConfigOptions): JobrunnerConfig {
    return loadConfigFile(this.write(opts));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** A real winston JSON logger whose lines are kept for assertions. */
export function captureLogger(level: 'info' | 'debug' = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  return { logger: createLogger({ service: 'jobchron', level, stream }), lines };
}

export function countLines(
  lines: readonly LogLine[],
  msg: string,
  where: Record<string, unknown> = {},
): number {
  return lines.filter((l) => l.msg === msg && Object.entries(where).every(([k, v]) => l[k] === v)).length;
}

/** The chron's clock for job semantics; tests move it instead of waiting. */
export class FakeClock {
  ms = Date.now();
  readonly now = (): number => this.ms;
  advanceSeconds(seconds: number): void {
    this.ms += seconds * 1000;
  }
  get seconds(): number {
    return Math.floor(this.ms / 1000);
  }
}

/** A real UDP socket collecting what the statsd client sends. */
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

  counter(name: string): number {
    let total = 0;
    for (const line of this.lines) {
      const m = /^(.*):(-?\d+)\|c$/.exec(line);
      if (m && m[1] === name) total += Number(m[2]);
    }
    return total;
  }

  names(): Set<string> {
    return new Set(this.lines.map((l) => l.slice(0, l.lastIndexOf(':'))));
  }

  stop(): void {
    this.socket?.close();
  }
}

/** Polls `check` until it returns a truthy value; fails naming `what` after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let pause = 5;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 50);
  }
}
