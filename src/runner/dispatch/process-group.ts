// Signals and liveness for a dispatch child's process group. Every child is spawned as the leader
// of its own group, so `php runJobs.php` under `sh -c` or `nice` is reached too (original bug B7).
import { readFileSync, readdirSync } from 'node:fs';

/** Sends `signal` to every process in group `pgid`; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true; // exists, but not ours to signal
    throw err;
  }
}

/**
 * PIDs of live (non-zombie) members of group `pgid`. kill(-pgid, 0) alone also counts zombies,
 * which linger when PID 1 does not reap orphans, so /proc is read when the group still answers.
 */
export function liveGroupMembers(pgid: number): number[] {
  if (!signalGroup(pgid, 0)) return [];
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [pgid]; // no /proc: trust kill(0)
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 0x30 || entry.charCodeAt(0) > 0x39) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the command name (which may contain spaces and parentheses): state ppid pgrp …
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') members.push(Number(entry));
  }
  return members;
}
