// Failures damped across queues (scheduler + failure-damper, fake clock): a wiki failing for several
// types is backed off as a whole, and while dispatches fail, suspect queues share a farm-wide
// budget of failing dispatches per second — wikis that work are served as before.
import { describe, expect, it } from 'vitest';
import type { ReadyQueue } from '../../src/backend/types.js';
import type { GroupConfig } from '../../src/config/types.js';
import type { OutcomeInput } from '../../src/runner/outcome.js';
import { Scheduler, type SchedulerSettings } from '../../src/runner/scheduler.js';
import { schedulerSettings } from '../support/scheduler-settings.js';

const SETTINGS: SchedulerSettings = schedulerSettings({ maxPerQueue: 1 });
const START = 1_000_000;
const FAILED: OutcomeInput = { outcome: 'error', reached: null, backoffs: {}, jobsRun: 0 };
const OK: OutcomeInput = { outcome: 'ok', reached: 'none-ready', backoffs: {}, jobsRun: 1 };

const group: GroupConfig = { name: 'g', runners: 8, include: ['*'], exclude: [], lowPriority: [] };

function q(wiki: string, type: string): ReadyQueue {
  return { wiki, domain: wiki, type, ready: 5, partition: 'p1' };
}

function scheduler(settings: Partial<SchedulerSettings> = {}): Scheduler {
  return new Scheduler([group], { ...SETTINGS, ...settings }, START, { random: () => 0 });
}

describe('wiki-level failure back-off', () => {
  it('holds the whole wiki once three of its queues failed in a row, growing on repeat', () => {
    const s = scheduler({ maxFailingDispatchesPerSecond: 0 });
    const types = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    let now = START;
    const failOnce = () => {
      s.observe({ queues: [...types.map((t) => q('gone', t)), q('fine', 'a')], errors: [] }, now, now);
      const pick = s.pick('g', now);
      if (!pick) return null;
      s.started(pick, now);
      return s.finished(pick, pick.wiki === 'gone' ? FAILED : OK, now);
    };
    const holds: (number | null)[] = [];
    // Each failing queue is held by its own back-off, so each pick is another queue of the wiki.
    while (holds.filter((h) => h !== null).length < 2 && now < START + 60_000) {
      const report = failOnce();
      if (report && report.reaction.kind === 'failure') holds.push(report.wikiFailureBackoffMs);
      if (report?.wikiFailureBackoffMs) {
        expect(s.activeBackoffs(now).filter((b) => b.scope === 'wiki')).toEqual([
          { scope: 'wiki', key: 'gone', reason: 'wiki-failing', until: now + report.wikiFailureBackoffMs },
        ]);
        // While held, only the other wiki is picked.
        const next = s.pick('g', now + 1);
        expect(next === null || next.wiki === 'fine').toBe(true);
      }
      now += 100;
    }
    // Third failing queue: 1 s (failureBackoffSeconds); three more after it expired: 2 s.
    expect(holds).toEqual([null, null, 1000, null, null, 2000]);
  });

  it('is off with wikiFailureQueues 0', () => {
    const s = scheduler({ wikiFailureQueues: 0, maxFailingDispatchesPerSecond: 0 });
    s.observe({ queues: ['a', 'b', 'c', 'd'].map((t) => q('gone', t)), errors: [] }, START, START);
    for (let i = 0; i < 4; i++) {
      const pick = s.pick('g', START);
      if (!pick) break;
      s.started(pick, START);
      expect(s.finished(pick, FAILED, START).wikiFailureBackoffMs).toBeNull();
    }
    expect(s.activeBackoffs(START).filter((b) => b.scope === 'wiki')).toEqual([]);
  });
});

describe('farm-wide cap on failing dispatches', () => {
  it('keeps 300 queues on unknown wikis to about 2 failing dispatches a second, serving a working wiki', () => {
    const s = scheduler();
    const queues = Array.from({ length: 300 }, (_, i) => q(`unknown${i}`, 'null'));
    s.observe({ queues: [q('healthy', 'null')], errors: [] }, START, START);
    // The healthy wiki works before the trouble starts.
    const first = s.pick('g', START);
    expect(first?.wiki).toBe('healthy');
    if (!first) return;
    s.started(first, START);
    s.finished(first, OK, START);

    let failing = 0;
    let healthy = 0;
    const seconds = 20;
    for (let t = 0; t < seconds * 1000; t += 50) {
      const now = START + 1 + t;
      s.observe({ queues: [...queues, q('healthy', 'null')], errors: [] }, now, now);
      for (let slot = 0; slot < 8; slot++) {
        const pick = s.pick('g', now);
        if (!pick) break;
        s.started(pick, now);
        if (pick.wiki === 'healthy') {
          healthy += 1;
          s.finished(pick, { ...OK, reached: 'job-limit' }, now);
        } else {
          failing += 1;
          s.finished(pick, FAILED, now);
        }
      }
    }
    // Before the first failure nothing is suspect: one free round of slots, then the budget.
    expect(failing).toBeLessThanOrEqual(8 + 2 + 2 * seconds);
    expect(failing).toBeGreaterThan(seconds); // the budget is used, not starved
    // The working wiki gets a slot every time it is free.
    expect(healthy).toBeGreaterThanOrEqual((seconds * 1000) / 50);
    expect(s.failureDamping(START + seconds * 1000).deferred).toBeGreaterThan(0);
  });
});

describe('suspect queues: a round robin, and picks that do not look at them', () => {
  /** `n` queues on unknown wikis that failed once each, plus a working wiki; returns the clock. */
  function failedOnce(s: Scheduler, queues: ReadyQueue[]): number {
    let now = START;
    s.observe({ queues: [q('healthy', 'null')], errors: [] }, now, now);
    const first = s.pick('g', now);
    if (!first) throw new Error('expected the healthy queue');
    s.started(first, now);
    s.finished(first, OK, now);
    // One failure each (the damper's budget lets 2 a second through once failures are seen).
    const failed = new Set<string>();
    while (failed.size < queues.length && now < START + 3_600_000) {
      now += 50;
      s.observe({ queues: [...queues, q('healthy', 'null')], errors: [] }, now, now);
      const pick = s.pick('g', now);
      if (!pick || pick.wiki === 'healthy') {
        if (pick) s.finished(pick, OK, (s.started(pick, now), now));
        continue;
      }
      s.started(pick, now);
      s.finished(pick, FAILED, now);
      failed.add(pick.key);
    }
    return now;
  }

  it('gives every suspect its turn before any gets a second one, within queues ÷ budget seconds', () => {
    const n = 40;
    const s = scheduler({ maxFailureBackoffSeconds: 1 });
    const queues = Array.from({ length: n }, (_, i) => q(`unknown${i}`, 'null'));
    let now = failedOnce(s, queues);
    const turns: { key: string; at: number }[] = [];
    const until = now + 60_000;
    while (now < until) {
      now += 50;
      s.observe({ queues, errors: [] }, now, now);
      const pick = s.pick('g', now);
      if (!pick) continue;
      s.started(pick, now);
      s.finished(pick, FAILED, now);
      turns.push({ key: pick.key, at: now });
    }
    // The budget is used: about 2 a second.
    expect(turns.length).toBeGreaterThanOrEqual(2 * 55);
    expect(turns.length).toBeLessThanOrEqual(2 * 60 + 2);
    // Round robin: any n consecutive turns are n different queues …
    for (let i = 0; i + n <= turns.length; i++) {
      expect(new Set(turns.slice(i, i + n).map((t) => t.key)).size).toBe(n);
    }
    // … so each queue waits at most n ÷ 2 s (+ one token's wait) between its turns.
    const last = new Map<string, number>();
    for (const t of turns) {
      const before = last.get(t.key);
      if (before !== undefined) expect(t.at - before).toBeLessThanOrEqual((n / 2) * 1000 + 500);
      last.set(t.key, t.at);
    }
    expect(last.size).toBe(n);
  });

  it('looks at the few queues that can run, not the 10,000 suspects, on each pick', () => {
    let looks = 0;
    const s = new Scheduler([group], SETTINGS, START, {
      random: () => 0,
      isPaused: () => {
        looks += 1; // asked once per queue a pick looks at
        return false;
      },
    });
    const queues = Array.from({ length: 10_000 }, (_, i) => q(`unknown${i}`, 'null'));
    let now = failedOnce(s, queues.slice(0, 1));
    s.observe({ queues: [...queues, q('healthy', 'null')], errors: [] }, now, now);
    s.pick('g', now); // the first pick looks at each once and parks the suspects
    looks = 0;
    let picks = 0;
    let healthy = 0;
    for (let t = 0; t < 20_000; t += 50) {
      now += 50;
      s.observe({ queues: [...queues, q('healthy', 'null')], errors: [] }, now, now);
      for (let slot = 0; slot < 8; slot++) {
        const pick = s.pick('g', now);
        picks += 1;
        if (!pick) break;
        s.started(pick, now);
        if (pick.wiki === 'healthy') healthy += 1;
        s.finished(pick, pick.wiki === 'healthy' ? { ...OK, reached: 'job-limit' } : FAILED, now);
      }
    }
    expect(healthy).toBeGreaterThanOrEqual(400);
    // Every pick looks at the healthy queue and at most one suspect's turn (each suspect that
    // failed is held, then parked again: once each). A walk of all of them per pick would be
    // picks × 10,000 looks.
    expect(picks).toBeGreaterThan(800);
    expect(looks).toBeLessThan(3 * picks + 2 * 20 * 2);
  });
});
