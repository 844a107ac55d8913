// The scheduler's candidate index (src/runner/candidate-index.ts): every view queue is in exactly
// one place (open, held until a time, or suspect in a round robin), and each way out of a parked
// place puts it back where every pick looks.
import { describe, expect, it } from 'vitest';
import { CandidateIndex } from '../../src/runner/candidate-index.js';

const open = (index: CandidateIndex) => [...index.openKeys()].sort();
const suspects = (index: CandidateIndex) => [...index.suspectKeys()];

describe('CandidateIndex', () => {
  it('re-opens held queues in due order, and each only once its latest hold ended', () => {
    const index = new CandidateIndex();
    for (const key of ['a', 'b', 'c']) index.add(key);
    index.hold('a', 300);
    index.hold('b', 100);
    index.hold('c', 200);
    index.hold('a', 150); // a hold replaced by a shorter one (its old heap entry is outdated)
    expect(open(index)).toEqual([]);
    index.releaseDue(99);
    expect(open(index)).toEqual([]);
    index.releaseDue(100);
    expect(open(index)).toEqual(['b']);
    index.releaseDue(160);
    expect(open(index)).toEqual(['a', 'b']);
    index.hold('a', 400);
    index.releaseDue(300); // a's outdated entry at 300 must not open it
    expect(open(index)).toEqual(['b', 'c']);
    expect(index.heldCount).toBe(1);
    index.releaseDue(400);
    expect(open(index)).toEqual(['a', 'b', 'c']);
  });

  it('keeps suspects in a line: looked at and passed over goes to the back', () => {
    const index = new CandidateIndex();
    for (const key of ['a', 'b', 'c']) {
      index.add(key);
      index.suspect(key, `wiki-${key}`);
    }
    expect(suspects(index)).toEqual(['a', 'b', 'c']);
    index.requeue('a');
    expect(suspects(index)).toEqual(['b', 'c', 'a']);
    index.suspect('b', 'wiki-b'); // parked again after its turn: the back
    expect(suspects(index)).toEqual(['c', 'a', 'b']);
    expect(open(index)).toEqual([]);
  });

  it('releases one queue, one wiki’s suspects, all suspects, or everything', () => {
    const index = new CandidateIndex();
    for (const key of ['a1', 'a2', 'b1', 'c1', 'h']) index.add(key);
    index.suspect('a1', 'a');
    index.suspect('a2', 'a');
    index.suspect('b1', 'b');
    index.suspect('c1', 'c');
    index.hold('h', 1000);
    index.release('c1');
    expect(open(index)).toEqual(['c1']);
    index.releaseWiki('a');
    expect(open(index)).toEqual(['a1', 'a2', 'c1']);
    expect(suspects(index)).toEqual(['b1']);
    index.releaseSuspects();
    expect(index.suspectCount).toBe(0);
    expect(open(index)).toEqual(['a1', 'a2', 'b1', 'c1']);
    index.releaseAll();
    expect(open(index)).toEqual(['a1', 'a2', 'b1', 'c1', 'h']);
    index.releaseDue(Infinity); // nothing left in the heap to re-open twice
    expect(open(index)).toEqual(['a1', 'a2', 'b1', 'c1', 'h']);
  });

  it('forgets a queue that left the view wherever it was, and does not re-open it later', () => {
    const index = new CandidateIndex();
    for (const key of ['o', 's', 'h']) index.add(key);
    index.suspect('s', 'w');
    index.hold('h', 50);
    for (const key of ['o', 's', 'h']) index.remove(key);
    index.releaseDue(100);
    index.releaseWiki('w');
    expect(open(index)).toEqual([]);
    expect(index.suspectCount + index.heldCount).toBe(0);
    // A key added while parked stays parked (the view may re-list a queue it still holds).
    index.add('x');
    index.hold('x', 10);
    index.add('x');
    expect(open(index)).toEqual([]);
  });

  it('keeps its heap bounded while the same queues are held again and again', () => {
    const index = new CandidateIndex();
    for (let i = 0; i < 10; i++) index.add(`q${i}`);
    for (let round = 0; round < 5000; round++) index.hold(`q${round % 10}`, 1_000_000 + round);
    expect(index.heldCount).toBe(10);
    // Outdated entries are compacted away: 5,000 holds of 10 queues keep at most 2 × 10 + 1024.
    expect((index as unknown as { held: { heap: unknown[] } }).held.heap.length).toBeLessThanOrEqual(
      2 * 10 + 1025,
    );
    // …and compaction keeps the due order: none opens before its latest hold ends.
    index.releaseDue(1_000_000 + 4989);
    expect(open(index)).toEqual([]);
    index.releaseDue(1_000_000 + 4999);
    expect(open(index)).toHaveLength(10);
  });
});
