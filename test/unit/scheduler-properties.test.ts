// Property tests of the scheduling policy (issue 14): seeded random farms with skewed load, run for
// thousands of discovery rounds through the real Scheduler, checking the stated guarantees
// directly: caps, no starvation within the bound, fair share of slot-time per wiki (±20 % over
// 60 s), and a quiet queue's job starting within a poll and a start-up while the express slot is
// free. A failing seed is named so it can be replayed alone.
import { describe, expect, it } from 'vitest';
import type { GroupConfig, SchedulingSettings } from '../../src/config/types.js';
import { Scheduler, type QueuePick, type SchedulerSettings } from '../../src/runner/scheduler.js';
import { drawRunSeconds, planPushes, seededRandom } from '../../src/bench/common/overload-workload.js';
import { seeded, type Random } from '../fuzz/generators.js';
import { FarmSim, fullDuring, windowShares } from '../support/schedule-sim.js';
import { schedulerSettings } from '../support/scheduler-settings.js';

function settings(scheduling: Partial<SchedulingSettings> = {}, extra: Partial<SchedulerSettings> = {}) {
  return schedulerSettings(extra, scheduling);
}

function group(name: string, runners: number, extra: Partial<GroupConfig> = {}): GroupConfig {
  return { name, runners, include: ['*'], exclude: [], lowPriority: [], ...extra };
}

const TICK_MS = 10;
const POLL_MS = 50;
const STARTUP_MS = 150;
/** Most jobs are short, some take up to half a second, 2 % up to maxJobMs. */
function runTime(r: Random, maxJobMs: number): number {
  const x = r();
  if (x < 0.8) return 10 + Math.floor(r() * 40);
  if (x < 0.98) return 50 + Math.floor(r() * 450);
  return 500 + Math.floor(r() * (maxJobMs - 500));
}

/** bench:overload's mix: 90 % 5–50 ms, 9 % 50 ms–2 s, 1 % 2 s–maxJobMs. */
function benchRunTime(r: Random, maxJobMs: number): number {
  const x = r();
  if (x < 0.9) return 5 + Math.floor(r() * 45);
  if (x < 0.99) return 50 + Math.floor(r() * 1950);
  return 2000 + Math.floor(r() * (maxJobMs - 2000));
}

function p99(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length * 0.99)] ?? 0;
}

interface Workload {
  readonly heavy: string[];
  readonly step: (sim: FarmSim, now: number) => void;
}

/**
 * A skewed farm: a few heavy wikis with permanent backlogs on one or two types, medium wikis whose
 * queues fill in bursts and empty, and many quiet wikis pushing a job or three now and then.
 */
function skewedWorkload(
  r: Random,
  types: readonly string[],
  maxJobMs: number,
  drawRunTime: (r: Random, maxJobMs: number) => number = runTime,
): Workload {
  const jobs = (n: number) => Array.from({ length: n }, () => drawRunTime(r, maxJobMs));
  const heavy = Array.from({ length: 2 + Math.floor(r() * 3) }, (_, i) => `heavy${i}`);
  const heavyTypes = new Map(heavy.map((w) => [w, types.slice(0, 1 + Math.floor(r() * 2))]));
  const medium = Array.from({ length: 3 + Math.floor(r() * 5) }, (_, i) => `medium${i}`);
  const quiet = Array.from({ length: 20 + Math.floor(r() * 30) }, (_, i) => `quiet${i}`);
  return {
    heavy,
    step(sim, now) {
      if (now % 1000 === 0) {
        for (const wiki of heavy) {
          for (const type of heavyTypes.get(wiki) ?? []) {
            if (sim.ready(wiki) < 400) sim.push(wiki, type, jobs(300));
          }
        }
      }
      for (const wiki of medium) {
        // A burst every ~40 s per wiki.
        if (r() < TICK_MS / 40_000)
          sim.push(wiki, types[Math.floor(r() * types.length)] as string, jobs(20 + Math.floor(r() * 280)));
      }
      for (const wiki of quiet) {
        // A few jobs every ~20 s per wiki.
        if (r() < TICK_MS / 20_000)
          sim.push(wiki, types[Math.floor(r() * types.length)] as string, jobs(1 + Math.floor(r() * 3)));
      }
    },
  };
}

interface Scenario {
  readonly seed: number;
  readonly hosts: number;
  readonly groups: GroupConfig[];
  readonly settings: SchedulerSettings;
  readonly seconds: number;
  readonly weights?: Readonly<Record<string, number>>;
  /** Longest job (ms). */
  readonly maxJobMs: number;
  /** Also check ±20 % of the fair share in every window (dispatches short against the share). */
  readonly strictShare: boolean;
  /** Run times as bench:overload draws them (1 % of jobs 2–20 s) instead of runTime. */
  readonly benchJobs?: boolean;
}

function runScenario(sc: Scenario) {
  const r = seeded(sc.seed);
  const sim = new FarmSim({
    hosts: sc.hosts,
    groups: sc.groups,
    settings: sc.settings,
    startupMs: STARTUP_MS,
    pollMs: POLL_MS,
    tickMs: TICK_MS,
    random: seeded(sc.seed + 1),
  });
  const workload = skewedWorkload(
    r,
    ['refreshLinks', 'htmlCacheUpdate', 'echo'],
    sc.maxJobMs,
    sc.benchJobs ? benchRunTime : runTime,
  );
  sim.run(sc.seconds * 1000, workload.step);
  return { sim, workload };
}

/** The no-starvation bound (README "Scheduling"): see boundMs below. */
function starvationBoundMs(sim: FarmSim, sc: Scenario): number {
  const s = sc.settings;
  const normalSlots = sc.hosts * sc.groups.reduce((n, g) => n + g.runners - (g.runners >= 2 ? 1 : 0), 0);
  const long = STARTUP_MS + s.scheduling.longSliceSeconds * 1000 + sc.maxJobMs;
  const short = STARTUP_MS + s.scheduling.sliceSeconds * 1000 + sc.maxJobMs;
  // Slices already running when the queue started waiting, one catch-up of a wiki that ran alone,
  // then one short slice per competing queue and slot.
  return (
    2 * long + (Math.ceil((sim.maxReadyWikis * sim.maxQueuesPerWiki) / normalSlots) + 1) * short + POLL_MS
  );
}

/**
 * The same bound with burst slots (README "Scheduling"): a dispatch that has not overrun ends within
 * its maxtime + overrunSeconds of its start, and one that has is stood in for by a burst slot, so the
 * longest job drops out of the bound while at most burstSlots dispatches overrun at once.
 */
function burstBoundMs(sim: FarmSim, sc: Scenario): number {
  const s = sc.settings.scheduling;
  const normalSlots = sc.hosts * sc.groups.reduce((n, g) => n + g.runners - (g.runners >= 2 ? 1 : 0), 0);
  const overrun = s.overrunSeconds * 1000 + TICK_MS;
  const long = s.longSliceSeconds * 1000 + overrun;
  const short = s.sliceSeconds * 1000 + overrun;
  return (
    2 * long + (Math.ceil((sim.maxReadyWikis * sim.maxQueuesPerWiki) / normalSlots) + 1) * short + POLL_MS
  );
}

function checkInvariants(sc: Scenario, sim: FarmSim, heavy: readonly string[]): void {
  const tag = `seed ${sc.seed}`;
  expect(sim.violations, tag).toEqual([]);
  // Thousands of rounds were really run, with skew: the heavy wikis were served, the tail too.
  expect(sim.jobStarts.length, tag).toBeGreaterThan(1000);
  for (const wiki of heavy) expect(sim.dispatches.get(wiki) ?? 0, `${tag} ${wiki}`).toBeGreaterThan(5);

  const bound = starvationBoundMs(sim, sc);
  const worst = Math.max(...sim.queueWaits.map((w) => w.ms));
  expect(worst, `${tag}: longest wait of a ready queue vs the bound`).toBeLessThanOrEqual(bound);

  const weightOf = (wiki: string) => sc.weights?.[wiki] ?? 1;
  const ticksPerSecond = 1000 / TICK_MS;
  let windows = 0;
  const sched = sc.settings.scheduling;
  const dispatchMs = STARTUP_MS + sched.sliceSeconds * 1000 + sc.maxJobMs;
  const spreadBound = 2 * dispatchMs + Math.max(sched.sliceSeconds, sched.longSliceSeconds) * 1000;
  for (let from = 30; from + 60 <= sc.seconds; from += 15) {
    const ws = windowShares(sim, from, from + 60, ticksPerSecond, weightOf);
    if (ws.length < 2) continue;
    windows++;
    const where = `${tag}: window [${from}, ${from + 60}) s`;
    // Fair queuing's bound: two backlogged wikis' slot-time per weight differ by at most two
    // dispatches and the lead a wiki may carry (README "Scheduling").
    const perWeight = ws.map((x) => x.used / weightOf(x.wiki));
    expect(Math.max(...perWeight) - Math.min(...perWeight), `${where}, spread`).toBeLessThanOrEqual(
      spreadBound,
    );
    if (!sc.strictShare) continue;
    for (const { wiki, share, fair } of ws) {
      expect(share / fair, `${where}, ${wiki}`).toBeGreaterThanOrEqual(0.8);
      expect(share / fair, `${where}, ${wiki}`).toBeLessThanOrEqual(1.2);
    }
  }
  expect(windows, `${tag}: windows with backlogged wikis checked`).toBeGreaterThan(0);

  // A quiet job pushed while an express slot is free starts within a poll and a start-up, unless
  // the slot was taken before discovery saw the job: by another quiet queue that showed up in the
  // same moment, or lent to a backlog by a refill after a dispatch ended in that gap.
  const express = sim.jobStarts.filter((j) => j.expressCase);
  expect(express.length, `${tag}: quiet pushes that found the express slot free`).toBeGreaterThan(20);
  // Quiet queues started by burst slots take quiet work as the express slot would.
  const expressStarts = sim.log.filter((d) => d.expressSlot || (d.burst && d.express));
  let raced = 0;
  for (const j of express) {
    if (j.waitMs <= POLL_MS + STARTUP_MS + TICK_MS) continue;
    const pushedAt = j.at - j.waitMs;
    // (Another queue: of another wiki, or of the same wiki pushed in the same moment.)
    const other = expressStarts.find(
      (d) => (d.wiki !== j.wiki || d.type !== j.type) && d.at >= pushedAt && d.at < j.at,
    );
    expect(
      other,
      `${tag}: quiet job of ${j.wiki} pushed at t=${pushedAt} waited ${j.waitMs} ms`,
    ).toBeDefined();
    raced++;
  }
  expect(
    raced / express.length,
    `${tag}: quiet jobs that lost the express slot to a simultaneous one`,
  ).toBeLessThan(0.1);
}

describe('scheduling policy "fair" on seeded skewed farms', () => {
  for (const seed of [11, 12, 13]) {
    it(`one host, 4 slots, jobs up to 5 s, seed ${seed}: caps, no starvation, fair-queuing bound, quiet latency`, () => {
      const sc: Scenario = {
        seed,
        hosts: 1,
        groups: [group('g', 4)],
        settings: settings(),
        seconds: 240,
        maxJobMs: 5000,
        strictShare: false,
      };
      const { sim, workload } = runScenario(sc);
      checkInvariants(sc, sim, workload.heavy);
    });
  }

  for (const seed of [14, 15]) {
    it(`one host, 8 slots, jobs up to 1 s, seed ${seed}: every backlogged wiki within ±20 % of its share per 60 s`, () => {
      const sc: Scenario = {
        seed,
        hosts: 1,
        groups: [group('g', 8)],
        settings: settings(),
        seconds: 240,
        maxJobMs: 1000,
        strictShare: true,
      };
      const { sim, workload } = runScenario(sc);
      checkInvariants(sc, sim, workload.heavy);
    });
  }

  it('honours wiki weights: heavy0 with weight 2 gets twice the slot-time of the others', () => {
    const weights = { heavy0: 2 };
    const sc: Scenario = {
      seed: 21,
      hosts: 1,
      groups: [group('g', 5)],
      settings: settings({ wikiWeights: weights }),
      seconds: 240,
      weights,
      maxJobMs: 1000,
      strictShare: true,
    };
    const { sim, workload } = runScenario(sc);
    checkInvariants(sc, sim, workload.heavy);
  });

  it('three hosts sharing the queues, each deciding alone: the same guarantees farm-wide', () => {
    const sc: Scenario = {
      seed: 31,
      hosts: 3,
      groups: [group('g', 3)],
      settings: settings(),
      seconds: 240,
      maxJobMs: 5000,
      strictShare: false,
    };
    const { sim, workload } = runScenario(sc);
    checkInvariants(sc, sim, workload.heavy);
  });

  it('keeps caps, groups and the low-priority time share: two groups, maxPerWiki, a low-priority type', () => {
    const groups = [
      group('basic', 4, { lowPriority: ['htmlCacheUpdate'] }),
      group('echo', 2, { include: ['echo'] }),
    ];
    const sc: Scenario = {
      seed: 41,
      hosts: 1,
      groups,
      settings: settings({}, { maxPerWiki: 2, highPriorityMaxSeconds: 30, lowPriorityMaxSeconds: 15 }),
      seconds: 180,
      maxJobMs: 5000,
      strictShare: false,
    };
    const { sim } = runScenario(sc);
    // Caps and type filters per mode are checked at every dispatch; fairness is per group here.
    expect(sim.violations, 'seed 41').toEqual([]);
    expect(Math.max(...sim.queueWaits.map((w) => w.ms))).toBeLessThanOrEqual(starvationBoundMs(sim, sc));
  });
});

describe('burst slots: a job that overruns its maxtime does not hold up the queues behind it', () => {
  function burstScenario(seed: number, hosts: number, burstSlots: number): Scenario {
    return {
      seed,
      hosts,
      groups: [group('g', 4)],
      settings: settings({ burstSlots }),
      seconds: 240,
      maxJobMs: 20_000,
      strictShare: false,
      benchJobs: true,
    };
  }

  for (const [seed, hosts] of [
    [51, 1],
    [52, 1],
    [53, 1],
    [54, 3],
  ] as const) {
    it(`${hosts} host(s), 4 slots, jobs up to 20 s, seed ${seed}: waits within the bound without the longest job, children ≤ runners + burstSlots (+ quietBurstSlots for quiet queues)`, () => {
      const sc = burstScenario(seed, hosts, 2);
      const { sim } = runScenario(sc);
      const tag = `seed ${seed}`;
      expect(sim.violations, tag).toEqual([]);
      // Children that are not quiet dispatches stay within runners + burstSlots (sim.violations).
      expect(sim.maxChildren, `${tag}: children on one host`).toBeLessThanOrEqual(4 + 2 + 2);
      // The mechanism was exercised: jobs overran, burst slots ran.
      expect(sim.log.filter((d) => d.burst).length, `${tag}: burst dispatches`).toBeGreaterThan(20);
      // With 1 % of jobs 2–20 s on permanent backlogs about half the slot-time is inside long jobs,
      // so more than burstSlots overrun at once now and then; the bound is stated for the rest.
      const clean = sim.queueWaits.filter((w) => !w.overrunBeyondBurst);
      expect(clean.length, `${tag}: waits with ≤ burstSlots overrunning`).toBeGreaterThan(100);
      const bound = burstBoundMs(sim, sc);
      const worst = Math.max(...clean.map((w) => w.ms));
      expect(
        worst,
        `${tag}: longest wait vs the bound with overrunSeconds for the longest job`,
      ).toBeLessThanOrEqual(bound);
      // Every wait, overrun or not, stays within the bound that counts the longest job.
      expect(Math.max(...sim.queueWaits.map((w) => w.ms)), tag).toBeLessThanOrEqual(
        starvationBoundMs(sim, sc),
      );
    });
  }
});

describe('quiet burst slots: a quiet queue does not wait for dispatches stuck in long jobs', () => {
  // A quiet job (its wiki idle, at most expressMaxReady jobs; the first of its push) starts within a
  // poll and a start-up unless, during its wait, the group had every slot busy: runners +
  // burstSlots + quietBurstSlots children, of which at most runners + burstSlots are not quiet
  // dispatches (checked at every dispatch), so quietBurstSlots quiet dispatches were running too.
  function quietScenario(seed: number, quietBurstSlots: number): Scenario {
    return {
      seed,
      hosts: 1,
      groups: [group('g', 4)],
      settings: settings({ quietBurstSlots }),
      seconds: 240,
      maxJobMs: 20_000,
      strictShare: false,
      benchJobs: true,
    };
  }
  const LATE_MS = POLL_MS + STARTUP_MS + TICK_MS;
  const quietFirstJobs = (sim: FarmSim) => sim.jobStarts.filter((j) => j.quiet && j.first);

  for (const seed of [61, 62, 63]) {
    it(`one host, 4 slots, 1 % of jobs 2–20 s, seed ${seed}: a quiet job waits beyond a poll and a start-up only while every slot is busy`, () => {
      const { sim } = runScenario(quietScenario(seed, 2));
      const tag = `seed ${seed}`;
      expect(sim.violations, tag).toEqual([]);
      expect(sim.maxChildren, `${tag}: children on one host`).toBeLessThanOrEqual(4 + 2 + 2);
      // The mechanism was exercised: quiet dispatches started beyond runners + burstSlots.
      expect(sim.maxChildren, `${tag}: children beyond runners + burstSlots`).toBeGreaterThan(4 + 2);
      const quiet = quietFirstJobs(sim);
      expect(quiet.length, `${tag}: quiet pushes`).toBeGreaterThan(300);
      const late = quiet.filter((j) => j.waitMs > LATE_MS);
      for (const j of late) {
        const pushedAt = j.at - j.waitMs;
        expect(
          fullDuring(sim, pushedAt, j.at - STARTUP_MS),
          `${tag}: quiet job of ${j.wiki} pushed at t=${pushedAt} waited ${j.waitMs} ms with a slot free`,
        ).toBe(true);
      }
    });
  }

  it('the price and the gain against quietBurstSlots 0 on the same farms (seeds 61–63)', () => {
    const pooled = (quietBurstSlots: number) => {
      const waits: number[] = [];
      let most = 0;
      for (const seed of [61, 62, 63]) {
        const { sim } = runScenario(quietScenario(seed, quietBurstSlots));
        expect(sim.violations, `seed ${seed}`).toEqual([]);
        most = Math.max(most, sim.maxChildren);
        waits.push(...quietFirstJobs(sim).map((j) => j.waitMs));
      }
      const late = waits.filter((w) => w > LATE_MS).length / waits.length;
      return { late, p99: p99(waits), most };
    };
    const withSlots = pooled(2);
    const without = pooled(0);
    // Without: a quiet job meets a group whose runners + burstSlots children are all busy (often
    // in long jobs) about a third of the time.
    expect(without.most).toBeLessThanOrEqual(4 + 2);
    expect(without.late).toBeGreaterThan(0.2);
    expect(withSlots.late).toBeLessThan(without.late / 4);
    expect(withSlots.p99).toBeLessThan(without.p99 / 2);
    expect(withSlots.most).toBe(4 + 2 + 2);
  });
});

describe("bench:overload's workload in the model", () => {
  // The same seeded pushes as the benchmark: 60 wikis, 2,000 jobs waiting on wiki1–3, then
  // 12 jobs/s for 150 s (wiki1 half, the rest by 1/rank²), jobs 90 % 5–50 ms, 9 % 50 ms–2 s, 1 % 2–20 s.
  function benchFarm(seed: number, burstSlots: number, hosts = 1, extra: { leases?: boolean } = {}): FarmSim {
    const wikis = Array.from({ length: 60 }, (_, i) => `wiki${i + 1}`);
    const plan = planPushes(wikis, 12, 150, seed);
    const random = seededRandom(seed + 1000);
    const sim = new FarmSim({
      hosts,
      groups: [group('g', 4)],
      settings: settings({ burstSlots }),
      startupMs: STARTUP_MS,
      pollMs: POLL_MS,
      tickMs: TICK_MS,
      random: seeded(seed),
      ...extra,
    });
    let next = 0;
    sim.run(150_000, (farm, now) => {
      if (now === 0)
        for (const wiki of wikis.slice(0, 3))
          farm.push(
            wiki,
            'sleep',
            Array.from({ length: 2000 }, () => Math.round(drawRunSeconds(random) * 1000)),
          );
      while (next < plan.length && (plan[next]?.atMs ?? Infinity) < now + TICK_MS) {
        const entry = plan[next++];
        if (entry) farm.push(entry.wiki, 'sleep', [Math.round(entry.seconds * 1000)]);
      }
    });
    return sim;
  }

  /** As bench:overload counts them: from second 20 on; small wikis are those after rank 10. */
  function figures(sim: FarmSim) {
    const waits = sim.queueWaits.filter((w) => w.at >= 20_000).map((w) => w.ms);
    const small = sim.jobStarts
      .filter((j) => j.at >= 20_000 && Number(j.wiki.slice(4)) > 10)
      .map((j) => j.waitMs);
    return { waitP99: p99(waits), waitMax: Math.max(...waits), smallP99: p99(small), smallPickups: small };
  }

  it('burst slots keep every ready queue within 10 s and small-wiki pickup p99 within 0.5 s; without them long jobs hold the slots (seeds 14–16)', () => {
    const small: number[] = [];
    for (const seed of [14, 15, 16]) {
      const tag = `seed ${seed}`;
      const burstSim = benchFarm(seed, 2);
      const withBurst = figures(burstSim);
      const without = figures(benchFarm(seed, 0));
      expect(burstSim.violations, tag).toEqual([]);
      expect(withBurst.waitMax, `${tag}: longest wait of a ready queue`).toBeLessThanOrEqual(10_000);
      expect(withBurst.waitMax, `${tag}: longest wait with burst slots vs without`).toBeLessThan(
        without.waitMax,
      );
      small.push(...withBurst.smallPickups);
    }
    // Pooled over the seeds: one run's p99 of about 100 small-wiki jobs is its worst job or two.
    expect(small.length).toBeGreaterThan(250);
    // With quiet burst slots a small wiki's job waits for no stuck dispatch: a poll and the
    // model's 150 ms start-up, but for the rare moments every slot is busy.
    expect(p99(small), 'small-wiki pickup p99, seeds 14–16').toBeLessThanOrEqual(500);
  });

  it('three hosts: the dispatch lease keeps their express slots from starting the same quiet queue', () => {
    const measure = (leases: boolean) => {
      let express = 0;
      let empty = 0;
      let lost = 0;
      const small: number[] = [];
      for (const seed of [14, 15, 16]) {
        const sim = benchFarm(seed, 2, 3, { leases });
        expect(sim.violations, `seed ${seed}`).toEqual([]);
        const quiet = sim.log.filter((d) => d.express);
        express += quiet.length;
        empty += quiet.filter((d) => d.empty).length;
        lost += sim.leasesLost;
        small.push(...figures(sim).smallPickups);
      }
      expect(p99(small), `leases ${leases}: small-wiki pickup p99, seeds 14–16`).toBeLessThanOrEqual(2000);
      return { express, empty, lost };
    };
    const without = measure(false);
    const withLeases = measure(true);
    // Without: most quiet dispatches start a runJobs that finds the queue emptied by another host.
    expect(without.empty / without.express).toBeGreaterThan(0.3);
    expect(withLeases.lost).toBeGreaterThan(100);
    expect(withLeases.empty / withLeases.express).toBeLessThan(without.empty / without.express / 4);
  });
});

describe('the starvation of issue 14', () => {
  // As in the issue: 4 slots, enwiki with 100,000 ready jobs, 12 small wikis with one job each that
  // get a new push after each run, 600 rounds in which every dispatch holds its slot for the round.
  function reproduce(policy: 'fair' | 'legacy') {
    const s = new Scheduler([group('g', 4)], settings({ policy }), 0, { random: () => 0 });
    const small = Array.from({ length: 12 }, (_, i) => `small${String(i).padStart(2, '0')}`);
    const counts = new Map<string, number>();
    const ROUND_MS = 1000;
    let ranLastRound = new Set<string>();
    const listing = (wikis: readonly string[]) => ({
      queues: [
        { wiki: 'enwiki', domain: 'enwiki', type: 'refreshLinks', partition: 'p1', ready: 100_000 },
        ...wikis.map((wiki) => ({ wiki, domain: wiki, type: 'null', partition: 'p1', ready: 1 })),
      ],
      errors: [],
    });
    for (let round = 0; round < 600; round++) {
      const now = round * ROUND_MS;
      // A poll between a small wiki's run and its next push does not list it; the next one does.
      s.observe(listing(small.filter((w) => !ranLastRound.has(w))), now, now);
      s.observe(listing(small), now + 1, now + 1);
      ranLastRound = new Set();
      const picks: QueuePick[] = [];
      for (let slot = 0; slot < 4; slot++) {
        const p = s.pick('g', now + 1, { express: s.isExpressSlot('g', slot), freeSlots: 4 - picks.length });
        if (!p) continue;
        s.started(p, now + 1);
        picks.push(p);
      }
      for (const p of picks) {
        s.finished(p, { outcome: 'ok', reached: 'none-ready', backoffs: {}, jobsRun: 1 }, now + ROUND_MS - 1);
        counts.set(p.wiki, (counts.get(p.wiki) ?? 0) + 1);
        ranLastRound.add(p.wiki);
      }
    }
    return counts;
  }

  it('legacy: enwiki is dispatched about once in 600 rounds (the bug, kept for comparison)', () => {
    expect(reproduce('legacy').get('enwiki') ?? 0).toBeLessThanOrEqual(2);
  });

  it('fair: enwiki gets its share of slot-time (1/13 of 2,400 slot-rounds, ±20 %)', () => {
    const counts = reproduce('fair');
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(2400);
    const fair = total / 13;
    for (const [wiki, n] of counts) {
      expect(n / fair, wiki).toBeGreaterThanOrEqual(0.8);
      expect(n / fair, wiki).toBeLessThanOrEqual(1.2);
    }
  });
});
