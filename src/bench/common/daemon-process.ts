// jobrunner / jobchron as child processes of the demo and the benchmarks: JSON log lines parsed as
// they arrive (kept in a bounded tail, errors counted), stop = SIGTERM, then SIGKILL after a grace
// period, with the exit status reported so callers can check it was a clean exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { trackPid, untrackPid } from '../../farm/process-tree.js';

export type DaemonName = 'jobrunner' | 'jobchron' | 'jobrunner-intake';

/** One stdout line of a daemon: its JSON fields, or { level: 'raw', msg } when not JSON. */
export type LogLine = Readonly<Record<string, unknown>> & {
  readonly msg?: unknown;
  readonly level?: unknown;
};

export interface DaemonExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the grace period ran out and SIGKILL was sent. */
  readonly killed: boolean;
}

export interface DaemonOptions {
  readonly name: DaemonName;
  readonly configFile: string;
  /** --verbose (debug lines such as "dispatch start" / "dispatch end"). */
  readonly verbose?: boolean;
  /** Every stdout/stderr line is appended here as well. */
  readonly logFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly onLine?: (line: LogLine, receivedAt: number) => void;
}

export class DaemonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}

const TAIL_LINES = 60;

/** Node flags the systemd units give the daemons (puppet jobrunner::service_unit `node_flags`). */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];

/**
 * BENCH_RUNNER_CPU_PROF=<dir>: the runner writes a V8 CPU profile there when it exits (node
 * refuses --cpu-prof in NODE_OPTIONS, so it must be a flag of the daemon's own command line).
 */
function profileFlags(name: DaemonName): string[] {
  const dir = process.env.BENCH_RUNNER_CPU_PROF;
  return name === 'jobrunner' && dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** dist/cli/<name>.js, next to this module's dist/bench/common/ directory. */
export function daemonScript(name: DaemonName): string {
  return fileURLToPath(new URL(`../../cli/${name}.js`, import.meta.url));
}

export class DaemonProcess {
  readonly name: DaemonName;
  readonly pid: number;
  readonly exited: Promise<DaemonExit>;
  private readonly child: ChildProcess;
  private readonly tailLines: string[] = [];
  private readonly errorLines: LogLine[] = [];
  private readonly log: WriteStream | null;
  private exit: DaemonExit | null = null;
  private killedBySigkill = false;

  private constructor(options: DaemonOptions) {
    this.name = options.name;
    const args = [
      ...DAEMON_NODE_FLAGS,
      ...profileFlags(options.name),
      daemonScript(options.name),
      `--config-file=${options.configFile}`,
    ];
    if (options.verbose) args.push('--verbose');
    this.child = spawn(process.execPath, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new DaemonError(`could not start ${options.name}`);
    this.pid = this.child.pid;
    trackPid(this.pid);
    this.log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
    const onLine = options.onLine;
    this.readLines(this.child.stdout, (text) => {
      const line = parseLine(text);
      if (line.level === 'error') this.remember(this.errorLines, line, 100);
      onLine?.(line, Date.now());
    });
    this.readLines(this.child.stderr, (text) => {
      this.remember(this.errorLines, { level: 'stderr', msg: text }, 100);
    });
    // 'close', not 'exit': the last log lines (the runner's final totals) are read by then.
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        untrackPid(this.pid);
        this.exit = { code, signal, killed: this.killedBySigkill };
        this.log?.end();
        resolve(this.exit);
      });
    });
  }

  static start(options: DaemonOptions): DaemonProcess {
    return new DaemonProcess(options);
  }

  private readLines(stream: NodeJS.ReadableStream | null, handle: (line: string) => void): void {
    if (!stream) return;
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (text.trim() !== '') {
          this.remember(this.tailLines, text, TAIL_LINES);
          this.log?.write(`${text}\n`);
          handle(text);
        }
        newline = buffer.indexOf('\n');
      }
    });
  }

  private remember<T>(list: T[], item: T, max: number): void {
    list.push(item);
    if (list.length > max) list.shift();
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** error-level lines and stderr lines (the last 100). */
  get errors(): readonly LogLine[] {
    return this.errorLines;
  }

  /** The last stdout/stderr lines, for failure messages. */
  tail(lines = 20): string {
    return this.tailLines.slice(-lines).join('\n');
  }

  /** SIGTERM; SIGKILL if the daemon is still running after graceMs. */
  async stop(graceMs: number): Promise<DaemonExit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.killedBySigkill = true;
      this.child.kill('SIGKILL');
    }
    return this.exited;
  }
}

function parseLine(text: string): LogLine {
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as LogLine;
    } catch {
      // fall through: not JSON
    }
  }
  return { level: 'raw', msg: text };
}

/** "exit 0" / "exit 1" / "killed by SIGKILL after the grace period". */
export function describeExit(exit: DaemonExit): string {
  if (exit.killed) return `did not stop in time: killed with SIGKILL`;
  if (exit.signal) return `ended by ${exit.signal}`;
  return `exit ${exit.code}`;
}

export function cleanExit(exit: DaemonExit): boolean {
  return !exit.killed && exit.signal === null && exit.code === 0;
}
