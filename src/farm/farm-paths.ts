// Where the farm's inputs live: the repository's scripts (also when running from dist/) and MediaWiki.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { MissingDependencyError, requireExecutable } from './process-tree.js';

/** Repository root: this file is src/farm/*.ts or dist/farm/*.js, two levels down. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MW_FARM_SCRIPT = join(REPO_ROOT, 'scripts', 'mw-farm.sh');
export const FARM_PHP_DIR = join(REPO_ROOT, 'scripts', 'farm');

export function mediawikiPath(): string {
  return process.env.MW_INSTALL_PATH ?? '/usr/share/mediawiki';
}

/** Checks php, MediaWiki and the farm scripts; returns the MediaWiki version (e.g. "1.39.17"). */
export function requireFarmPrerequisites(): string {
  requireExecutable('php');
  requireExecutable('bash');
  const mw = mediawikiPath();
  const defines = join(mw, 'includes', 'Defines.php');
  if (!existsSync(join(mw, 'maintenance', 'runJobs.php')) || !existsSync(defines)) {
    throw new MissingDependencyError(`MediaWiki (${mw}, Debian package mediawiki)`);
  }
  if (!existsSync(MW_FARM_SCRIPT)) {
    throw new Error(`farm build script not found at ${MW_FARM_SCRIPT} (is the repository complete?)`);
  }
  const version = /define\(\s*'MW_VERSION',\s*'([^']+)'/.exec(readFileSync(defines, 'utf8'));
  return version?.[1] ?? 'unknown';
}

/**
 * The unmodified EventBus extension (REL1_39): $JOBRUNNER_EVENTBUS_DIR, else
 * shared/vendor/mediawiki-extensions-EventBus in a folder above the repository.
 */
export function eventBusPath(): string {
  const fromEnv = process.env.JOBRUNNER_EVENTBUS_DIR;
  const candidates: string[] = fromEnv ? [fromEnv] : [];
  if (!fromEnv) {
    for (let dir = dirname(REPO_ROOT); ; dir = dirname(dir)) {
      candidates.push(join(dir, 'shared', 'vendor', 'mediawiki-extensions-EventBus'));
      if (dirname(dir) === dir) break;
    }
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'extension.json')));
  if (found === undefined) {
    throw new MissingDependencyError(
      `the EventBus extension REL1_39 (set JOBRUNNER_EVENTBUS_DIR; looked in ${candidates.join(', ')})`,
    );
  }
  return found;
}
