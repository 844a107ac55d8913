import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'jr-logfile-'));
  dirs.push(dir);
  return dir;
}

function captureStream(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { stream, lines };
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('log file output', () => {
  it('writes JSON lines to the file and reopens it after logrotate moved it', async () => {
    const dir = tempDir();
    const file = join(dir, 'jobrunner.log');
    const { stream } = captureStream();
    const logger = createLogger({ service: 'test', stream, secrets: ['hunter2secret'] });
    logger.setLogFile(file);
    logger.info('first line', { password: 'hunter2secret' });
    await waitFor(() => readLines(file).length === 1);
    expect(JSON.parse(readLines(file)[0] ?? '{}')).toMatchObject({ msg: 'first line', password: '***' });

    renameSync(file, file + '.1');
    logger.reopenLogFile();
    logger.info('after rotation');
    await waitFor(() => readLines(file).length === 1);
    expect(readLines(file)[0]).toContain('after rotation');
    expect(readLines(file + '.1')).toHaveLength(1);
  });

  it('keeps logging to stdout when the file cannot be written, and recovers on reopen', async () => {
    const dir = tempDir();
    const missingDir = join(dir, 'not-yet');
    const file = join(missingDir, 'jobchron.log');
    const { stream, lines } = captureStream();
    const logger = createLogger({ service: 'test', stream });
    logger.setLogFile(file);
    logger.info('while broken');
    await waitFor(() => lines.some((l) => l.includes('while broken')));
    expect(readLines(file)).toEqual([]);

    mkdirSync(missingDir);
    logger.reopenLogFile();
    logger.info('after repair');
    await waitFor(() => readLines(file).some((l) => l.includes('after repair')));
    expect(lines.some((l) => l.includes('after repair'))).toBe(true);
  });
});
