// Runs one dispatch child to completion under strict supervision:
// - its own process group (detached), so signals reach `php` under `sh -c`/`nice` (B7, W3);
// - stdin is /dev/null; stdout and stderr are read concurrently to EOF with bounded memory (B1, B2, W5);
// - on timeout or abort: SIGTERM to the group, SIGKILL after the grace period, always (W1);
// - the promise settles only once the leader is reaped, its pipes are closed and no group member
//   is left alive, so a slot is never reused while any part of the old tree runs (W1).
//
// child_process.spawn is used rather than execa: execa's timeout/cancel/maxBuffer act on the
// direct child only and maxBuffer aborts the child, whereas here the whole group is signalled and
// output beyond the cap is drained, not fatal.
import { spawn } from 'node:child_process';
import { HeadCapture, TailCapture } from './capped-output.js';
import { liveGroupMembers, signalGroup } from './process-group.js';
import { timerMs } from './timer-ms.js';

export interface ChildRunOptions {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly abort: AbortSignal;
  readonly stdoutCapBytes: number;
  readonly stderrTailBytes: number;
}

export interface ChildRunResult {
  /** Set when the process could not be started (nothing ran). */
  readonly spawnError: Error | null;
  readonly pid: number | null;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stdoutBytes: number;
  readonly stdoutTruncated: boolean;
  /** The last stderrTailBytes of stderr. */
  readonly stderr: string;
  readonly stderrBytes: number;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Strongest signal this module sent to the group. */
  readonly killed: 'SIGTERM' | 'SIGKILL' | null;
  /** Group members still alive when the leader exited on its own (they were then killed). */
  readonly strays: number;
  /** PIDs of the group still alive 10 s after SIGKILL (stuck in the kernel); normally empty. */
  readonly survivors: readonly number[];
  readonly durationMs: number;
}

const PIPE_CLOSE_TIMEOUT_MS = 5000;
const UNKILLABLE_AFTER_MS = 10_000;
const GROUP_POLL_MS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True if `promise` settles within `ms`; the timer is cleared either way. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runChild(options: ChildRunOptions): Promise<ChildRunResult> {
  const started = performance.now();
  const stdout = new HeadCapture(options.stdoutCapBytes);
  const stderr = new TailCapture(options.stderrTailBytes);
  const base = {
    pid: null,
    exitCode: null,
    signal: null,
    stdout: '',
    stdoutBytes: 0,
    stdoutTruncated: false,
    stderr: '',
    stderrBytes: 0,
    timedOut: false,
    killed: null,
    strays: 0,
    survivors: [],
  } as const;

  if (options.abort.aborted) {
    return { ...base, spawnError: null, aborted: true, durationMs: 0 };
  }

  let child;
  try {
    child = spawn(options.file, [...options.args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env,
    });
  } catch (err) {
    // Synchronous failures, e.g. a NUL byte in an argument.
    return { ...base, spawnError: err as Error, aborted: false, durationMs: performance.now() - started };
  }

  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  child.on('error', () => undefined); // later errors (e.g. a failed kill) are handled by polling
  const pid = child.pid;
  if (pid === undefined) {
    const err = await spawnError;
    return { ...base, spawnError: err, aborted: false, durationMs: performance.now() - started };
  }

  let timedOut = false;
  let aborted = false;
  let killed: 'SIGTERM' | 'SIGKILL' | null = null;
  let killTimer: NodeJS.Timeout | undefined;

  const sendKill = (): void => {
    killed = 'SIGKILL';
    signalGroup(pid, 'SIGKILL');
  };
  // SIGTERM now, SIGKILL after the grace period (kept even after the leader exits: the rest of
  // the group may still be running).
  const escalate = (): void => {
    if (killed !== null) return;
    killed = 'SIGTERM';
    signalGroup(pid, 'SIGTERM');
    killTimer = setTimeout(sendKill, timerMs(options.killGraceMs));
  };
  const timeoutTimer = setTimeout(() => {
    timedOut = true;
    escalate();
  }, timerMs(options.timeoutMs));
  const onAbort = (): void => {
    aborted = true;
    escalate();
  };
  options.abort.addEventListener('abort', onAbort, { once: true });

  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const { code, signal } = await exit;
  clearTimeout(timeoutTimer);
  let strays = 0;
  if (killed === null) {
    // The leader finished on its own; anything left in its group is a leak (a backgrounded
    // worker, an orphaned php): stop it the same way.
    strays = liveGroupMembers(pid).length;
    if (strays > 0) escalate();
  }
  // No member may outlive the dispatch; SIGKILL follows SIGTERM after the grace period. Only a
  // process stuck in the kernel survives SIGKILL; it is reported rather than waited for forever.
  let survivors: number[] = [];
  let killSentAt: number | null = null;
  for (;;) {
    survivors = liveGroupMembers(pid);
    if (survivors.length === 0) break;
    escalate();
    if (killed === 'SIGKILL') {
      killSentAt ??= performance.now();
      if (performance.now() - killSentAt > UNKILLABLE_AFTER_MS) break;
    }
    await sleep(GROUP_POLL_MS);
  }
  clearTimeout(killTimer);
  options.abort.removeEventListener('abort', onAbort);
  // The pipes close once the last writer is gone. A process that left the group (setsid) could
  // hold them open indefinitely, so the wait is bounded.
  if (!(await settlesWithin(closed, PIPE_CLOSE_TIMEOUT_MS))) {
    child.stdout.destroy();
    child.stderr.destroy();
  }

  return {
    spawnError: null,
    pid,
    exitCode: code,
    signal,
    stdout: stdout.text(),
    stdoutBytes: stdout.totalBytes,
    stdoutTruncated: stdout.truncated,
    stderr: stderr.text(),
    stderrBytes: stderr.totalBytes,
    timedOut,
    aborted,
    killed,
    strays,
    survivors,
    durationMs: performance.now() - started,
  };
}
