// bench:overload's arithmetic on hand-made timelines: slot-time shares, Jain's index, waits of ready
// queues and small-wiki pickup; and its push pattern (shares, run-time spread, reproducible plan).
import { describe, expect, it } from 'vitest';
import { computeOverload, jainIndex, type QueueEvent } from '../../src/bench/common/overload-metrics.js';
import {
  drawRunSeconds,
  planPushes,
  seededRandom,
  zipfShares,
} from '../../src/bench/common/overload-workload.js';

const ev = (at: number, kind: QueueEvent['kind'], wiki: string, type = 't'): QueueEvent => ({
  at,
  kind,
  wiki,
  type,
});

function stored(at: number, wiki: string, n: number): QueueEvent[] {
  return Array.from({ length: n }, () => ev(at, 'stored', wiki));
}

describe('jainIndex', () => {
  it('is 1 for equal shares and 1/n when one has everything', () => {
    expect(jainIndex([3, 3, 3])).toBe(1);
    expect(jainIndex([9, 0, 0])).toBeCloseTo(1 / 3);
    expect(jainIndex([])).toBeNull();
  });
});

describe('computeOverload', () => {
  it('shares slot-time among backlogged wikis, waits and pickups', () => {
    const events: QueueEvent[] = [
      ...stored(0, 'big', 100),
      ...stored(0, 'other', 100),
      // big runs 0–6 s, other waits until 2 s and runs 2–6 s.
      ev(0, 'start', 'big'),
      ev(2000, 'start', 'other'),
      ev(6000, 'end', 'big'),
      ev(6000, 'end', 'other'),
      // A small wiki's job stored at 1 s, dispatched at 3 s, claimed at 3.2 s.
      ev(1000, 'stored', 'small'),
      ev(3000, 'start', 'small'),
      ev(3200, 'claimed', 'small'),
      ev(3300, 'end', 'small'),
      ev(100, 'claimed', 'big'),
    ];
    const f = computeOverload({ events, from: 0, to: 6000, smallWikis: new Set(['small']), windowMs: 6000 });
    const big = f.wikis.find((w) => w.wiki === 'big');
    const other = f.wikis.find((w) => w.wiki === 'other');
    expect(big).toMatchObject({ slotMs: 6000, backlogged: true, jobs: 1 });
    expect(other).toMatchObject({ slotMs: 4000, backlogged: true });
    expect(big?.ratio).toBeCloseTo(1.2);
    expect(other?.ratio).toBeCloseTo(0.8);
    expect(f.wikis.find((w) => w.wiki === 'small')?.backlogged).toBe(false);
    expect(f.jain).toBeCloseTo((10 * 10) / (2 * (36 + 16)));
    expect(f.windows).toHaveLength(1);
    // Ready waits: other 2 s, small 2 s, big 0 (dispatched at once).
    expect(f.readyWaitMs).toMatchObject({ n: 3, max: 2000 });
    expect(f.smallPickupMs).toMatchObject({ n: 1, max: 2200 });
    expect(f.dispatches).toBe(3);
    expect(f.jobsClaimedPerSecond).toBeCloseTo(2 / 6);
  });

  it('counts a queue still waiting at the end, and a dispatch still running, up to the end', () => {
    const events = [...stored(0, 'a', 50), ev(500, 'start', 'b'), ...stored(0, 'b', 50)];
    const f = computeOverload({ events, from: 0, to: 4000, smallWikis: new Set() });
    expect(f.readyWaitMs).toMatchObject({ n: 2, max: 4000 });
    expect(f.wikis.find((w) => w.wiki === 'b')?.slotMs).toBe(3500);
  });
});

describe('push pattern', () => {
  it('gives the first wiki half of the jobs and the rest 1/rank²', () => {
    const shares = zipfShares(60);
    expect(shares[0]).toBe(0.5);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    expect((shares[1] as number) / (shares[2] as number)).toBeCloseTo(9 / 4);
  });

  it('draws run times in the stated spread', () => {
    const r = seededRandom(1);
    const draws = Array.from({ length: 20_000 }, () => drawRunSeconds(r));
    const frac = (f: (s: number) => boolean) => draws.filter(f).length / draws.length;
    expect(frac((s) => s < 0.05)).toBeCloseTo(0.9, 1);
    expect(frac((s) => s >= 2)).toBeGreaterThan(0.005);
    expect(frac((s) => s >= 2)).toBeLessThan(0.015);
    expect(Math.max(...draws)).toBeLessThanOrEqual(20);
  });

  it('plans the same pushes for the same seed, at the asked rate', () => {
    const wikis = Array.from({ length: 10 }, (_, i) => `w${i}`);
    const a = planPushes(wikis, 20, 100, 7);
    expect(planPushes(wikis, 20, 100, 7)).toEqual(a);
    expect(a.length).toBeGreaterThan(1800);
    expect(a.length).toBeLessThan(2200);
    expect(a.filter((p) => p.wiki === 'w0').length / a.length).toBeCloseTo(0.5, 1);
  });
});
