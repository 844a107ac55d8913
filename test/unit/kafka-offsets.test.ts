// In-order commits over out-of-order completion, and what a re-delivery after a reconnect means.
import { describe, expect, it } from 'vitest';
import { OffsetBook, PartitionOffsets } from '../../src/kafka/offsets.js';

describe('PartitionOffsets', () => {
  it('commits only past events that are finished together with everything before them', () => {
    const p = new PartitionOffsets();
    for (const o of [10n, 11n, 12n, 13n]) expect(p.accept(o)).toBe('new');
    expect(p.commitDue()).toBe(10n);
    p.finish(12n);
    p.finish(11n);
    expect(p.commitDue()).toBe(10n); // 10 still running
    p.finish(10n);
    expect(p.commitDue()).toBe(13n);
    p.finish(13n);
    expect(p.commitDue()).toBe(14n);
    expect(p.pending).toBe(0);
    p.committed = 14n;
    expect(p.commitDue()).toBeUndefined();
  });

  it('skips offsets delivered again after a reconnect, whether finished or still running', () => {
    const p = new PartitionOffsets();
    p.accept(0n);
    p.accept(1n);
    p.accept(2n);
    p.finish(0n);
    p.committed = 1n;
    expect(p.accept(1n)).toBe('seen'); // running
    expect(p.accept(2n)).toBe('seen');
    expect(p.accept(3n)).toBe('new');
  });

  it('treats offsets below the committed one as a reset partition (topic re-created)', () => {
    const p = new PartitionOffsets();
    p.accept(100n);
    p.finish(100n);
    p.committed = 101n;
    expect(p.accept(0n)).toBe('reset');
    expect(p.committed).toBeUndefined();
    expect(p.commitDue()).toBe(0n);
    p.finish(0n);
    expect(p.commitDue()).toBe(1n);
  });

  it('handles gaps in offsets (compaction, transaction markers) and long runs', () => {
    const p = new PartitionOffsets();
    for (const o of [5n, 9n, 20n]) p.accept(o);
    p.finish(9n);
    p.finish(5n);
    expect(p.commitDue()).toBe(20n);
    for (let o = 21n; o < 5000n; o++) p.accept(o);
    for (let o = 20n; o < 5000n; o++) p.finish(o);
    expect(p.commitDue()).toBe(5000n);
    expect(p.pending).toBe(0);
  });

  it('after a rejoin takes offsets from what was committed then as deliveries again, not a reset', () => {
    // The client fetches again from the group's committed offset as it was at the join (0 here);
    // meanwhile events finished and 6 was committed from here.
    const p = new PartitionOffsets();
    for (let o = 0n; o < 10n; o++) p.accept(o);
    p.committed = 0n;
    p.rejoined();
    for (let o = 0n; o < 6n; o++) p.finish(o);
    p.committed = 6n;
    expect(p.accept(0n)).toBe('seen'); // finished: not run again, not a reset
    expect(p.accept(7n)).toBe('seen'); // still in flight
    expect(p.pending).toBe(4);
    expect(p.commitDue()).toBeUndefined();
    expect(p.accept(10n)).toBe('new');
    // Below what was committed at the join: the topic was re-created.
    const q = new PartitionOffsets();
    q.accept(100n);
    q.finish(100n);
    q.committed = 101n;
    q.rejoined();
    expect(q.accept(0n)).toBe('reset');
  });

  it('ignores a finish for an offset from before a reset', () => {
    const p = new PartitionOffsets();
    p.accept(50n);
    p.committed = 50n;
    p.accept(1n); // reset
    p.finish(50n);
    expect(p.commitDue()).toBe(1n);
  });
});

describe('OffsetBook', () => {
  it('holds only owned partitions: a lost one is marked lost and dropped, one that comes back starts afresh', () => {
    const book = new OffsetBook();
    expect(book.reassign([{ topic: 't', partitions: [0, 1, 2] }])).toEqual([]);
    const p1 = book.owned('t', 1);
    if (p1 === undefined) throw new Error('partition 1 is owned');
    for (const o of [0n, 1n, 2n]) p1.accept(o);
    p1.finish(0n);
    p1.committed = 1n;
    expect(book.owned('t', 3)).toBeUndefined(); // never assigned: its messages are not ours

    // The rebalance moves partitions 1 and 2 to another member.
    expect(book.reassign([{ topic: 't', partitions: [0] }])).toEqual([
      { topic: 't', partition: 1, pending: 2, handedOver: true },
      { topic: 't', partition: 2, pending: 0, handedOver: true },
    ]);
    expect(p1.lost).toBe(true);
    expect(book.owned('t', 1)).toBeUndefined();
    expect([...book.entries()].map((e) => e.partition)).toEqual([0]); // nothing else is committed

    // Back again later: the new owner may have run and committed far ahead, or not at all, so
    // nothing from before counts (no stale 'seen', no commit going back).
    book.reassign([{ topic: 't', partitions: [0, 1] }]);
    const again = book.owned('t', 1);
    expect(again).not.toBe(p1);
    expect(again?.lost).toBe(false);
    expect(again?.committed).toBeUndefined();
    expect(again?.accept(1n)).toBe('new');
    expect(book.owned('t', 0)?.lost).toBe(false);
    // Kept through that rejoin: re-delivered offsets below what it committed since are not a reset.
    const p0 = book.owned('t', 0);
    p0?.accept(0n);
    p0?.accept(1n);
    p0?.finish(0n);
    if (p0 !== undefined) p0.committed = 0n;
    book.reassign([{ topic: 't', partitions: [0, 1] }]);
    if (p0 !== undefined) p0.committed = 1n;
    expect(p0?.accept(0n)).toBe('seen');
  });

  it('answers a lookup made just before a rebalance from the new assignment, not from the last lookup', () => {
    const book = new OffsetBook();
    book.reassign([{ topic: 't', partitions: [0, 1] }]);
    const p1 = book.owned('t', 1);
    expect(book.owned('t', 1)).toBe(p1); // the last lookup, asked again
    expect(book.owned('u', 1)).toBeUndefined(); // same partition number, other topic
    expect(book.owned('t', 1)).toBe(p1);
    book.reassign([{ topic: 't', partitions: [0] }]);
    expect(book.owned('t', 1)).toBeUndefined();
    book.reassign([{ topic: 't', partitions: [0, 1] }]);
    expect(book.owned('t', 1)).not.toBe(p1);
    expect(book.owned('t', 1)).toBe(book.owned('t', 1));
  });

  it('with startFrom latest keeps the events of a lost partition it never committed (the new owner may start past them)', () => {
    const book = new OffsetBook();
    book.reassign([{ topic: 't', partitions: [0, 1] }]);
    const p0 = book.owned('t', 0);
    const p1 = book.owned('t', 1);
    p0?.accept(5n);
    p1?.accept(7n);
    if (p1 !== undefined) p1.committed = 7n;
    expect(book.reassign([], true)).toEqual([
      { topic: 't', partition: 0, pending: 1, handedOver: false },
      { topic: 't', partition: 1, pending: 1, handedOver: true },
    ]);
    expect(p0?.lost).toBe(false); // runs here; dropped from the book, so never committed from here
    expect(p1?.lost).toBe(true);
    expect([...book.entries()]).toEqual([]);
  });
});
