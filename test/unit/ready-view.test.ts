// ReadyView updates in place, by what changed (src/runner/ready-view.ts). Checked against the
// plain definition it replaced, a full rebuild from every partition's last good listing, over
// seeded random polls: partitions that fail, recover, go stale past the TTL, whole calls that fail,
// queues that come, go, change their counts or move between partitions.
import { describe, expect, it } from 'vitest';
import type { PartitionError, QueueListing, ReadyQueue } from '../../src/backend/types.js';
import { queueKey } from '../../src/runner/queue-id.js';
import { ALL_PARTITIONS, ReadyView } from '../../src/runner/ready-view.js';

const TTL = 5000;

/** The definition: each partition's last good listing, dropped when stale past the TTL. */
class Reference {
  private readonly parts = new Map<string, { goodAt: number; queues: ReadyQueue[]; error: boolean }>();

  update(listing: QueueListing<ReadyQueue>, at: number): void {
    const failed = new Set(listing.errors.map((e) => e.partition));
    const whole = failed.has(ALL_PARTITIONS);
    const fresh = new Map<string, ReadyQueue[]>();
    for (const q of listing.queues)
      if (q.ready > 0) fresh.set(q.partition, [...(fresh.get(q.partition) ?? []), q]);
    for (const [name, p] of this.parts) {
      if (!failed.has(name) && !whole && !fresh.has(name))
        Object.assign(p, { goodAt: at, queues: [], error: false });
    }
    for (const [name, queues] of fresh) this.parts.set(name, { goodAt: at, queues, error: false });
    for (const name of failed) {
      const p = this.parts.get(name);
      if (p) p.error = true;
      else if (name !== ALL_PARTITIONS || this.parts.size === 0)
        this.parts.set(name, { goodAt: -Infinity, queues: [], error: true });
      if (name === ALL_PARTITIONS) for (const other of this.parts.values()) other.error = true;
    }
    for (const [name, p] of this.parts) if (!p.error && p.queues.length === 0) this.parts.delete(name);
    this.at = at;
  }

  private at = 0;

  merged(): Map<string, object> {
    const out = new Map<
      string,
      {
        wiki: string;
        domain: string;
        type: string;
        ready: number;
        partitions: string[];
        seenAt: number;
        stale: boolean;
      }
    >();
    for (const [name, p] of this.parts) {
      if (p.error && this.at - p.goodAt > TTL) continue;
      for (const q of p.queues) {
        const key = queueKey(q.wiki, q.type);
        const m = out.get(key);
        if (m) {
          m.ready += q.ready;
          m.partitions.push(name);
          if (!p.error) m.seenAt = Math.max(m.seenAt, p.goodAt);
          m.stale &&= p.error;
        } else {
          out.set(key, {
            wiki: q.wiki,
            domain: q.domain,
            type: q.type,
            ready: q.ready,
            partitions: [name],
            seenAt: p.error ? -Infinity : p.goodAt,
            stale: p.error,
          });
        }
      }
    }
    return out;
  }
}

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

function viewState(view: ReadyView): Map<string, object> {
  const out = new Map<string, object>();
  for (const q of view.queues()) {
    out.set(q.key, {
      wiki: q.wiki,
      domain: q.domain,
      type: q.type,
      ready: q.ready,
      partitions: [...q.partitions],
      seenAt: q.seenAt,
      stale: q.stale,
    });
  }
  return out;
}

describe('ReadyView', () => {
  it.each([1, 2, 3, 4, 5, 6])('matches a full rebuild after every poll (seed %i)', (seed) => {
    const random = seeded(seed);
    const view = new ReadyView(TTL);
    const reference = new Reference();
    // The listing objects a partition handed out last, reused while unchanged (like the tracker).
    const last = new Map<string, Map<string, ReadyQueue>>();
    let at = 1_000_000;
    let previous: QueueListing<ReadyQueue> = { queues: [], errors: [] };
    for (let poll = 0; poll < 400; poll++) {
      at += Math.floor(random() * 2500);
      const queues: ReadyQueue[] = [];
      const errors: PartitionError[] = [];
      if (random() < 0.25) {
        // The very same listing again (the common case on a farm with nothing changing).
        queues.push(...previous.queues);
        errors.push(...previous.errors);
      } else if (random() < 0.05) errors.push({ partition: ALL_PARTITIONS, error: 'down' });
      else {
        for (const partition of ['p1', 'p2', 'p3']) {
          if (random() < 0.15) {
            errors.push({ partition, error: 'refused' });
            continue;
          }
          const before = last.get(partition) ?? new Map<string, ReadyQueue>();
          const now = new Map<string, ReadyQueue>();
          if (random() < 0.2) {
            // The same objects in the same order, the last few gone (drained queues).
            const kept = [...before].slice(0, Math.floor(random() * before.size));
            for (const [type, q] of kept) now.set(type, q);
            queues.push(...now.values());
            last.set(partition, now);
            continue;
          }
          for (let i = 0; i < 12; i++) {
            const wiki = `w${i % 4}`;
            const type = `t${i}`;
            const old = before.get(type);
            const r = random();
            if (r < 0.2) continue; // not ready here
            const q =
              old && r < 0.8
                ? old
                : {
                    wiki,
                    domain: r < 0.9 ? wiki : `${wiki}-d`,
                    type,
                    partition,
                    ready: 1 + Math.floor(random() * 3),
                  };
            now.set(type, q);
            queues.push(q);
          }
          last.set(partition, now);
        }
      }
      previous = { queues, errors };
      const keysBefore = new Set(viewState(view).keys());
      const changes = view.update({ queues, errors }, at);
      reference.update({ queues, errors }, at);
      const state = viewState(view);
      expect(state).toEqual(reference.merged());
      expect(view.size).toBe(state.size);
      // The changes name exactly the keys that entered and left.
      const keysAfter = new Set(state.keys());
      expect(new Set(changes.added.filter((k) => keysAfter.has(k) && !keysBefore.has(k)))).toEqual(
        new Set([...keysAfter].filter((k) => !keysBefore.has(k))),
      );
      expect(new Set(changes.removed.filter((k) => !keysAfter.has(k) && keysBefore.has(k)))).toEqual(
        new Set([...keysBefore].filter((k) => !keysAfter.has(k))),
      );
      for (const wiki of ['w0', 'w1', 'w2', 'w3']) {
        expect(view.hasWiki(wiki)).toBe(
          [...state.values()].some((q) => (q as { wiki: string }).wiki === wiki),
        );
      }
    }
  });

  it('reports no change and keeps its entries when a poll lists the same objects again', () => {
    const view = new ReadyView(TTL);
    const queues: ReadyQueue[] = Array.from({ length: 100 }, (_, i) => ({
      wiki: `w${i}`,
      domain: `w${i}`,
      type: 'null',
      partition: 'p1',
      ready: 1,
    }));
    expect(view.update({ queues, errors: [] }, 1000).added).toHaveLength(100);
    const entry = view.get(queueKey('w7', 'null'));
    const changes = view.update({ queues, errors: [] }, 2000);
    expect(changes).toEqual({ added: [], removed: [] });
    expect(view.get(queueKey('w7', 'null'))).toBe(entry);
    expect(entry?.seenAt).toBe(2000); // read from the partition, not copied per poll
  });
});
