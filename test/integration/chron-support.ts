// Shared by the jobchron integration tests: real config files, log-line counting, a fake clock for
// job semantics, the built jobchron as a process, and polling (no sleeps where a condition will do).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { startDaemon } from '../support/daemon.js';
import type { LogLine } from '../support/log-capture.js';

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

export interface ChronProcess {
  readonly child: ChildProcess;
  /** Its JSON log lines so far. */
  readonly lines: LogLine[];
  /** Its exit code (null when killed by a signal). */
  readonly exit: Promise<number | null>;
}

/** The built jobchron (`cli`) on `configFile`; its stderr goes to this process's stderr. */
export function startChron(cli: string, configFile: string, verbose: boolean): ChronProcess {
  const daemon = startDaemon(cli, configFile, { verbose, stderr: 'pass' });
  return { child: daemon.child, lines: daemon.logs, exit: daemon.exited.then((e) => e.code) };
}
