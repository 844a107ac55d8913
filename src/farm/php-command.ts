// Runs PHP (maintenance scripts of the farm) and collects its output.
import { spawn } from 'node:child_process';

export class FarmCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'FarmCommandError';
  }
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunCommandOptions {
  env: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs `command args`; rejects with FarmCommandError on a non-zero exit, a signal or a timeout. */
export function runCommand(command: string, args: string[], opts: RunCommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    const shown = [command, ...args].join(' ');
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new FarmCommandError(`${shown}: ${err.message}`, null, stdout, stderr));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve({ stdout, stderr, exitCode: 0 });
        return;
      }
      const why = timedOut
        ? `timed out after ${opts.timeoutMs ?? 120_000} ms`
        : signal
          ? `killed by ${signal}`
          : `exit ${code}`;
      const detail = (stderr.trim() || stdout.trim()).split('\n').slice(0, 20).join('\n');
      reject(new FarmCommandError(`${shown}: ${why}\n${detail}`, code, stdout, stderr));
    });
    child.stdin.on('error', () => undefined); // the process may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Parses runJobs-style output: the whole text, or else the last JSON object that starts a line
 * (PHP notices can precede the JSON; the pretty-printed object starts at column 0).
 */
export function parseLastJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    for (let at = trimmed.lastIndexOf('\n{'); at >= 0; at = trimmed.lastIndexOf('\n{', at - 1)) {
      try {
        return JSON.parse(trimmed.slice(at + 1)) as unknown;
      } catch {
        // try an earlier line
      }
    }
    throw new Error(`no JSON object in output: ${trimmed.slice(0, 500)}`);
  }
}
