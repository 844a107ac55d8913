// Starts a server binary as a tracked child process and waits until a probe says it is ready,
// failing fast (with the tail of its log) if it exits first.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { sleep, trackPid, untrackPid, isAlive, terminate, waitForExit } from './process-tree.js';

export class ServerStartError extends Error {
  constructor(
    message: string,
    /** True when the server reported the port as taken, so a retry on another port may work. */
    readonly portInUse: boolean,
  ) {
    super(message);
    this.name = 'ServerStartError';
  }
}

export interface SpawnedServer {
  pid: number;
  /** Resolves once the process has exited (zombie reaped). */
  exited: Promise<void>;
}

export interface SpawnServerOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  /** File the server logs to (read on failure). */
  logFile?: string;
  /** Resolves true once the server answers; errors count as "not yet". */
  probe: () => Promise<boolean>;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

function tail(file: string | undefined, captured: string): string {
  let text = captured;
  if (file) {
    try {
      text += readFileSync(file, 'utf8');
    } catch {
      // no log yet
    }
  }
  return text.trim().split('\n').slice(-15).join('\n');
}

export async function spawnServer(opts: SpawnServerOptions): Promise<SpawnedServer> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 20_000) stderr += chunk;
  });
  const spawnFailure = new Promise<Error>((resolve) => child.once('error', resolve));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    if (child.pid !== undefined) untrackPid(child.pid);
  });
  // Let the caller's process exit even if the server is still running; the exit hook kills it.
  child.unref();
  (child.stderr as Socket).unref();

  const pid = child.pid;
  if (pid === undefined) {
    const err = await spawnFailure;
    throw new ServerStartError(`${opts.name}: could not start ${opts.command}: ${err.message}`, false);
  }
  trackPid(pid);

  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (hasExited || !isAlive(pid)) {
      const log = tail(opts.logFile, stderr);
      throw new ServerStartError(
        `${opts.name} exited during start-up:\n${log}`,
        /address already in use|EADDRINUSE|failed to listen/i.test(log),
      );
    }
    if (await opts.probe().catch(() => false)) return { pid, exited };
    if (Date.now() > deadline) {
      await terminate(pid, 2000);
      throw new ServerStartError(`${opts.name} did not answer within ${opts.timeoutMs ?? 10_000} ms`, false);
    }
    await sleep(10);
  }
}

/** Stops a spawned server: SIGTERM, SIGKILL after `graceMs`. */
export async function stopServer(server: SpawnedServer, graceMs = 5000): Promise<void> {
  await terminate(server.pid, graceMs);
  await Promise.race([server.exited, waitForExit(server.pid, 1000)]);
  untrackPid(server.pid);
}
