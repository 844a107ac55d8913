// CPU affinity for a benchmark's processes (Linux taskset, every thread of a process). On a small
// machine the benchmark's peers (executor, Redis, broker) share the cores with the process under
// test, and loopback wake-ups pull a woken peer onto the waker's core: the process under test is
// then preempted in the middle of its system calls, a cost it would not pay in production, where
// those peers run on other hosts. Pinning gives it one core and its peers the others.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

export interface Pinning {
  /** The CPU list of the process under test and of its peers, as taskset writes them. */
  readonly own: string;
  readonly peers: string;
}

/**
 * The machine's CPUs, not this process's affinity (availableParallelism() reads the affinity, so
 * after pin() it would answer 1 and a reset would pin everything to core 0).
 */
function machineCores(): number {
  return Math.max(1, cpus().length);
}

/** One core for the process under test, the rest for its peers; undefined below 2 cores. */
export function splitCores(): Pinning | undefined {
  const cores = machineCores();
  if (cores < 2) return undefined;
  return { own: '0', peers: cores === 2 ? '1' : `1-${cores - 1}` };
}

export function allCores(): string {
  const cores = machineCores();
  return cores === 1 ? '0' : `0-${cores - 1}`;
}

/** Sets the affinity of every thread of `pid`. */
export function pin(pid: number, cpus: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  } catch (error) {
    throw new Error(
      `taskset -a -p -c ${cpus} ${pid} failed (util-linux's taskset is needed for --pin): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
