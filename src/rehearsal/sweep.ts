// Ownership and removal of rehearsal farms. Every farm has its own id, so its namespaces and
// directory are `<family><id>-…` (e.g. jr17-k3x9-runner1): two test suites on one machine build
// two farms side by side. A farm's owner file (`<baseDir>/<family><id>.owner`: PID and start time
// of the process that built it) is written before anything else of the farm exists and removed
// last, so a sweep removes only farms whose owner is dead (a crashed or killed run), never a live
// one.
import {
  linkSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ID = /^[a-z0-9]{4}$/;

function checkFamily(family: string): void {
  if (!/^[a-z0-9]+-$/.test(family))
    throw new Error(`refusing to use farm family ${JSON.stringify(family)} (want e.g. "jr17-")`);
}

/** Start time of a process (clock ticks after boot, /proc/PID/stat field 22); undefined if gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const ownerFile = (family: string, id: string, baseDir: string): string =>
  join(baseDir, `${family}${id}.owner`);

/**
 * Picks a free farm id of the family and records this process as its owner. The file appears
 * with its content at once (written aside, then hard-linked: link fails if the id is taken).
 */
export function claimFarmId(family: string, baseDir: string): string {
  checkFamily(family);
  const me = `${process.pid} ${startTime(process.pid) ?? ''}\n`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const id = Math.random().toString(36).slice(2, 6).padEnd(4, '0');
    const tmp = join(baseDir, `.${family}${id}.owner.${process.pid}`);
    writeFileSync(tmp, me);
    try {
      linkSync(tmp, ownerFile(family, id, baseDir));
      return id;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(tmp);
    }
  }
  throw new Error(`no free farm id in family ${family} under ${baseDir}`);
}

export function releaseFarmId(family: string, id: string, baseDir: string): void {
  rmSync(ownerFile(family, id, baseDir), { force: true });
}

/** Whether the process that claimed `id` still runs (same PID and start time). */
export function ownerAlive(family: string, id: string, baseDir: string): boolean {
  let text: string;
  try {
    text = readFileSync(ownerFile(family, id, baseDir), 'utf8');
  } catch {
    return false;
  }
  const [pid, started] = text.trim().split(' ');
  return started !== undefined && startTime(Number(pid)) === started;
}

/**
 * Processes whose network namespace is one of `inodes` ("net:[N]"): one pass over /proc for all
 * of a farm's namespaces (what `ip netns pids` does for one, a process per namespace per round).
 */
function processesIn(inodes: ReadonlySet<string>): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry));
    } catch {
      // Exited meanwhile, or a kernel thread.
    }
  }
  return pids;
}

export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const list = await run(['ip', 'netns', 'list']);
  return list.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/**
 * Removes one farm (`prefix` = `<family><id>-`) whatever its owner: every process in its
 * namespaces, the namespaces and its directories. Safe to run when nothing is left.
 */
export async function removeFarm(
  prefix: string,
  baseDir: string,
): Promise<{ namespaces: string[]; dirs: string[] }> {
  if (!/^[a-z0-9]+-[a-z0-9]{4}-$/.test(prefix))
    throw new Error(`refusing to remove farm ${JSON.stringify(prefix)}`);
  const namespaces = await namespacesWithPrefix(prefix);
  const inodes = new Set<string>();
  for (const ns of namespaces) {
    try {
      inodes.add(`net:[${statSync(`/run/netns/${ns}`).ino}]`);
    } catch {
      // Listed but already being deleted.
    }
  }
  for (let round = 0; round < 100 && inodes.size > 0; round++) {
    const pids = processesIn(inodes);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await sleep(100);
  }
  for (const ns of namespaces) await run(['ip', 'netns', 'del', ns], { check: false });
  const dirs = readdirSync(baseDir)
    .filter((name) => name.startsWith(`${prefix}farm-`))
    .map((name) => join(baseDir, name));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return { namespaces, dirs };
}

/** Removes the farms of `family` whose owner process is dead; returns their ids. */
export async function sweepDeadFarms(family: string, baseDir: string): Promise<string[]> {
  checkFamily(family);
  const ids = new Set<string>();
  const idOf = (name: string): void => {
    const id = name.slice(family.length).split(/[-.]/)[0] ?? '';
    if (name.startsWith(family) && ID.test(id)) ids.add(id);
  };
  for (const ns of await namespacesWithPrefix(family)) idOf(ns);
  for (const name of readdirSync(baseDir)) idOf(name);
  const dead = [...ids].filter((id) => !ownerAlive(family, id, baseDir));
  for (const id of dead) {
    await removeFarm(`${family}${id}-`, baseDir);
    releaseFarmId(family, id, baseDir);
  }
  return dead;
}
