// A real `puppet apply` of the module (puppet/) from a private modulepath and Puppet dirs, for the
// tests that render or build hosts with it. The checkout directory is "puppet", so the module is
// linked into the modulepath as "jobrunner".
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runProcess } from './run-process.js';

export const MODULE = resolve('puppet');

// This sandbox denies reading /proc/1/environ; Facter logs that as an error on every run. It is
// the only line tolerated: any other error or warning counts as a problem.
const SANDBOX_NOISE = /Facter: Permission denied @ rb_sysopen - \/proc\/1\/environ/;

export interface PuppetRun {
  /** --detailed-exitcodes: 0 nothing changed, 2 changes applied, 4/6 failures. */
  readonly exitCode: number;
  readonly output: string;
  /** Error and warning lines. */
  readonly problems: readonly string[];
}

export interface PuppetSandbox {
  readonly dir: string;
  /** Applies `manifest` (Puppet source) with --detailed-exitcodes; `prefix` runs it inside a host. */
  apply(manifest: string, prefix?: readonly string[]): Promise<PuppetRun>;
  remove(): void;
}

export function puppetSandbox(name = 'jobrunner-puppet-'): PuppetSandbox {
  const dir = mkdtempSync(join(tmpdir(), name));
  const modulepath = join(dir, 'modules');
  mkdirSync(modulepath);
  symlinkSync(MODULE, join(modulepath, 'jobrunner'));
  let count = 0;
  return {
    dir,
    async apply(manifest, prefix = []) {
      const file = join(dir, `site-${++count}.pp`);
      writeFileSync(file, manifest);
      const args = [
        'apply',
        `--modulepath=${modulepath}`,
        `--confdir=${join(dir, 'conf')}`,
        `--vardir=${join(dir, 'var')}`,
        `--codedir=${join(dir, 'code')}`,
        `--logdir=${join(dir, 'log')}`,
        '--color=false',
        '--detailed-exitcodes',
        file,
      ];
      const [command, ...rest] = [...prefix, 'puppet', ...args];
      const result = await runProcess(command ?? 'puppet', rest, {
        env: { ...process.env, NO_COLOR: '1' },
      });
      const output = result.stdout + result.stderr;
      const problems = output
        .split('\n')
        .filter((line) => /\b(Error|Warning|ERROR|WARN)\b/.test(line) && !SANDBOX_NOISE.test(line));
      return { exitCode: result.code ?? -1, output, problems };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Puppet source for `class { name: k => v, ... }` from parameters given as Puppet source text. */
export function classDeclaration(name: string, params: Record<string, string>): string {
  const body = Object.entries(params)
    .map(([key, value]) => `  ${key} => ${value},`)
    .join('\n');
  return `class { '${name}':\n${body}\n}\n`;
}
