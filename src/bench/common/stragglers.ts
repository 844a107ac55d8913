// Finds processes left behind by a demo or benchmark run: every process whose environment carries
// the run's own MW_CONFIG_FILE (runJobs.php children, php -S workers) was started, directly or
// not, by this run, because that path is a fresh temp dir. They are ended by PID only.
import { readFileSync, readdirSync } from 'node:fs';
import { isAlive, sleep } from '../../farm/process-tree.js';

/** PIDs of live processes (not this one) whose environment has NAME=VALUE exactly. */
export function processesWithEnv(name: string, value: string): number[] {
  const wanted = Buffer.from(`${name}=${value}\0`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone, or not readable
    }
    const at = environ.indexOf(wanted);
    if ((at === 0 || (at > 0 && environ[at - 1] === 0)) && isAlive(Number(entry))) found.push(Number(entry));
  }
  return found;
}

/** SIGKILLs each PID and waits up to 2 s for them to go; returns the PIDs that were alive. */
export async function killStragglers(pids: readonly number[]): Promise<number[]> {
  const alive = pids.filter(isAlive);
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 2000;
  while (alive.some(isAlive) && Date.now() < deadline) await sleep(20);
  return alive;
}
