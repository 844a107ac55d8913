// How jobchron instances split partitions: fair share, rendezvous preference, release/acquire plans.
import { describe, expect, it } from 'vitest';
import { affinity, fairShare, planLeases, type LeasePlanInput } from '../../src/chron/shard.js';

const partitions = ['rdb1:6379', 'rdb2:6379', 'rdb3:6379', 'rdb4:6379', 'rdb5:6379'];

function plan(over: Partial<LeasePlanInput>) {
  return planLeases({
    instanceId: 'a',
    partitions,
    held: new Set(),
    heldElsewhere: new Set(),
    untouchable: new Set(),
    liveInstances: 1,
    ...over,
  });
}

describe('fairShare', () => {
  it('is ceil(partitions / instances), counting at least one instance', () => {
    expect(fairShare(5, 1)).toBe(5);
    expect(fairShare(5, 2)).toBe(3);
    expect(fairShare(12, 5)).toBe(3);
    expect(fairShare(1, 3)).toBe(1);
    expect(fairShare(4, 0)).toBe(4);
  });
});

describe('planLeases', () => {
  it('takes every free partition when alone, most preferred first', () => {
    const p = plan({});
    expect(p.target).toBe(5);
    expect([...p.acquire].sort()).toEqual([...partitions].sort());
    const weights = p.acquire.map((name) => affinity('a', name));
    expect(weights).toEqual([...weights].sort((x, y) => y - x));
    expect(p.release).toEqual([]);
  });

  it('gives back what is over the fair share, least preferred first, never a busy partition', () => {
    const held = new Set(partitions);
    const p = plan({ held, liveInstances: 2 });
    expect(p.target).toBe(3);
    expect(p.release).toHaveLength(2);
    const leastPreferred = [...partitions].sort((x, y) => affinity('a', x) - affinity('a', y)).slice(0, 2);
    expect([...p.release].sort()).toEqual(leastPreferred.sort());

    const busy = new Set([leastPreferred[0] ?? '']);
    const q = plan({ held, liveInstances: 2, untouchable: busy });
    expect(q.release).toHaveLength(2);
    expect(q.release).not.toContain(leastPreferred[0]);
  });

  it('tries only partitions nobody else holds, up to the fair share', () => {
    const p = plan({
      held: new Set(['rdb1:6379']),
      heldElsewhere: new Set(['rdb2:6379', 'rdb3:6379']),
      liveInstances: 2,
    });
    expect(p.target).toBe(3);
    expect([...p.acquire].sort()).toEqual(['rdb4:6379', 'rdb5:6379']);
  });

  it('two instances reach for different partitions first', () => {
    const two = ['p1', 'p2'];
    // With rendezvous hashing some instance pair prefers different partitions; find one and check
    // that their first choices split the partitions between them.
    const ids = Array.from({ length: 20 }, (_, i) => `host/${i}`);
    const first = (id: string) =>
      planLeases({
        instanceId: id,
        partitions: two,
        held: new Set(),
        heldElsewhere: new Set(),
        untouchable: new Set(),
        liveInstances: 2,
      }).acquire;
    const choices = new Set(ids.map((id) => first(id)[0]));
    expect(choices).toEqual(new Set(two));
    for (const id of ids) expect(first(id)).toHaveLength(1);
  });

  it('does nothing when exactly at the fair share', () => {
    const p = plan({ held: new Set(['rdb1:6379', 'rdb2:6379']), liveInstances: 3 });
    expect(p.target).toBe(2);
    expect(p.acquire).toEqual([]);
    expect(p.release).toEqual([]);
  });
});
