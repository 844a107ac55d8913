// The validator compiled at build time (dist/config/jobrunner.validator.cjs, used by the daemons and
// the CLI) must judge every config exactly like the one Ajv compiles at run time from the schema.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { schemaValidatorOrigin } from '../../src/config/schema.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const BUILT = resolve('dist/config/jobrunner.validator.cjs');
const SCHEMA = resolve('src/config/jobrunner.schema.json');
const FIXTURES = resolve('test/fixtures/configs');

const files = [
  `${FIXTURES}/jobrunner.sample.conf`,
  `${FIXTURES}/production.conf`,
  ...readdirSync(`${FIXTURES}/broken`).map((name) => `${FIXTURES}/broken/${name}`),
];

/** The outcome of loading one file: the config, or the error text. */
function outcome(load: () => unknown): string {
  try {
    return JSON.stringify(load());
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The same outcomes from the built tree, in a child process (so it loads the precompiled file). */
function builtOutcomes(): { origin: string; results: string[] } {
  const script = `
    const { loadConfigFile } = await import(${JSON.stringify(resolve('dist/config/load.js'))});
    const { schemaValidatorOrigin } = await import(${JSON.stringify(resolve('dist/config/schema.js'))});
    const results = ${JSON.stringify(files)}.map((file) => {
      try { return JSON.stringify(loadConfigFile(file)); }
      catch (error) { return 'error: ' + error.message; }
    });
    process.stdout.write(JSON.stringify({ origin: schemaValidatorOrigin(), results }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as { origin: string; results: string[] };
}

describe('precompiled config validator', () => {
  it('is built, and newer than the schema', () => {
    requireFreshBuild([BUILT], [SCHEMA, 'src/config/ajv-options.ts']);
  });

  it('gives the same configs and the same errors as the schema compiled at run time', () => {
    const built = builtOutcomes();
    expect(built.origin).toBe('precompiled');
    expect(schemaValidatorOrigin()).toBe('compiled at run time');
    const here = files.map((file) => outcome(() => loadConfigFile(file)));
    expect(here.filter((r) => r.startsWith('error: ')).length).toBeGreaterThanOrEqual(7);
    expect(built.results).toEqual(here);
  });
});
