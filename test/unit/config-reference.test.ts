// README's configuration reference is generated from the schema and must be current.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = 'scripts/config-reference.mjs';

interface Node {
  [key: string]: unknown;
  properties?: Record<string, Node>;
  $ref?: string;
}

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/config-reference.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-readme-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds README.md up to date', () => {
    expect(run('--check')).toMatchObject({ status: 0 });
  });

  it('documents every section, key and default of the schema', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const heading of [
      '### Top level',
      '### `groups.<name>`',
      '### `limits`',
      '### `redis`',
      '### `statsd` (object form)',
    ]) {
      expect(readme).toContain(heading);
    }
    for (const section of ['dispatch', 'runner', 'chron', 'status', 'logging'])
      expect(readme).toContain(`### \`${section}\``);
    expect(readme).toContain('| `runners` | integer | **required** |');
    expect(readme).toContain('| `maxPerQueue` | integer | `2` |');
    expect(readme).toContain('| `memory` | map of job type → string | `{"*":"300M"}` |');
  });

  it('detects and repairs a stale copy', () => {
    const copy = join(dir, 'README.md');
    const stale = readFileSync('README.md', 'utf8').replace(
      '| `maxPerQueue` | integer | `2` |',
      '| `maxPerQueue` | integer | `3` |',
    );
    writeFileSync(copy, stale);
    const check = run('--check', `--readme=${copy}`);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('configuration reference is out of date');
    expect(run(`--readme=${copy}`).status).toBe(0);
    expect(readFileSync(copy, 'utf8')).toBe(readFileSync('README.md', 'utf8'));
    expect(run('--check', `--readme=${copy}`).status).toBe(0);
  });

  it('finds a description on every property and additionalProperties false on every object', () => {
    const schema = JSON.parse(readFileSync('src/config/jobrunner.schema.json', 'utf8')) as Node & {
      $defs: Record<string, Node>;
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const target = (node: Node): Node =>
      node.$ref ? (schema.$defs[node.$ref.replace('#/$defs/', '')] ?? {}) : node;
    const undocumented: string[] = [];
    const open: string[] = [];
    const walk = (node: Node, path: string): void => {
      if (node.properties) {
        if (node.additionalProperties !== false) open.push(path || '(root)');
        for (const [key, child] of Object.entries(node.properties)) {
          if (typeof child.description !== 'string' && typeof target(child).description !== 'string') {
            undocumented.push(`${path}.${key}`);
          }
        }
      }
      for (const [key, value] of Object.entries(node)) {
        if (value !== null && typeof value === 'object' && !Array.isArray(value) && key !== 'default') {
          walk(value as Node, `${path}/${key}`);
        }
      }
    };
    walk(schema, '');
    expect(undocumented).toEqual([]);
    expect(open).toEqual([]);
  });
});
