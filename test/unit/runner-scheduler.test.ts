// Scheduling decisions with a fake clock and fake listings: priorities, caps, fairness, back-offs.
import { describe, expect, it } from 'vitest';
import type { ReadyQueue } from '../../src/backend/types.js';
import type { GroupConfig } from '../../src/config/types.js';
import type { OutcomeInput } from '../../src/runner/outcome.js';
import { queueKey } from '../../src/runner/queue-id.js';
import { Scheduler, type QueuePick, type SchedulerSettings } from '../../src/runner/scheduler.js';
import { typeAllowed } from '../../src/runner/group-filter.js';
import { schedulerSettings } from '../support/scheduler-settings.js';

const SETTINGS: SchedulerSettings = schedulerSettings();

function group(name: string, runners: number, extra: Partial<GroupConfig> = {}): GroupConfig {
  return { name, runners, include: ['*'], exclude: [], lowPriority: [], ...extra };
}

function q(wiki: string, type: string, ready: number, partition = 'p1'): ReadyQueue {
  return { wiki, domain: wiki, type, ready, partition };
}

const START = 1_000_000;
const HIGH_FIRST = () => 0; // random() < 0.5 → start in high mode

function scheduler(groups: GroupConfig[], settings: Partial<SchedulerSettings> = {}, random = HIGH_FIRST) {
  return new Scheduler(groups, { ...SETTINGS, ...settings }, START, { random });
}

/** Settings with the scheduling policy from before issue 14. */
const LEGACY: SchedulerSettings = { ...SETTINGS, scheduling: { ...SETTINGS.scheduling, policy: 'legacy' } };

function result(reached: string, jobsRun = 1, extra: Partial<OutcomeInput> = {}): OutcomeInput {
  return { outcome: 'ok', reached, backoffs: {}, jobsRun, ...extra };
}

/** Picks until nothing fits, starting each; returns the picks. */
function fillAll(s: Scheduler, groupName: string, slots: number, now: number): QueuePick[] {
  const picks: QueuePick[] = [];
  for (let i = 0; i < slots; i++) {
    const p = s.pick(groupName, now);
    if (!p) break;
    s.started(p, now);
    picks.push(p);
  }
  return picks;
}

describe('typeAllowed', () => {
  const g = group('g', 1, { include: ['*'], exclude: ['upload'], lowPriority: ['refreshLinks'] });
  it('applies include, exclude and low-priority per mode', () => {
    expect(typeAllowed(g, 'high', 'null')).toBe(true);
    expect(typeAllowed(g, 'high', 'upload')).toBe(false);
    expect(typeAllowed(g, 'high', 'refreshLinks')).toBe(false);
    expect(typeAllowed(g, 'low', 'refreshLinks')).toBe(true);
    expect(typeAllowed(g, 'low', 'null')).toBe(true);
  });
  it('adds low-priority types in low mode even without "*", and exclude still wins', () => {
    const explicit = group('e', 1, { include: ['a'], exclude: ['c'], lowPriority: ['b', 'c'] });
    expect(typeAllowed(explicit, 'high', 'a')).toBe(true);
    expect(typeAllowed(explicit, 'high', 'b')).toBe(false);
    expect(typeAllowed(explicit, 'low', 'b')).toBe(true);
    expect(typeAllowed(explicit, 'low', 'c')).toBe(false);
    expect(typeAllowed(explicit, 'low', 'd')).toBe(false);
  });
});

describe('priority modes', () => {
  it('time-shares high and low like the original (600 s / 120 s) and passes maxtime 60 / 30 (legacy)', () => {
    const changes: string[] = [];
    const s = new Scheduler([group('g', 4, { lowPriority: ['lp'] })], LEGACY, START, {
      random: HIGH_FIRST,
      onPriorityChange: (_g, from, to, why) => changes.push(`${from}->${to}:${why}`),
    });
    s.observe({ queues: [q('w', 'hp', 1000), q('w', 'lp', 1000)], errors: [] }, START, START);
    const first = s.pick('g', START);
    expect(first).toMatchObject({ type: 'hp', mode: 'high', maxTime: 60 });
    s.tick(START + 600_001);
    expect(s.groupSchedules()[0]?.mode).toBe('low');
    s.tick(START + 600_001 + 120_001);
    expect(s.groupSchedules()[0]?.mode).toBe('high');
    expect(changes).toEqual(['high->low:time-share', 'low->high:time-share']);
  });

  it('low mode passes the low maxtime (legacy)', () => {
    const s = scheduler([group('g', 1)], { scheduling: LEGACY.scheduling }, () => 0.9);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    expect(s.pick('g', START)).toMatchObject({ mode: 'low', maxTime: 30 });
  });

  it('does not flap when queues empty and refill (B4)', () => {
    const changes: string[] = [];
    const s = new Scheduler([group('g', 2, { lowPriority: ['lp'] })], SETTINGS, START, {
      random: HIGH_FIRST,
      onPriorityChange: (_g, from, to) => changes.push(`${from}->${to}`),
    });
    // Empty view: no switch, however often it is polled.
    for (let t = 0; t < 50; t++) {
      s.observe({ queues: [], errors: [] }, START + t * 50, START + t * 50);
      expect(s.pick('g', START + t * 50)).toBeNull();
    }
    // A high-priority queue appears and empties repeatedly: still no switch.
    for (let t = 50; t < 100; t++) {
      const now = START + t * 50;
      s.observe({ queues: t % 2 ? [q('w', 'hp', 3)] : [], errors: [] }, now, now);
      const p = s.pick('g', now);
      if (p) s.finished(p, result('job-limit'), (s.started(p, now), now + 1));
    }
    expect(changes).toEqual([]);
  });

  it('switches high→low early only when high has nothing and low has something, then stays', () => {
    const changes: string[] = [];
    const s = new Scheduler([group('g', 2, { lowPriority: ['lp'] })], SETTINGS, START, {
      random: HIGH_FIRST,
      onPriorityChange: (_g, from, to, why) => changes.push(`${from}->${to}:${why}`),
    });
    s.observe({ queues: [q('w', 'lp', 10)], errors: [] }, START, START);
    const p = s.pick('g', START);
    expect(p).toMatchObject({ type: 'lp', mode: 'low' });
    expect(changes).toEqual(['high->low:nothing-in-high']);
    // High work arrives; low mode runs everything, no switch back until the timer.
    s.observe({ queues: [q('w', 'lp', 10), q('w', 'hp', 10)], errors: [] }, START + 100, START + 100);
    s.pick('g', START + 100);
    s.observe({ queues: [], errors: [] }, START + 200, START + 200);
    expect(s.pick('g', START + 200)).toBeNull();
    expect(changes).toHaveLength(1);
  });
});

describe('caps', () => {
  it('never fans one job out into several processes (B3)', () => {
    const s = scheduler([group('g', 8)]);
    s.observe({ queues: [q('w', 'a', 1)], errors: [] }, START, START);
    expect(fillAll(s, 'g', 8, START)).toHaveLength(1);
  });

  it('adds a second child only when the backlog warrants it, up to maxPerQueue', () => {
    for (const [ready, expected] of [
      [15, 1],
      [21, 2],
      [10_000, 2],
    ] as const) {
      const s = scheduler([group('g', 8)]);
      s.observe({ queues: [q('w', 'a', ready)], errors: [] }, START, START);
      expect(fillAll(s, 'g', 8, START)).toHaveLength(expected);
    }
    const s = scheduler([group('g', 8)], { maxPerQueue: 5 });
    s.observe({ queues: [q('w', 'a', 10_000)], errors: [] }, START, START);
    expect(fillAll(s, 'g', 8, START)).toHaveLength(5);
  });

  it('counts caps across groups', () => {
    const s = scheduler([group('g1', 4), group('g2', 4)]);
    s.observe({ queues: [q('w', 'a', 1)], errors: [] }, START, START);
    expect(fillAll(s, 'g1', 4, START)).toHaveLength(1);
    expect(fillAll(s, 'g2', 4, START)).toHaveLength(0);
  });

  it('caps children per wiki', () => {
    const s = scheduler([group('g', 8)], { maxPerWiki: 2 });
    s.observe(
      { queues: [q('w', 'a', 5), q('w', 'b', 5), q('w', 'c', 5), q('x', 'a', 5)], errors: [] },
      START,
      START,
    );
    const picks = fillAll(s, 'g', 8, START);
    expect(picks.filter((p) => p.wiki === 'w')).toHaveLength(2);
    expect(picks.filter((p) => p.wiki === 'x')).toHaveLength(1);
  });
});

describe('fairness', () => {
  it('serves a small wiki while a big wiki has a backlog', () => {
    const s = scheduler([group('g', 4)], { maxPerQueue: 4 });
    const big = ['a', 'b', 'c', 'd', 'e'].map((t) => q('big', t, 100_000));
    s.observe({ queues: [...big, q('small', 'a', 2)], errors: [] }, START, START);
    const picks = fillAll(s, 'g', 4, START);
    expect(picks.some((p) => p.wiki === 'small')).toBe(true);
  });

  it('legacy: alternates wikis and shares every type of a wiki by backlog', () => {
    const s = scheduler([group('g', 1)], { scheduling: LEGACY.scheduling });
    const queues = [q('big', 'a', 100_000), q('big', 'b', 10), q('big', 'c', 1), q('small', 'x', 3)];
    s.observe({ queues, errors: [] }, START, START);
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const now = START + i;
      const p = s.pick('g', now);
      if (!p) throw new Error('nothing picked');
      s.started(p, now);
      s.finished(p, result('job-limit'), now);
      counts.set(`${p.wiki}/${p.type}`, (counts.get(`${p.wiki}/${p.type}`) ?? 0) + 1);
    }
    expect(counts.get('small/x')).toBe(200);
    const a = counts.get('big/a') ?? 0;
    const b = counts.get('big/b') ?? 0;
    const c = counts.get('big/c') ?? 0;
    expect(a + b + c).toBe(200);
    // Backlog weighs in, but logarithmically: the 1-job queue still gets a real share.
    expect(a).toBeGreaterThan(b);
    expect(b).toBeGreaterThan(c);
    expect(c).toBeGreaterThan(10);
  });
});

describe('policy fair: slices and express slots', () => {
  const q1 = (wiki: string, type: string, ready: number) => q(wiki, type, ready);

  it('gives a long slice (capped by the mode maxtime) while every waiting queue has a free slot', () => {
    const s = scheduler([group('g', 4)]);
    s.observe({ queues: [q1('a', 't', 1000), q1('b', 't', 1000)], errors: [] }, START, START);
    expect(s.pick('g', START, { express: false, freeSlots: 4 })).toMatchObject({
      maxTime: 10,
      express: false,
    });
    const capped = scheduler([group('g', 4)], { highPriorityMaxTime: 7 });
    capped.observe({ queues: [q1('a', 't', 1000)], errors: [] }, START, START);
    expect(capped.pick('g', START, { express: false, freeSlots: 4 })).toMatchObject({ maxTime: 7 });
  });

  it('gives a short slice while more queues wait than slots are free', () => {
    const s = scheduler([group('g', 2)]);
    s.observe(
      { queues: [q1('a', 't', 1000), q1('b', 't', 1000), q1('c', 't', 1000)], errors: [] },
      START,
      START,
    );
    expect(s.pick('g', START, { express: false, freeSlots: 2 })).toMatchObject({ maxTime: 3 });
  });

  it('keeps the last slot of a group of 2 or more as express slot, never all slots', () => {
    const s = scheduler([group('one', 1), group('four', 4)], {
      scheduling: { ...SETTINGS.scheduling, expressSlots: 9 },
    });
    expect(s.isExpressSlot('one', 0)).toBe(false);
    expect([0, 1, 2, 3].map((i) => s.isExpressSlot('four', i))).toEqual([false, true, true, true]);
    const legacy = scheduler([group('four', 4)], { scheduling: LEGACY.scheduling });
    expect(legacy.isExpressSlot('four', 3)).toBe(false);
  });

  it('runs a quiet queue in the express slot with the express slice, and holds the slot for quiet ones', () => {
    const s = scheduler([group('g', 2)]);
    s.observe({ queues: [q1('big', 't', 100_000), q1('quiet', 't', 2)], errors: [] }, START, START);
    const big = s.pick('g', START, { express: false, freeSlots: 2 });
    expect(big).toMatchObject({ wiki: 'big' });
    if (big) s.started(big, START);
    const quick = s.pick('g', START, { express: true, freeSlots: 1 });
    expect(quick).toMatchObject({ wiki: 'quiet', maxTime: 1, express: true });
    if (!quick) throw new Error('expected the quiet queue');
    s.started(quick, START);
    s.finished(quick, result('none-ready', 2), START + 300);
    // Nothing quiet now: the express slot stays free for expressHoldSeconds, then runs the backlog.
    s.observe({ queues: [q1('big', 't', 100_000)], errors: [] }, START + 400, START + 400);
    expect(s.pick('g', START + 400, { express: true, freeSlots: 1 })).toBeNull();
    const lent = s.pick('g', START + 5400, { express: true, freeSlots: 1 });
    expect(lent).toMatchObject({ wiki: 'big', maxTime: 1, express: false });
    // The longer quiet queues stay away, the longer the lent slices (up to longSliceSeconds).
    expect(s.pick('g', START + 12_000, { express: true, freeSlots: 1 })).toMatchObject({ maxTime: 7 });
    expect(s.pick('g', START + 60_000, { express: true, freeSlots: 1 })).toMatchObject({ maxTime: 10 });
  });

  it('does not count a queue as quiet while its wiki has a child here', () => {
    const s = scheduler([group('g', 3)]);
    s.observe({ queues: [q1('w', 'big', 100_000), q1('w', 'small', 1)], errors: [] }, START, START);
    const first = s.pick('g', START, { express: false, freeSlots: 3 });
    if (!first) throw new Error('expected a pick');
    s.started(first, START);
    const other = first.type === 'big' ? 'small' : 'big';
    // Not quiet (its wiki has a child), and a quiet queue was just seen: the slot stays reserved.
    expect(s.pick('g', START, { express: true, freeSlots: 2 })).toBeNull();
    // Once no quiet queue was seen for expressHoldSeconds the slot may lend itself, not as express work.
    expect(s.pick('g', START + 5001, { express: true, freeSlots: 2 })).toMatchObject({
      type: other,
      express: false,
    });
  });

  it('shares slot-time by wiki weight', () => {
    const s = scheduler([group('g', 1)], {
      scheduling: { ...SETTINGS.scheduling, wikiWeights: { heavy: 3 } },
    });
    s.observe({ queues: [q1('heavy', 't', 100_000), q1('light', 't', 100_000)], errors: [] }, START, START);
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const now = START + i * 1000;
      const p = s.pick('g', now);
      if (!p) throw new Error('nothing picked');
      s.started(p, now);
      s.finished(p, result('time-limit'), now + 1000);
      counts.set(p.wiki, (counts.get(p.wiki) ?? 0) + 1);
    }
    expect(counts.get('heavy')).toBe(300);
    expect(counts.get('light')).toBe(100);
  });

  it('opens a burst slot per dispatch stuck past its maxtime + overrunSeconds, at most burstSlots, for queues nobody runs', () => {
    const s = scheduler([group('g', 2)]);
    // burstSlots 2, then quietBurstSlots 2 (quiet queues only, see quietRoom).
    expect(s.burstSlotCount('g')).toBe(4);
    expect([1, 2, 3].map((i) => s.isBurstSlot('g', i))).toEqual([false, true, true]);
    expect(s.isExpressSlot('g', 2)).toBe(false);
    s.observe({ queues: [q1('big', 't', 100_000), q1('other', 't', 500)], errors: [] }, START, START);
    const a = s.pick('g', START, { express: false, freeSlots: 2 });
    if (!a) throw new Error('expected a pick');
    s.started(a, START);
    const running = [
      { key: 'q1', startedAt: START, maxTime: 3 },
      { key: 'q2', startedAt: START, maxTime: 1 },
    ];
    // Within maxtime + overrunSeconds (1 s): no burst.
    expect(s.burstRoom('g', running, START + 2000)).toBe(0);
    // The 1 s dispatch overran: one burst slot.
    expect(s.burstRoom('g', running, START + 2001)).toBe(1);
    // Both overran, but a burst child already runs: one more.
    expect(
      s.burstRoom('g', [...running, { key: 'q3', startedAt: START + 2001, maxTime: 3 }], START + 4001),
    ).toBe(1);
    // Never beyond runners + burstSlots.
    const full = [
      ...running,
      { key: 'q4', startedAt: START + 2001, maxTime: 3 },
      { key: 'q5', startedAt: START + 2001, maxTime: 3 },
    ];
    expect(s.burstRoom('g', full, START + 60_000)).toBe(0);
    // A burst pick takes only a queue with no child here, with the express slice: it hands its
    // slot back soon.
    expect(s.pick('g', START + 2001, { express: false, burst: true, freeSlots: 1 })).toMatchObject({
      wiki: a.wiki === 'big' ? 'other' : 'big',
      maxTime: 1,
    });
    const legacy = scheduler([group('g', 2)], { scheduling: LEGACY.scheduling });
    expect(legacy.burstSlotCount('g')).toBe(0);
    expect(legacy.burstRoom('g', running, START + 60_000)).toBe(0);
  });

  it('gives a queue stuck behind a long job a second child from a burst slot (beyond B3), never one beside a moving child', () => {
    const s = scheduler([group('g', 2)]);
    s.observe({ queues: [q1('small', 't', 2)], errors: [] }, START, START);
    const p = s.pick('g', START, { express: false, freeSlots: 2 });
    if (!p) throw new Error('expected a pick');
    s.started(p, START);
    const running = [{ key: p.key, startedAt: START, maxTime: p.maxTime }];
    const at = START + (p.maxTime + 1) * 1000 + 1;
    // Moving (within maxtime + overrunSeconds): one child per small queue, as B3 says.
    expect(s.stuckQueues(running, START + 100).size).toBe(0);
    expect(
      s.pick('g', START + 100, { express: false, burst: true, freeSlots: 1, stuck: new Set() }),
    ).toBeNull();
    // Stuck in a long job with another job waiting behind it: a burst child may take that job.
    const stuck = s.stuckQueues(running, at);
    expect([...stuck]).toEqual([p.key]);
    expect(s.pick('g', at, { express: false, burst: true, freeSlots: 1, stuck })).toMatchObject({
      key: p.key,
      maxTime: 1,
    });
  });

  it('gives quiet queues children up to runners + burstSlots + quietBurstSlots, and only quiet queues beyond runners + burstSlots', () => {
    const s = scheduler([group('g', 2)]);
    s.observe({ queues: [q1('big', 't', 100_000), q1('quiet1', 't', 1)], errors: [] }, START, START);
    for (const express of [false, true]) {
      const p = s.pick('g', START, { express, freeSlots: express ? 1 : 2 });
      if (!p) throw new Error('expected a pick');
      s.started(p, START);
    }
    const busy = [
      { key: 'q6', startedAt: START, maxTime: 3 },
      { key: 'q7', startedAt: START, maxTime: 1 },
    ];
    // Nothing overran: no burst room for any work, but room for quiet queues up to 2 + 2 + 2.
    expect(s.burstRoom('g', busy, START + 100)).toBe(0);
    expect(s.quietRoom('g', busy)).toBe(4);
    const stuckBusy = [
      ...busy,
      ...[8, 9, 10, 11].map((n) => ({ key: `q${n}`, startedAt: START, maxTime: 1 })),
    ];
    expect(s.quietRoom('g', stuckBusy)).toBe(0);
    // Nothing quiet waits: a quiet-only pick finds nothing, though the backlog waits.
    s.observe({ queues: [q1('big', 't', 100_000)], errors: [] }, START + 100, START + 100);
    const quietOnly = { express: false, burst: true, quietOnly: true, freeSlots: 4 } as const;
    expect(s.pick('g', START + 100, quietOnly)).toBeNull();
    s.observe(
      { queues: [q1('big', 't', 100_000), q1('quiet2', 't', 1)], errors: [] },
      START + 200,
      START + 200,
    );
    expect(s.pick('g', START + 200, quietOnly)).toMatchObject({
      wiki: 'quiet2',
      maxTime: 1,
      express: true,
    });
    const legacy = scheduler([group('g', 2)], { scheduling: LEGACY.scheduling });
    expect(legacy.quietRoom('g', busy)).toBe(0);
  });

  it('ignores inherited property names as weights (a wiki called "constructor")', () => {
    const s = scheduler([group('g', 1)]);
    s.observe(
      { queues: [q1('constructor', 't', 10_000), q1('toString', 't', 10_000)], errors: [] },
      START,
      START,
    );
    const p = s.pick('g', START);
    expect(p).not.toBeNull();
  });
});

describe('back-offs', () => {
  const key = queueKey('w', 'a');

  function ranOnce(s: Scheduler, input: OutcomeInput, now: number): QueuePick {
    const p = s.pick('g', now);
    if (!p) throw new Error('expected a pick');
    s.started(p, now);
    s.finished(p, input, now + 10);
    return p;
  }

  it('holds a queue after none-ready, lifted only by a poll that starts after the run ended', () => {
    const s = scheduler([group('g', 2)]);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    ranOnce(s, result('none-ready', 5), START);
    // A poll that started before the run ended still shows the old count: no re-dispatch.
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START + 5, START + 20);
    expect(s.pick('g', START + 20)).toBeNull();
    // New jobs seen by a later poll: dispatch at once, no need to wait 2 s.
    s.observe({ queues: [q('w', 'a', 1)], errors: [] }, START + 30, START + 40);
    expect(s.pick('g', START + 40)).toMatchObject({ key });
  });

  it('does not trust a listing that keeps producing empty runs', () => {
    const s = scheduler([group('g', 2)]);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    ranOnce(s, result('none-ready', 0), START);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START + 20, START + 20);
    ranOnce(s, result('none-ready', 0), START + 20);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START + 40, START + 40);
    expect(s.pick('g', START + 40)).toBeNull();
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START + 2100, START + 2100);
    expect(s.pick('g', START + 2100)).toMatchObject({ key });
  });

  it('re-dispatches at once after job-limit / time-limit / memory-limit', () => {
    for (const reached of ['job-limit', 'time-limit', 'memory-limit']) {
      const s = scheduler([group('g', 1)]);
      s.observe({ queues: [q('w', 'a', 5000)], errors: [] }, START, START);
      ranOnce(s, result(reached, 100), START);
      expect(s.pick('g', START + 11)).toMatchObject({ key });
    }
  });

  it('holds a config mismatch long and reports it once', () => {
    const s = scheduler([group('g', 1)]);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    const p = s.pick('g', START);
    if (!p) throw new Error('expected a pick');
    s.started(p, START);
    expect(s.finished(p, result('none-possible', 0), START).firstConfigMismatch).toBe(true);
    expect(s.pick('g', START + 599_000)).toBeNull();
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START + 600_001, START + 600_001);
    const again = s.pick('g', START + 600_001);
    if (!again) throw new Error('expected a pick');
    s.started(again, START + 600_001);
    expect(s.finished(again, result('none-possible', 0), START + 600_001).firstConfigMismatch).toBe(false);
  });

  it('backs off the whole wiki on read-only and replica lag', () => {
    for (const reached of ['read-only', 'replica-lag-limit', 'slave-lag-limit']) {
      const s = scheduler([group('g', 4)]);
      s.observe({ queues: [q('w', 'a', 5), q('w', 'b', 5), q('x', 'a', 5)], errors: [] }, START, START);
      const p = s.pick('g', START);
      if (!p) throw new Error('expected a pick');
      s.started(p, START);
      s.finished(p, result(reached, 0), START);
      const rest = fillAll(s, 'g', 4, START + 1);
      expect(rest.map((r) => r.wiki)).toEqual(p.wiki === 'w' ? ['x'] : ['w', 'w']);
      expect(fillAll(s, 'g', 4, START + 30_001).length).toBeGreaterThan(0);
    }
  });

  it("skips the types MediaWiki's backoffs name, on that wiki only, until expiry", () => {
    const s = scheduler([group('g', 1)]);
    s.observe({ queues: [q('w', 'a', 50), q('w', 'b', 50), q('x', 'b', 50)], errors: [] }, START, START);
    const p = s.pick('g', START);
    if (!p) throw new Error('expected a pick');
    s.started(p, START);
    const expiry = (START + 5000) / 1000;
    s.finished(
      { ...p, wiki: 'w', key: queueKey('w', 'a') },
      result('job-limit', 1, { backoffs: { b: expiry } }),
      START,
    );
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const next = s.pick('g', START + 1 + i);
      if (!next) break;
      s.started(next, START + 1 + i);
      s.finished(next, result('job-limit'), START + 1 + i);
      seen.add(`${next.wiki}/${next.type}`);
    }
    expect(seen.has('w/b')).toBe(false);
    expect(seen.has('x/b')).toBe(true);
    expect(s.activeBackoffs(START + 100)).toContainEqual(
      expect.objectContaining({ key: queueKey('w', 'b'), reason: 'mediawiki-backoff' }),
    );
  });

  it('backs off failures exponentially, capped, and resets on success (B8)', () => {
    const s = scheduler([group('g', 1)], { failureBackoffSeconds: 1, maxFailureBackoffSeconds: 5 });
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    let now = START;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = s.pick('g', now);
      if (!p) throw new Error(`expected a pick at failure ${i}`);
      s.started(p, now);
      const report = s.finished(p, { outcome: 'error', reached: null, backoffs: {}, jobsRun: 0 }, now);
      delays.push(report.failureBackoffMs ?? -1);
      expect(s.pick('g', now + (report.failureBackoffMs ?? 0) - 1)).toBeNull();
      now += report.failureBackoffMs ?? 0;
    }
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
    const ok = s.pick('g', now);
    if (!ok) throw new Error('expected a pick');
    s.started(ok, now);
    s.finished(ok, result('job-limit'), now);
    expect(s.backoffs.failureStreak(key)).toBe(0);
    const failAgain = s.pick('g', now);
    if (!failAgain) throw new Error('expected a pick');
    s.started(failAgain, now);
    expect(
      s.finished(failAgain, { outcome: 'timeout', reached: null, backoffs: {}, jobsRun: 0 }, now)
        .failureBackoffMs,
    ).toBe(1000);
  });

  it('treats reached: exception as a failure and an error', () => {
    const s = scheduler([group('g', 1)]);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    const p = s.pick('g', START);
    if (!p) throw new Error('expected a pick');
    s.started(p, START);
    const report = s.finished(p, result('exception', 2), START);
    expect(report.reaction).toMatchObject({ kind: 'failure', error: true });
    expect(report.failureBackoffMs).toBe(1000);
  });

  it('ignores absurd MediaWiki back-off expiries beyond an hour', () => {
    const s = scheduler([group('g', 1)]);
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    ranOnce(s, result('job-limit', 1, { backoffs: { a: 9e15 } }), START);
    expect(s.pick('g', START + 3_600_011)).toMatchObject({ key });
  });
});

describe('discovery view', () => {
  it('keeps a failing partition’s last listing for a while and keeps serving the others', () => {
    const s = scheduler([group('g', 4)]);
    s.observe({ queues: [q('w', 'a', 5, 'p1'), q('w', 'b', 5, 'p2')], errors: [] }, START, START);
    s.observe(
      { queues: [q('w', 'b', 7, 'p2')], errors: [{ partition: 'p1', error: 'ECONNREFUSED' }] },
      START + 50,
      START + 50,
    );
    expect(s.view.get(queueKey('w', 'a'))).toMatchObject({ ready: 5, stale: true });
    expect(s.view.get(queueKey('w', 'b'))).toMatchObject({ ready: 7, stale: false });
    s.observe(
      { queues: [q('w', 'b', 7, 'p2')], errors: [{ partition: 'p1', error: 'ECONNREFUSED' }] },
      START + 6000,
      START + 6000,
    );
    expect(s.view.get(queueKey('w', 'a'))).toBeUndefined();
    expect(s.partitions()).toContainEqual(
      expect.objectContaining({ partition: 'p1', error: 'ECONNREFUSED' }),
    );
    s.observe({ queues: [], errors: [] }, START + 6050, START + 6050);
    expect(s.partitions()).toEqual([]);
    expect(s.view.size).toBe(0);
  });

  it('merges one queue spread over partitions', () => {
    const s = scheduler([group('g', 4)]);
    s.observe({ queues: [q('w', 'a', 5, 'p1'), q('w', 'a', 6, 'p2')], errors: [] }, START, START);
    expect(s.view.get(queueKey('w', 'a'))?.ready).toBe(11);
    expect(s.view.size).toBe(1);
  });

  it('keeps everything it knew when the whole listing call fails, then drops it after the TTL', () => {
    const s = scheduler([group('g', 4)]);
    s.observe({ queues: [q('w', 'a', 5, 'p1')], errors: [] }, START, START);
    s.observe({ queues: [], errors: [{ partition: '*', error: 'boom' }] }, START + 50, START + 50);
    expect(s.view.get(queueKey('w', 'a'))?.stale).toBe(true);
    s.observe({ queues: [], errors: [{ partition: '*', error: 'boom' }] }, START + 5050, START + 5050);
    expect(s.view.size).toBe(0);
  });

  it('reports notice-to-dispatch latency for queues that were waiting idle', () => {
    const s = scheduler([group('g', 1)]);
    s.observe({ queues: [q('w', 'a', 1)], errors: [] }, START, START + 3);
    const p = s.pick('g', START + 5);
    if (!p) throw new Error('expected a pick');
    expect(s.started(p, START + 5)).toBe(5);
  });
});

describe('wantsPush (which pushes wake an idle runner)', () => {
  it('wakes for a type some free group runs, in either priority mode', () => {
    const s = scheduler([
      group('main', 2, { exclude: ['upload', 'gwtoolset'], lowPriority: ['refreshLinks'] }),
      group('gwt', 1, { include: ['gwtoolset'] }),
    ]);
    expect(s.wantsPush('w', 'null', ['main'], START)).toBe(true);
    expect(s.wantsPush('w', 'refreshLinks', ['main'], START)).toBe(true);
    expect(s.wantsPush('w', 'upload', ['main', 'gwt'], START)).toBe(false);
    expect(s.wantsPush('w', 'gwtoolset', ['main'], START)).toBe(false);
    expect(s.wantsPush('w', 'gwtoolset', ['gwt'], START)).toBe(true);
    expect(s.wantsPush('w', 'null', [], START)).toBe(false);
  });

  it('stays asleep for a queue already running or firmly held, or a wiki at its cap', () => {
    const s = scheduler([group('g', 4)], { maxPerWiki: 1 });
    s.observe({ queues: [q('w', 'a', 5)], errors: [] }, START, START);
    const p = s.pick('g', START);
    if (!p) throw new Error('expected a pick');
    s.started(p, START);
    expect(s.wantsPush('w', 'a', ['g'], START)).toBe(false);
    expect(s.wantsPush('w', 'b', ['g'], START)).toBe(false); // maxPerWiki 1
    expect(s.wantsPush('x', 'a', ['g'], START)).toBe(true);
    s.finished(p, result('read-only', 0), START + 10);
    expect(s.wantsPush('w', 'b', ['g'], START + 20)).toBe(false); // the wiki is backed off
    expect(s.wantsPush('w', 'b', ['g'], START + 30_011)).toBe(true);
  });

  it('wakes for a queue held only until new jobs show up (none-ready), not for a failing one', () => {
    const s = scheduler([group('g', 2)]);
    s.observe({ queues: [q('w', 'a', 5), q('w', 'b', 5)], errors: [] }, START, START);
    const a = s.pick('g', START);
    if (a) s.started(a, START);
    const b = s.pick('g', START);
    if (!a || !b) throw new Error('expected two picks');
    s.started(b, START);
    s.finished(a, result('none-ready', 5), START + 10);
    s.finished(b, { outcome: 'error', reached: null, backoffs: {}, jobsRun: 0 }, START + 10);
    expect(s.wantsPush('w', a.type, ['g'], START + 20)).toBe(true);
    expect(s.wantsPush('w', b.type, ['g'], START + 20)).toBe(false);
  });
});
