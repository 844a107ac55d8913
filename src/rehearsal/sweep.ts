// Removes whatever a rehearsal farm with this prefix left behind (a crashed run, a killed test):
// every process in its network namespaces, the namespaces, and its root directories. Safe to run
// when nothing is left.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const list = await run(['ip', 'netns', 'list']);
  return list.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

export async function sweep(
  prefix: string,
  baseDir: string,
): Promise<{ namespaces: string[]; dirs: string[] }> {
  if (!/^[a-z0-9]+-$/.test(prefix))
    throw new Error(`refusing to sweep with prefix ${JSON.stringify(prefix)}`);
  const namespaces = await namespacesWithPrefix(prefix);
  for (let round = 0; round < 50; round++) {
    let left = 0;
    for (const ns of namespaces) {
      const pids = (await run(['ip', 'netns', 'pids', ns], { check: false })).stdout
        .split(/\s+/)
        .filter(Boolean);
      for (const pid of pids) {
        left++;
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    if (left === 0) break;
    await sleep(100);
  }
  for (const ns of namespaces) await run(['ip', 'netns', 'del', ns], { check: false });
  const dirs = readdirSync(baseDir)
    .filter((name) => name.startsWith(`${prefix}farm-`))
    .map((name) => join(baseDir, name));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return { namespaces, dirs };
}
