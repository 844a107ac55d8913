// A built farm kept in a cache dir and copied per test farm: install.php runs once per content of the
// farm scripts, not once per test. Concurrent test workers share the build through a lock dir.
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
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
import { startMariaDb, type MariaDbHandle } from './mariadb-server.js';

export interface TemplateOptions {
  wikis: number;
  extraWikis: readonly string[];
  /** Install the wikis on this many MariaDB servers (sections) instead of SQLite. */
  mariadbSections?: number;
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
  const sections = opts.mariadbSections ?? 0;
  const variant = createHash('sha256')
    .update(
      JSON.stringify(sections > 0 ? [opts.wikis, opts.extraWikis, sections] : [opts.wikis, opts.extraWikis]),
    )
    .digest('hex');
  const kind = sections > 0 ? `mariadb${sections}-` : '';
  return {
    root: join(tmpdir(), `jobrunner-farm-cache-${scripts.digest('hex').slice(0, 16)}`),
    name: `template-${kind}${opts.wikis}-${variant.slice(0, 12)}`,
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
      if ((opts.mariadbSections ?? 0) > 0) await buildOnMariaDb(staging, args, opts.mariadbSections ?? 0);
      else await runCommand('bash', args, { env: process.env, timeoutMs: 300_000 });
      rmSync(template, { recursive: true, force: true });
      renameSync(staging, template);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
  });
  return template;
}

/** The account the MariaDB farms' wikis use (each farm copy gets its own password for it). */
export const MARIADB_FARM_USER = 'jobrunner';

/** Section names of a MariaDB farm: s1, s2, ... (Wikimedia's names for its database sections). */
export function sectionNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `s${i + 1}`);
}

/**
 * Runs mw-farm.sh --db mysql against fresh MariaDB servers (short temp dirs: socket paths are
 * limited to 107 bytes), then stops them cleanly and keeps their data dirs in the template as
 * mariadb/<section>/data, ready to be copied and started per farm.
 */
async function buildOnMariaDb(staging: string, args: string[], sections: number): Promise<void> {
  const names = sectionNames(sections);
  const dirs = names.map(() => mkdtempSync(join(tmpdir(), 'jobrunner-mariadb-')));
  const servers: MariaDbHandle[] = [];
  try {
    const password = randomBytes(16).toString('hex');
    for (const dir of dirs) {
      const server = await startMariaDb({ dir });
      servers.push(server);
      await server.createUser(MARIADB_FARM_USER, password);
    }
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'db.pass'), `${password}\n`, { mode: 0o600 });
    const env = {
      ...process.env,
      JOBRUNNER_FARM_DB_SERVERS: names.map((name, i) => `${name}=${servers[i]?.address ?? ''}`).join(','),
      JOBRUNNER_FARM_DB_USER: MARIADB_FARM_USER,
    };
    await runCommand('bash', [...args, '--db', 'mysql'], { env, timeoutMs: 300_000 });
    // A clean shutdown, so the copied data dirs start without crash recovery.
    for (const server of servers.splice(0)) await server.stop();
    names.forEach((name, i) => {
      mkdirSync(join(staging, 'mariadb', name), { recursive: true });
      renameSync(join(dirs[i] ?? '', 'data'), join(staging, 'mariadb', name, 'data'));
    });
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
