// Lag of one partition as `jobqueue status` computes it for backend kafka: from the committed
// offset when there is a usable one, otherwise from where the consumer would start (startFrom).
import { describe, expect, it } from 'vitest';
import { lagOfPartition } from '../../src/kafka/group-lag.js';

describe('lagOfPartition', () => {
  it('counts from the committed offset', () => {
    expect(lagOfPartition({ start: 0n, end: 100n, committed: 40n }, 'earliest')).toEqual({
      position: 40n,
      lag: 60n,
    });
    expect(lagOfPartition({ start: 0n, end: 100n, committed: 100n }, 'latest')).toEqual({
      position: 100n,
      lag: 0n,
    });
  });

  it('without a commit, starts where startFrom says: the log start or the end', () => {
    expect(lagOfPartition({ start: 10n, end: 100n, committed: -1n }, 'earliest')).toEqual({
      position: 10n,
      lag: 90n,
    });
    expect(lagOfPartition({ start: 10n, end: 100n, committed: -1n }, 'latest')).toEqual({
      position: 100n,
      lag: 0n,
    });
  });

  it('treats a commit below the log start (deleted by retention) like no commit', () => {
    expect(lagOfPartition({ start: 50n, end: 80n, committed: 20n }, 'earliest')).toEqual({
      position: 50n,
      lag: 30n,
    });
  });

  it('never reports a negative lag', () => {
    expect(lagOfPartition({ start: 0n, end: 5n, committed: 9n }, 'earliest')).toEqual({
      position: 5n,
      lag: 0n,
    });
  });
});
