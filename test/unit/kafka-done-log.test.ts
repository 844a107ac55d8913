// The Kafka dedup done record: what it says ran, and that nothing unfinished ever passes for run.
import { describe, expect, it } from 'vitest';
import { DoneLog, MAX_OPEN, recordSaysRan } from '../../src/kafka/done-log.js';

const WINDOW_MS = 3_600_000;

describe('DoneLog', () => {
  it('every seq below next ran except the open ones', () => {
    const log = new DoneLog(WINDOW_MS);
    for (let seq = 1; seq <= 6; seq++) log.claimed(seq, 0);
    for (const seq of [2, 5, 1]) log.settled(seq);
    const record = log.record(7, 0);
    expect(record).toBe('1:7;4,3,1'); // open 3, 4 and 6
    expect([1, 2, 3, 4, 5, 6, 7].map((seq) => recordSaysRan(record, seq))).toEqual([
      true,
      true,
      false,
      false,
      true,
      false,
      false, // not claimed yet when written: at or above next
    ]);
  });

  it('is unchanged until something is claimed or settled', () => {
    const log = new DoneLog(WINDOW_MS);
    expect(log.changed).toBe(false);
    log.claimed(1, 0);
    expect(log.changed).toBe(true);
    log.record(2, 0);
    expect(log.changed).toBe(false);
    log.settled(99); // never open: nothing changes
    expect(log.changed).toBe(false);
  });

  it('drops open seqs whose keys have expired', () => {
    const log = new DoneLog(1000);
    log.claimed(1, 0);
    log.claimed(2, 5000);
    expect(log.record(3, 5500)).toBe('1:3;1');
    expect(log.openCount).toBe(1);
  });

  it('past MAX_OPEN open seqs, the dropped ones and every run below them count as not run', () => {
    const log = new DoneLog(WINDOW_MS);
    const total = MAX_OPEN + 10;
    for (let seq = 1; seq <= total; seq++) log.claimed(seq, 0);
    // Seq 1 ran; everything else stayed open (Redis unreachable).
    log.settled(1);
    const record = log.record(total + 1, 0);
    expect(log.openCount).toBe(MAX_OPEN / 2);
    for (let seq = 1; seq <= total; seq++) expect(recordSaysRan(record, seq)).toBe(false);
    // Runs after the drop count again.
    log.settled(total);
    expect(recordSaysRan(log.record(total + 1, 0), total)).toBe(true);
  });

  it('reads malformed or missing records as "not run"', () => {
    for (const bad of [null, '', '5', '1:x', 'a:5', '1:5;x', '1:5;1;2']) {
      expect(recordSaysRan(bad, 2)).toBe(false);
    }
  });
});
