// The migration progress display: plain lines when stderr is not a terminal, a cli-progress bar
// when it is.

import { describe, expect, it } from 'vitest';
import { LineProgress } from '../../src/migrate/progress.js';

function collector(isTTY: boolean): { out: NodeJS.WritableStream; written: string[] } {
  const written: string[] = [];
  const out = {
    isTTY,
    columns: 120,
    write(chunk: string | Uint8Array): boolean {
      written.push(String(chunk));
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { out, written };
}

describe('migration progress', () => {
  it('writes a plain line at start, at most every 5 s while copying, on each phase and at stop', () => {
    let now = 0;
    const { out, written } = collector(false);
    const progress = new LineProgress(out, () => now);
    progress.start(1000);
    now = 1000;
    progress.advance(100, 'wiki1 null');
    now = 4000;
    progress.advance(100, 'wiki1 null');
    now = 5000;
    progress.advance(300, 'wiki2 refreshLinks');
    progress.phase('verifying');
    now = 10_000;
    progress.stop();
    expect(written).toEqual([
      '[........................] 0/1000 jobs  0 jobs/s  ETA ?  copying\n',
      '[############............] 500/1000 jobs  100 jobs/s  ETA 5s  copying wiki2 refreshLinks\n',
      '[############............] 500/1000 jobs  100 jobs/s  ETA 5s  verifying wiki2 refreshLinks\n',
      '[############............] 500/1000 jobs  50 jobs/s  ETA 10s  verifying wiki2 refreshLinks\n',
    ]);
  });

  it('draws a bar with value/total, rate and the queue on a terminal', () => {
    let now = 0;
    const { out, written } = collector(true);
    const progress = new LineProgress(out, () => now);
    progress.start(1000);
    now = 2000;
    progress.advance(250, 'wiki1 null');
    progress.stop();
    const frames = written.join('');
    expect(frames).toContain('[######..................] 250/1000 jobs  125 jobs/s  ETA ');
    expect(frames).toContain('copying wiki1 null');
    expect(written.at(-1)).toBe('\n');
  });
});
