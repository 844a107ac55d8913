// A built daemon (node dist/cli/<name>.js) run as a child process, its JSON log lines collected.
import { spawn, type ChildProcess } from 'node:child_process';
import type { LogLine } from './log-capture.js';

export interface DaemonExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Daemon {
  readonly child: ChildProcess;
  /** stdout's JSON lines in order; a line that is not JSON is kept as { msg: 'stdout', text }. */
  readonly logs: LogLine[];
  /** Resolves after stdout and stderr are fully read ('exit' may come before that). */
  readonly exited: Promise<DaemonExit>;
}

export interface DaemonOptions {
  /** Pass --verbose (debug logging); default true. */
  readonly verbose?: boolean;
  /** 'keep': stderr becomes one { msg: 'stderr', text } log line at the end (default); 'pass': to this process's stderr. */
  readonly stderr?: 'keep' | 'pass';
  /** More command-line arguments. */
  readonly args?: readonly string[];
  /** A command that runs node, e.g. ['setpriv', '--no-new-privs', '--'] (default: none). */
  readonly via?: readonly string[];
  /** Node options before the script (e.g. --import of a test hook). */
  readonly nodeArgs?: readonly string[];
}

function parseLine(line: string): LogLine {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return { msg: 'stdout', text: line };
  }
}

/** Starts `node <cli> --config-file=<configFile> [--verbose]`. */
export function startDaemon(cli: string, configFile: string, options: DaemonOptions = {}): Daemon {
  const args = [
    ...(options.nodeArgs ?? []),
    cli,
    `--config-file=${configFile}`,
    ...(options.verbose === false ? [] : ['--verbose']),
    ...(options.args ?? []),
  ];
  const [file, ...prefix] = [...(options.via ?? []), process.execPath];
  const child = spawn(file as string, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) logs.push(parseLine(line));
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (options.stderr === 'pass') process.stderr.write(chunk);
    else stderr += chunk.toString();
  });
  const exited = new Promise<DaemonExit>((resolve) =>
    child.on('close', (code, signal) => {
      if (buffer.trim()) logs.push(parseLine(buffer));
      if (stderr.trim()) logs.push({ msg: 'stderr', text: stderr });
      resolve({ code, signal });
    }),
  );
  return { child, logs, exited };
}

/** True until the process has exited or been killed by a signal. */
export function isRunning(daemon: Daemon): boolean {
  return daemon.child.exitCode === null && daemon.child.signalCode === null;
}

/** SIGKILLs daemons still running and waits until they are gone. */
export async function killDaemons(daemons: readonly Daemon[]): Promise<void> {
  for (const d of daemons) if (isRunning(d)) d.child.kill('SIGKILL');
  await Promise.all(daemons.map((d) => d.exited));
}
