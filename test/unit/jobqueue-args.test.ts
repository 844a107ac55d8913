// jobqueue's command line before anything connects: numbers are checked as typed ("--count abc"
// names "abc", not NaN), a misspelled command gets a suggestion, and -c PATH may come before
// `migrate` as before any other command.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateAt, runMigrateCli } from '../../src/cli/jobqueue/migrate.js';
import { runJobqueue } from '../../src/cli/jobqueue/run.js';

const dir = mkdtempSync(join(tmpdir(), 'jr15-jobqueue-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Never connected to: every case below must fail before a connection is made.
const CONFIG = join(dir, 'jobrunner.conf');
writeFileSync(
  CONFIG,
  JSON.stringify({
    groups: { basic: { runners: 1, include: ['*'] } },
    redis: { aggregators: ['127.0.0.1:1'], queues: ['127.0.0.1:1'] },
    dispatcher: 'true',
  }),
);

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function jobqueue(...argv: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = new Capture();
  const io = { stdin: new PassThrough(), stdout: new Capture(), stderr };
  const at = migrateAt(argv);
  const code = at >= 0 ? await runMigrateCli(argv.toSpliced(at, 1), io) : await runJobqueue(argv, io);
  return { code, stderr: stderr.text };
}

describe('jobqueue arguments', () => {
  it.each([
    [
      ['push', '--wiki', 'w', '--type', 't', '--count', 'abc'],
      '--count must be a whole number from 1 to 100000 (got "abc")',
    ],
    [
      ['push', '--wiki', 'w', '--type', 't', '--count', '2.5'],
      '--count must be a whole number from 1 to 100000 (got "2.5")',
    ],
    [
      ['push', '--wiki', 'w', '--type', 't', '--delay', '1h'],
      '--delay must be a number from 0 to 315360000 (got "1h")',
    ],
    [['push', '--wiki', 'w', '--type', 't', '--namespace', ''], '--namespace must be a whole number'],
    [['status', '--limit', '10x'], '--limit must be a whole number from 0 to 9007199254740991 (got "10x")'],
    [
      ['inspect', '--wiki', 'w', '--type', 't', '--limit', 'all'],
      '--limit must be a whole number from 1 to 1000 (got "all")',
    ],
    [
      ['migrate', '--from', 'redis', '--to', 'kafka', '--rate', 'abc'],
      '--rate must be a number of jobs per second above 0 (got abc)',
    ],
    [
      ['migrate', '--from', 'redis', '--to', 'kafka', '--batch', 'lots'],
      '--batch must be a whole number from 1 to 10000 (got lots)',
    ],
  ])('%j: %s, exit 2', async (argv, message) => {
    const { code, stderr } = await jobqueue('-c', CONFIG, ...argv);
    expect(stderr).toContain(message);
    expect(stderr).not.toContain('NaN');
    expect(code).toBe(2);
  });

  it('suggests the command meant by a misspelled one', async () => {
    expect(await jobqueue('-c', CONFIG, 'stauts')).toEqual({
      code: 2,
      stderr:
        'jobqueue: unknown command "stauts". Did you mean status?\nRun \'jobqueue --help\' for usage.\n',
    });
    expect((await jobqueue('migrat', '--from', 'redis')).stderr).toContain(
      'unknown command "migrat". Did you mean migrate?',
    );
  });

  it('finds `migrate` after -c PATH / --config-file PATH, and only as the command', () => {
    expect(migrateAt(['migrate', '--from', 'redis'])).toBe(0);
    expect(migrateAt(['-c', '/x.conf', 'migrate'])).toBe(2);
    expect(migrateAt(['--config-file', '/x.conf', 'migrate'])).toBe(2);
    expect(migrateAt(['--config-file=/x.conf', 'migrate'])).toBe(1);
    expect(migrateAt(['push', '--type', 'migrate'])).toBe(-1);
    expect(migrateAt(['-c', 'migrate', 'status'])).toBe(-1);
  });
});
