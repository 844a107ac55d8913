import { it } from 'vitest';
import { seeded } from '../fuzz/generators.js';
import { FarmSim, windowShares } from '../support/schedule-sim.js';
it('debug', () => {
  const settings = { highPriorityMaxSeconds: 600, lowPriorityMaxSeconds: 120, highPriorityMaxTime: 60, lowPriorityMaxTime: 30, maxPerQueue: 2, maxPerWiki: 0, noneReadyBackoffSeconds: 2, nonePossibleBackoffSeconds: 600, wikiBackoffSeconds: 30, failureBackoffSeconds: 1, maxFailureBackoffSeconds: 300,
    scheduling: { policy: 'fair' as const, sliceSeconds: 3, longSliceSeconds: 10, expressSlots: 1, expressMaxReady: 10, expressSliceSeconds: 1, expressHoldSeconds: 5, wikiWeights: {}, typeWeights: {} } };
  const r = seeded(12);
  const sim = new FarmSim({ hosts: 1, groups: [{ name: 'g', runners: 4, include: ['*'], exclude: [], lowPriority: [] }], settings, startupMs: 150, pollMs: 50, tickMs: 10, random: seeded(13) });
  const types = ['refreshLinks', 'htmlCacheUpdate', 'echo'];
  const rt = () => { const x = r(); if (x < 0.8) return 10 + Math.floor(r() * 40); if (x < 0.98) return 50 + Math.floor(r() * 950); return 1000 + Math.floor(r() * 4000); };
  const jobs = (n: number) => Array.from({ length: n }, rt);
  const heavy = Array.from({ length: 2 + Math.floor(r() * 3) }, (_, i) => `heavy${i}`);
  const heavyTypes = new Map(heavy.map((w) => [w, types.slice(0, 1 + Math.floor(r() * 2))]));
  const medium = Array.from({ length: 3 + Math.floor(r() * 5) }, (_, i) => `medium${i}`);
  const quiet = Array.from({ length: 20 + Math.floor(r() * 30) }, (_, i) => `quiet${i}`);
  sim.run(120_000, (s, now) => {
    if (now % 1000 === 0) for (const w of heavy) for (const t of heavyTypes.get(w) ?? []) if (s.ready(w) < 400) s.push(w, t, jobs(300));
    for (const w of medium) if (r() < 10 / 40000) s.push(w, types[Math.floor(r() * 3)]!, jobs(20 + Math.floor(r() * 280)));
    for (const w of quiet) if (r() < 10 / 20000) s.push(w, types[Math.floor(r() * 3)]!, jobs(1 + Math.floor(r() * 3)));
  });
  console.log(JSON.stringify(windowShares(sim, 30, 90, 100, () => 1)));
  for (const w of ['heavy0','heavy1','medium2']) console.log(w, (sim.slotMs.get(w) ?? []).slice(20, 90).map((x) => Math.round((x ?? 0) / 100)).join(' '), '\n', (sim.backloggedTicks.get(w) ?? []).slice(20, 90).map((x) => x ?? 0).join(' '));
  console.log(sim.log.filter((l) => l.at < 90000 && l.at > 20000 && !l.wiki.startsWith('quiet')).map((l) => `${l.at} ${l.wiki}/${l.type} ${l.maxTime}${l.express ? 'E' : ''}`).join('\n'));
});
