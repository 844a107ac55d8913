// The discovery timer's pacing: busy / idle / push-woken intervals, and wake() coalescing that never
// polls more often than the busy interval.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ACTIVE_LINGER_MS,
  DiscoveryLoop,
  IDLE_INTERVAL_MS,
  pollInterval,
} from '../../src/runner/discovery.js';
import { silentLogger } from '../support/log-capture.js';

describe('pollInterval', () => {
  const base = { busyMs: 50, idleMs: 1000 };
  it('polls at the busy interval while there was work recently and pushes do not wake it', () => {
    expect(pollInterval({ ...base, msSinceWork: ACTIVE_LINGER_MS - 1, pushesWatched: false })).toBe(50);
  });
  it('keeps to the slow poll while pushes wake it, busy or not (wake-ups say what is new)', () => {
    expect(pollInterval({ ...base, msSinceWork: ACTIVE_LINGER_MS - 1, pushesWatched: true })).toBe(1000);
  });
  it('relaxes to 100 ms when idle without push notifications, never faster than configured', () => {
    expect(pollInterval({ ...base, msSinceWork: ACTIVE_LINGER_MS, pushesWatched: false })).toBe(
      IDLE_INTERVAL_MS,
    );
    expect(pollInterval({ busyMs: 250, idleMs: 1000, msSinceWork: 1e9, pushesWatched: false })).toBe(250);
  });
  it('falls back to the slow idle poll when every partition reports its pushes', () => {
    expect(pollInterval({ ...base, msSinceWork: 1e9, pushesWatched: true })).toBe(1000);
    expect(pollInterval({ busyMs: 50, idleMs: 10, msSinceWork: 1e9, pushesWatched: true })).toBe(50);
  });
});

describe('DiscoveryLoop.wake', () => {
  let polls: number[];
  let loop: DiscoveryLoop;
  let pollDurationMs: number;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    polls = [];
    pollDurationMs = 0;
    loop = new DiscoveryLoop(
      async () => {
        polls.push(Date.now());
        if (pollDurationMs > 0) await new Promise((resolve) => setTimeout(resolve, pollDurationMs));
      },
      () => 1000,
      () => 50,
      silentLogger(),
    );
  });

  afterEach(async () => {
    await loop.stop();
    vi.useRealTimers();
  });

  it('polls at once when the last poll is older than the busy interval', async () => {
    loop.start();
    await vi.advanceTimersByTimeAsync(300);
    expect(polls).toEqual([1_000_000]);
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(polls).toEqual([1_000_000, 1_000_300]);
    // The slow interval resumes from the woken poll.
    await vi.advanceTimersByTimeAsync(1000);
    expect(polls).toEqual([1_000_000, 1_000_300, 1_001_300]);
  });

  it('coalesces a burst of wakes into one poll, no sooner than the busy interval', async () => {
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 0; i < 100; i++) loop.wake();
    await vi.advanceTimersByTimeAsync(39);
    expect(polls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(polls).toEqual([1_000_000, 1_000_050]);
    await vi.advanceTimersByTimeAsync(500);
    expect(polls).toHaveLength(2);
  });

  it('a wake during a poll runs one more poll right after it, paced by the busy interval', async () => {
    pollDurationMs = 20;
    loop.start();
    await vi.advanceTimersByTimeAsync(5);
    loop.wake();
    loop.wake();
    await vi.advanceTimersByTimeAsync(45);
    expect(polls).toEqual([1_000_000, 1_000_050]);
    await vi.advanceTimersByTimeAsync(900);
    expect(polls).toHaveLength(2);
  });

  it('does nothing once stopped', async () => {
    loop.start();
    await vi.advanceTimersByTimeAsync(100);
    await loop.stop();
    loop.wake();
    await vi.advanceTimersByTimeAsync(5000);
    expect(polls).toHaveLength(1);
  });
});
