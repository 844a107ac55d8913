// Tests that run the built daemons and CLIs (dist/) fail loudly when the build is missing or older
// than the sources: a stale dist/ would quietly test old code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestFile(path: string): { file: string; mtime: number } {
  const stat = statSync(path);
  if (!stat.isDirectory()) return { file: path, mtime: stat.mtimeMs };
  let newest = { file: path, mtime: 0 };
  for (const name of readdirSync(path)) {
    const candidate = newestFile(join(path, name));
    if (candidate.mtime > newest.mtime) newest = candidate;
  }
  return newest;
}

/** Throws, naming the file and the fix, unless every `built` file exists and is newer than `sources`. */
export function requireFreshBuild(built: readonly string[], sources: readonly string[] = ['src']): void {
  for (const file of built) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  for (const file of built) {
    const builtAt = statSync(file).mtimeMs;
    for (const source of sources) {
      const newest = newestFile(source);
      if (newest.mtime > builtAt)
        throw new Error(`${file} is older than ${newest.file}: run \`npm run build\` first`);
    }
  }
}
