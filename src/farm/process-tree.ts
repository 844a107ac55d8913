// Process helpers for server fixtures: liveness by PID (zombies count as dead), bounded waits,
// TERM-then-KILL, process groups, and a last-resort kill of every fixture still alive at exit.
import { readFileSync, accessSync, constants, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: exists but belongs to someone else; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the command name (field 2) may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // gone between the two checks
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `pid` is gone; resolves false if it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pause = 5;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pause);
    pause = Math.min(pause * 2, 50);
  }
  return true;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** SIGTERM, then SIGKILL once `graceMs` has passed; resolves when the process is gone. */
export async function terminate(pid: number, graceMs = 5000): Promise<void> {
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return;
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5000))) throw new Error(`process ${pid} survived SIGKILL`);
}

/** Signals the whole process group led by `pgid` (a child spawned with `detached: true`). */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  signal(-pgid, sig);
}

/** Children of `pid`, from /proc (used to find php -S workers, which outlive their parent). */
export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

// PIDs of fixture servers still running and temp dirs they own. A synchronous exit hook kills and
// removes them so a crashed or forgetful test run does not leave servers or files behind.
const live = new Set<number>();
const dirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const p of live) signal(p, 'SIGKILL');
    for (const d of dirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // a server SIGKILLed just above may still be writing into it (ENOTEMPTY); an exit hook must
        // not throw, so the dir is left behind
      }
    }
  });
}

export function trackPid(pid: number): void {
  live.add(pid);
  hookExit();
}

/** Removes `dir` when the process exits, unless untrackDir() was called first. */
export function trackDir(dir: string): void {
  dirs.add(dir);
  hookExit();
}

export function untrackDir(dir: string): void {
  dirs.delete(dir);
}

export function untrackPid(pid: number): void {
  live.delete(pid);
}

export class MissingDependencyError extends Error {
  constructor(what: string) {
    super(`${what} is missing: run \`sudo bash scripts/setup.sh\` to install it`);
    this.name = 'MissingDependencyError';
  }
}

/**
 * Absolute path of `command` on PATH, or throws MissingDependencyError naming `what` (say which
 * package provides it).
 */
export function requireExecutable(command: string, what = `\`${command}\` (not found on PATH)`): string {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new MissingDependencyError(what);
}
