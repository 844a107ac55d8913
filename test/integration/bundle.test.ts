// The entries that package.json "bin", the systemd units and scap run (dist/cli/<entry>.js) are the
// esbuild bundles of scripts/bundle.mjs: each answers --version and --check-config, finds its
// assets (schema, precompiled validator, package.json) from there, and imports nothing of tsc's
// dist/ tree, only its own chunks, Node's modules and the packages left external.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireFreshBuild } from '../support/fresh-build.js';

const run = promisify(execFile);
const CLI = 'dist/cli';
const ENTRIES = ['jobrunner', 'jobchron', 'jobrunner-intake', 'jobqueue'] as const;
const SAMPLE = 'test/fixtures/configs/jobrunner.sample.conf';
const EXTERNAL = new Set(['yargs', '@platformatic/kafka']);
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** What a bundle file imports: static `from "x"` and dynamic `import("x")` specifiers. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // esbuild writes each import or re-export statement at the start of a line.
  const statements = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)";/gm)];
  const dynamic = [...text.matchAll(/\bimport\("([^"]+)"\)/g)];
  return [...statements, ...dynamic].map((m) => m[1] ?? '');
}

beforeAll(() => {
  requireFreshBuild(ENTRIES.map((name) => join(CLI, `${name}.js`)));
});

describe('bundled entries', () => {
  it.each(ENTRIES)('%s answers --version from the bundle', async (name) => {
    const { stdout } = await run(process.execPath, [join(CLI, `${name}.js`), '--version']);
    expect(stdout.trim()).toBe(version);
  });

  it.each(['jobrunner', 'jobchron'] as const)('%s --check-config validates the sample', async (name) => {
    const { stdout } = await run(process.execPath, [join(CLI, `${name}.js`), '--check-config', '-c', SAMPLE]);
    expect(stdout).toBe(`config OK: ${SAMPLE} (5 groups, 2 queue partitions, backend redis)\n`);
  });

  it('jobrunner --check-config names the problem of a broken file and exits 1', async () => {
    const failure = await run(process.execPath, [
      join(CLI, 'jobrunner.js'),
      '--check-config',
      '-c',
      'test/fixtures/configs/does-not-exist.conf',
    ]).then(
      () => null,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('does-not-exist.conf');
  });

  it('imports only its chunks, node: modules and the external packages', () => {
    const files = [
      ...ENTRIES.map((name) => `${name}.js`),
      ...readdirSync(CLI).filter((name) => /^chunk-[A-Z0-9]+\.js$/.test(name)),
    ];
    expect(files.length).toBeGreaterThan(ENTRIES.length);
    for (const file of files) {
      for (const spec of importsOf(join(CLI, file))) {
        const ok =
          spec.startsWith('node:') ||
          /^\.\/chunk-[A-Z0-9]+\.js$/.test(spec) ||
          EXTERNAL.has(
            spec
              .split('/')
              .slice(0, spec.startsWith('@') ? 2 : 1)
              .join('/'),
          );
        expect({ file, spec, ok }).toEqual({ file, spec, ok: true });
      }
    }
  });
});
