// `npm run demo` in its short mode (--quick), as a user runs it: a real redis-server, MediaWiki farm,
// jobchron and jobrunner, all started by the demo. Checks its verdict (every pushed job ran, the
// failing type was retried and abandoned), its exit code, and that nothing it started is left.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { processesWithEnv } from '../../src/bench/common/stragglers.js';
import { isAlive } from '../../src/farm/process-tree.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const DEMO = resolve('dist/demo/demo.js');

interface TypeRow {
  type: string;
  stored: number;
  done: number;
  ok: number;
  failed: number;
  abandoned: number;
}

interface DemoResult {
  ok: boolean;
  problems: string[];
  types: TypeRow[];
  totals: { stored: number; ok: number; failed: number; abandoned: number };
  dedupe: { pushed: number; stored: number };
  delayed: { pushed: number; undelayedByChron: number };
  pickupMs: { n: number } | null;
  runnerExit: { code: number | null; signal: string | null; killed: boolean };
  chronExit: { code: number | null; signal: string | null; killed: boolean };
  leftRunning: number[];
  cleanupProblems: string[];
}

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  requireFreshBuild([DEMO]);
});

describe('npm run demo -- --quick', () => {
  it('runs every pushed job, abandons the failing type after its retries, exits 0 and leaves nothing behind', async () => {
    const { code, stdout, stderr } = await runDemo(['--quick']);
    const context = `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
    const line = stdout.split('\n').find((l) => l.startsWith('DEMO-RESULT '));
    expect(line, context).toBeDefined();
    const result = JSON.parse((line as string).slice('DEMO-RESULT '.length)) as DemoResult;

    expect(result.problems, context).toEqual([]);
    expect(result.ok).toBe(true);
    expect(code, context).toBe(0);
    expect(stdout).toContain('RESULT: OK');

    const byType = new Map(result.types.map((t) => [t.type, t]));
    // Real MediaWiki jobs from the page imports and template edits, plus the pushed ones.
    for (const type of ['null', 'refreshLinks', 'htmlCacheUpdate', 'demoProbe', 'mwlabFail']) {
      expect(byType.get(type)?.stored, `${type} stored`).toBeGreaterThan(0);
    }
    for (const row of result.types) {
      if (row.type === 'mwlabFail') continue;
      expect(row, row.type).toMatchObject({ ok: row.stored, done: row.stored, failed: 0, abandoned: 0 });
    }
    // --quick pushes 2 failing jobs; limits.attempts for the type is 2: two failed runs each.
    expect(byType.get('mwlabFail')).toMatchObject({ stored: 2, ok: 0, done: 0, failed: 4, abandoned: 2 });
    // 2 × 100 null jobs, 5 delayed ones and 20 identical de-duplicated ones stored once.
    expect(byType.get('null')?.stored).toBe(206);
    expect(result.dedupe).toEqual({ pushed: 20, stored: 1 });
    expect(result.delayed.undelayedByChron).toBe(5);
    expect(result.pickupMs?.n).toBe(5);
    expect(result.totals.ok).toBe(result.totals.stored - result.totals.abandoned);

    expect(result.runnerExit).toEqual({ code: 0, signal: null, killed: false });
    expect(result.chronExit).toEqual({ code: 0, signal: null, killed: false });
    expect(result.leftRunning).toEqual([]);
    expect(result.cleanupProblems).toEqual([]);

    // Independently of the demo's own check: its processes are gone and its temp dirs removed.
    const farmDir = /farm in (\S+) \(wikis/.exec(stdout)?.[1];
    const demoDir = /demo files in (\S+)/.exec(stdout)?.[1];
    const pids = [
      /redis-server \(pid (\d+)\)/.exec(stdout)?.[1],
      /jobchron \(pid (\d+)\)/.exec(stdout)?.[1],
      /jobrunner \(pid (\d+)\)/.exec(stdout)?.[1],
    ].map(Number);
    expect(farmDir, context).toBeDefined();
    expect(demoDir, context).toBeDefined();
    expect(
      pids.every((pid) => pid > 0),
      context,
    ).toBe(true);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(farmDir as string)).toBe(false);
    expect(existsSync(demoDir as string)).toBe(false);
    expect(processesWithEnv('MW_CONFIG_FILE', join(farmDir as string, 'FarmSettings.php'))).toEqual([]);
  }, 120_000);
});

describe('npm run demo -- --backend kafka --quick', () => {
  it('runs the EventBus → intake → Kafka → jobrunner chain, every check ok, exits 0 and leaves nothing behind', async () => {
    const { code, stdout, stderr } = await runDemo(['--backend', 'kafka', '--quick']);
    const context = `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
    const line = stdout.split('\n').find((l) => l.startsWith('DEMO-RESULT '));
    expect(line, context).toBeDefined();
    expect(JSON.parse((line as string).slice('DEMO-RESULT '.length)), context).toEqual({
      backend: 'kafka',
      ok: true,
    });
    const checks = stdout.split('\n').filter((l) => /^ {2}(ok {2}|FAIL) /.test(l));
    expect(checks.length, context).toBeGreaterThanOrEqual(9);
    expect(
      checks.filter((l) => l.startsWith('  FAIL')),
      context,
    ).toEqual([]);
    expect(code, context).toBe(0);
  }, 240_000);
});
