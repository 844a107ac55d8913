// Shared by the fault-injection runs (test/faults/*.fault.ts): real daemons spawned from dist/,
// their JSON logs captured, polling helpers, a view of every job's state in Redis, the per-job
// execution record the farm's MediaWiki writes (runJobs debug log), and a figures file per run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { childPids, signalGroup, waitForExit } from '../../src/farm/process-tree.js';
import { requireFreshBuild } from '../support/fresh-build.js';

export const RUNNER_CLI = resolve('dist/cli/jobrunner.js');
export const CHRON_CLI = resolve('dist/cli/jobchron.js');

/** Fails loudly when dist/ is missing or older than the sources the fault runs exercise. */
export function requireBuilt(cli: string, sources: readonly string[]): void {
  requireFreshBuild([cli], sources);
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logs: LogLine[];
  /** Lines that were not JSON (must stay empty: every log line is structured). */
  readonly rawLines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node CLI --config-file=FILE` with stdout parsed as JSON lines. */
export function startDaemon(cli: string, configFile: string, extraArgs: string[] = []): Daemon {
  const child = spawn(process.execPath, [cli, `--config-file=${configFile}`, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${cli}`);
  const logs: LogLine[] = [];
  const rawLines: string[] = [];
  const take = (line: string): void => {
    if (!line.trim()) return;
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      rawLines.push(line);
    }
  };
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    lines.forEach(take);
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('close', (code, signal) => {
      take(buffer);
      if (stderr.trim()) rawLines.push(`stderr: ${stderr}`);
      done({ code, signal });
    }),
  );
  return { child, pid: child.pid, logs, rawLines, exited };
}

/**
 * SIGKILL the daemon; with `withChildren`, also SIGKILL each child's process group first, as
 * systemd does to the whole cgroup. Returns the child PIDs it saw.
 */
export async function kill9(daemon: Daemon, withChildren: boolean): Promise<number[]> {
  const children = childPids(daemon.pid);
  if (withChildren) for (const pid of children) signalGroup(pid, 'SIGKILL');
  daemon.child.kill('SIGKILL');
  await daemon.exited;
  if (withChildren) {
    for (const pid of children) {
      if (!(await waitForExit(pid, 10_000))) throw new Error(`child ${pid} survived SIGKILL`);
    }
  }
  return children;
}

/** Stops a daemon that may still be running (test clean-up). */
export async function stopDaemon(daemon: Daemon | undefined): Promise<void> {
  if (!daemon || daemon.child.exitCode !== null || daemon.child.signalCode !== null) return;
  daemon.child.kill('SIGTERM');
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), 15_000);
  await daemon.exited;
  clearTimeout(timer);
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Last lines of a daemon's log, for failure messages. */
export function tail(daemon: Daemon | undefined, n = 30): string {
  if (!daemon) return '';
  return [...daemon.logs.slice(-n).map((l) => JSON.stringify(l)), ...daemon.rawLines.slice(-5)].join('\n');
}

/** The fuzz suites' seeded PRNG, so every fault run is reproducible from its seed. */
export { seeded as seededRandom } from '../fuzz/generators.js';

export interface QueueState {
  /** "wiki type" */
  readonly queue: string;
  readonly data: Set<string>;
  readonly unclaimed: string[];
  readonly claimed: string[];
  readonly abandoned: string[];
  readonly delayed: string[];
}

/** Every (wiki, type) queue's job IDs per state, read straight from MediaWiki's Redis keys. */
export async function queueStates(client: Redis): Promise<QueueState[]> {
  const out: QueueState[] = [];
  const queues = new Set<string>();
  for (const suffix of ['h-data', 'l-unclaimed', 'z-claimed', 'z-abandoned', 'z-delayed']) {
    for (const key of await client.keys(`*:jobqueue:*:${suffix}`)) {
      queues.add(key.slice(0, -suffix.length - 1));
    }
  }
  for (const prefix of [...queues].sort()) {
    const [wiki, , type] = prefix.split(':');
    out.push({
      queue: `${wiki ?? '?'} ${type ?? '?'}`,
      data: new Set(await client.hkeys(`${prefix}:h-data`)),
      unclaimed: await client.lrange(`${prefix}:l-unclaimed`, 0, -1),
      claimed: await client.zrange(`${prefix}:z-claimed`, 0, -1),
      abandoned: await client.zrange(`${prefix}:z-abandoned`, 0, -1),
      delayed: await client.zrange(`${prefix}:z-delayed`, 0, -1),
    });
  }
  return out;
}

export interface Consistency {
  stored: number;
  unclaimed: number;
  claimed: number;
  abandoned: number;
  delayed: number;
  /** Job IDs found in two states, or twice in one list. */
  inTwoStates: string[];
  /** h-data entries in no state (would never run again). */
  orphanedData: string[];
  /** State entries without h-data (a job whose body was lost). */
  missingData: string[];
}

/** Checks that every job is in exactly one state and has its data. */
export function checkConsistency(states: readonly QueueState[]): Consistency {
  const c: Consistency = {
    stored: 0,
    unclaimed: 0,
    claimed: 0,
    abandoned: 0,
    delayed: 0,
    inTwoStates: [],
    orphanedData: [],
    missingData: [],
  };
  for (const s of states) {
    c.stored += s.data.size;
    c.unclaimed += s.unclaimed.length;
    c.claimed += s.claimed.length;
    c.abandoned += s.abandoned.length;
    c.delayed += s.delayed.length;
    const seen = new Set<string>();
    for (const id of [...s.unclaimed, ...s.claimed, ...s.abandoned, ...s.delayed]) {
      if (seen.has(id)) c.inTwoStates.push(`${s.queue} ${id}`);
      seen.add(id);
      if (!s.data.has(id)) c.missingData.push(`${s.queue} ${id}`);
    }
    for (const id of s.data) if (!seen.has(id)) c.orphanedData.push(`${s.queue} ${id}`);
  }
  return c;
}

export async function claimedIds(client: Redis): Promise<string[]> {
  return (await queueStates(client)).flatMap((s) => s.claimed);
}

export interface Executions {
  /** uuid → number of successful runs ("… good" lines). */
  readonly good: Map<string, number>;
  /** "wiki type seq" → uuid, to check every pushed job ran. */
  readonly bySeq: Map<string, string>;
}

const GOOD_LINE = /^\S+ \S+ \S+ (\S+): (\S+) .*? seq=(\d+) .*\(uuid=([0-9a-f]{32}),.*\) t=\S+ good$/;

/** Parses the farm's logs/runJobs.log (buildFarm({debugLog: true})): one "good" line per job run. */
export function readExecutions(farmDir: string): Executions {
  const file = join(farmDir, 'logs', 'runJobs.log');
  const good = new Map<string, number>();
  const bySeq = new Map<string, string>();
  if (!existsSync(file)) return { good, bySeq };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = GOOD_LINE.exec(line);
    if (!m) continue;
    const [, wiki, type, seq, uuid] = m as unknown as [string, string, string, string, string];
    good.set(uuid, (good.get(uuid) ?? 0) + 1);
    bySeq.set(`${wiki} ${type} ${seq}`, uuid);
  }
  return { good, bySeq };
}

/** Figures of one fault run, written to test-artifacts/faults/NAME.json for the README table. */
export function writeFigures(name: string, figures: Record<string, unknown>): void {
  const dir = resolve('test-artifacts/faults');
  mkdirSync(dir, { recursive: true });
  const body = { fault: name, measuredAt: new Date().toISOString(), ...figures };
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(`FAULT FIGURES ${JSON.stringify(body)}\n`);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
