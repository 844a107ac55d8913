// A built farm kept in a cache dir and copied per test farm: install.php runs once per content of the
// farm scripts, not once per test. Concurrent test workers share the build through a lock dir.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FARM_PHP_DIR, MW_FARM_SCRIPT, mediawikiPath } from './farm-paths.js';
import { runCommand } from './php-command.js';
import { isAlive, sleep } from './process-tree.js';

export interface TemplateOptions {
  wikis: number;
  extraWikis: readonly string[];
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

/** Hash of everything that shapes a built farm: the scripts, MediaWiki's version, the options. */
function templateKey(opts: TemplateOptions): { root: string; name: string } {
  const scripts = createHash('sha256');
  for (const file of [MW_FARM_SCRIPT, ...filesUnder(FARM_PHP_DIR)]) {
    scripts.update(relative(FARM_PHP_DIR, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  scripts.update(readFileSync(join(mediawikiPath(), 'includes', 'Defines.php')));
  const variant = createHash('sha256')
    .update(JSON.stringify([opts.wikis, opts.extraWikis]))
    .digest('hex');
  return {
    root: join(tmpdir(), `jobrunner-farm-cache-${scripts.digest('hex').slice(0, 16)}`),
    name: `template-${opts.wikis}-${variant.slice(0, 12)}`,
  };
}

const LOCK_WAIT_MS = 5 * 60_000;

/** Holds `lockDir` (mkdir is atomic) while `fn` runs; takes over a lock whose holder has died. */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let stale = false;
    try {
      const holder = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      stale = !isAlive(holder);
    } catch {
      // pid not written yet: stale only if the lock is old
      const since = statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? 0;
      stale = Date.now() - since > 30_000;
    }
    if (stale) rmSync(lockDir, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`timed out waiting for the farm build lock ${lockDir}`);
    else await sleep(100);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Path of a complete built farm for `opts`, building it first if needed. */
export async function ensureFarmTemplate(opts: TemplateOptions): Promise<string> {
  const { root, name } = templateKey(opts);
  const template = join(root, name);
  const complete = (): boolean => existsSync(join(template, 'wikis.list'));
  if (complete()) return template;
  mkdirSync(root, { recursive: true });
  await withLock(join(root, `${name}.lock`), async () => {
    if (complete()) return;
    // Build beside the final path and rename, so a half-built farm is never visible.
    const staging = join(root, `${name}.building-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    const args = [MW_FARM_SCRIPT, staging, '--wikis', String(opts.wikis)];
    for (const id of opts.extraWikis) args.push('--extra-wiki', id);
    try {
      await runCommand('bash', args, { env: process.env, timeoutMs: 300_000 });
      rmSync(template, { recursive: true, force: true });
      renameSync(staging, template);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
  });
  return template;
}
