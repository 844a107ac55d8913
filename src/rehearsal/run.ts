// Runs a command to its end and keeps its output; the rehearsal's one way to call ip, nsenter and
// the tools inside a host.
import { spawn } from 'node:child_process';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandFailed extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    super(`${argv.join(' ')} exited ${result.code}:\n${(result.stderr + result.stdout).trim().slice(-3000)}`);
    this.name = 'CommandFailed';
  }
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly input?: string;
  /** Reject on a non-zero exit (default true). */
  readonly check?: boolean;
  readonly timeoutMs?: number;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [command, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command ?? 'false', args, {
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer =
      opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (code !== 0 && opts.check !== false) reject(new CommandFailed(argv, result));
      else resolve(result);
    });
    // A command that does not read its input may exit before it is written.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
