// Farms of concurrent rehearsal runs share a family (jr17-) but not ids, and a sweep removes a
// farm only when the process that claimed it is dead (src/rehearsal/sweep.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimFarmId, ownerAlive, releaseFarmId, sweepDeadFarms } from '../../src/rehearsal/sweep.js';

const FAMILY = 'jr17u-';
let base = '';
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** PID of a process that has exited (and was reaped). */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

describe('rehearsal farm ids and the sweeper', () => {
  it('gives every farm its own id and keeps a live owner’s farm', async () => {
    base = mkdtempSync(join(tmpdir(), 'jr17-sweep-'));
    const ids = new Set(Array.from({ length: 20 }, () => claimFarmId(FAMILY, base)));
    expect(ids.size).toBe(20);
    const [live] = ids;
    if (live === undefined) throw new Error('no id');
    expect(ownerAlive(FAMILY, live, base)).toBe(true);
    mkdirSync(join(base, `${FAMILY}${live}-farm-abc`));
    expect(await sweepDeadFarms(FAMILY, base)).toEqual([]);
    expect(existsSync(join(base, `${FAMILY}${live}-farm-abc`))).toBe(true);
    releaseFarmId(FAMILY, live, base);
    expect(ownerAlive(FAMILY, live, base)).toBe(false);
  });

  it('removes the farm of a dead owner, a farm without owner file, and nothing else', async () => {
    base = mkdtempSync(join(tmpdir(), 'jr17-sweep-'));
    const live = claimFarmId(FAMILY, base);
    mkdirSync(join(base, `${FAMILY}${live}-farm-1`));
    // A crashed run: owner file names a PID that has exited.
    writeFileSync(join(base, `${FAMILY}dead.owner`), `${deadPid()} 12345\n`);
    mkdirSync(join(base, `${FAMILY}dead-farm-2`));
    // A reused PID: this process, but another start time.
    writeFileSync(join(base, `${FAMILY}reus.owner`), `${process.pid} 1\n`);
    mkdirSync(join(base, `${FAMILY}reus-farm-3`));
    // No owner file at all.
    mkdirSync(join(base, `${FAMILY}orph-farm-4`));
    // Another family, untouched.
    mkdirSync(join(base, 'jr17x-dead-farm-5'));
    const swept = await sweepDeadFarms(FAMILY, base);
    expect(swept.sort()).toEqual(['dead', 'orph', 'reus']);
    expect(readdirSync(base).sort()).toEqual(
      [`${FAMILY}${live}-farm-1`, `${FAMILY}${live}.owner`, 'jr17x-dead-farm-5'].sort(),
    );
  });

  it('refuses a family that could match unrelated names', async () => {
    base = mkdtempSync(join(tmpdir(), 'jr17-sweep-'));
    await expect(sweepDeadFarms('', base)).rejects.toThrow(/refusing/);
    expect(() => claimFarmId('jr17', base)).toThrow(/refusing/);
  });
});
