// Shared by the scap integration tests: real jobrunner/jobchron processes from a built bundle, the
// deploy scripts run as scap runs them (a child process, settings in the environment), polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isAlive, terminate, trackPid, untrackPid } from '../../src/farm/process-tree.js';
import { until as pollUntil } from '../support/until.js';

export const REPO = resolve('.');
export const SCRIPTS = join(REPO, 'scap', 'scripts');

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <script>` with only PATH/HOME from this process plus `env`, like a scap check. */
export function runScript(
  script: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ScriptResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export interface Daemon {
  readonly name: 'jobrunner' | 'jobchron';
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM (the drain), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `node <codeDir>/dist/cli/<name>.js --config-file=<configFile>`. */
export function startDaemon(name: 'jobrunner' | 'jobchron', configFile: string, codeDir = REPO): Daemon {
  const child = spawn(
    process.execPath,
    [join(codeDir, 'dist', 'cli', `${name}.js`), `--config-file=${configFile}`],
    {
      cwd: codeDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  const pid = child.pid;
  trackPid(pid);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  return {
    name,
    pid,
    child,
    output: () => text,
    async stop(graceMs = 15_000) {
      if (isAlive(pid)) await terminate(pid, graceMs);
      untrackPid(pid);
    },
  };
}

/** Polls `cond` every 50 ms; throws naming `what` after `timeoutMs`. */
export function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  return pollUntil(cond, what, timeoutMs, { pollMs: 50 });
}

/** GET status code, or 0 when nothing answers. */
export async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Waits until the daemon's status server says ready, failing early if the process died. */
export async function waitReady(daemon: Daemon, baseUrl: string, timeoutMs = 30_000): Promise<void> {
  await until(
    async () => {
      if (!isAlive(daemon.pid)) throw new Error(`${daemon.name} exited during start-up:\n${daemon.output()}`);
      return (await httpStatus(`${baseUrl}/readyz`)) === 200;
    },
    `${daemon.name} ready at ${baseUrl}`,
    timeoutMs,
  );
}

export function writeJson(file: string, value: unknown): string {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}
