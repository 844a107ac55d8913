// Events waiting for another runner's live claim are asked about again together, once per interval,
// and let go as soon as their partition is lost.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClaimWaits, type WaitEnd } from '../../src/kafka/live-claim-waits.js';

const INTERVAL = 300;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function track(promise: Promise<WaitEnd>): { end: WaitEnd | undefined } {
  const state: { end: WaitEnd | undefined } = { end: undefined };
  void promise.then((end) => (state.end = end));
  return state;
}

describe('LiveClaimWaits', () => {
  it('asks again one interval later, those due close together in one go', async () => {
    const waits = new LiveClaimWaits(() => INTERVAL);
    const lease = { lost: false };
    const first = track(waits.next(lease));
    await vi.advanceTimersByTimeAsync(INTERVAL / 10);
    const second = track(waits.next(lease));
    await vi.advanceTimersByTimeAsync(INTERVAL / 2);
    const third = track(waits.next(lease));
    expect(waits.size).toBe(3);
    await vi.advanceTimersByTimeAsync(INTERVAL - INTERVAL / 10 - INTERVAL / 2 - 1);
    expect(first.end).toBeUndefined();
    // The first's turn; the second (due a tenth later) goes along, the third (half later) does not.
    await vi.advanceTimersByTimeAsync(1);
    expect(first.end).toBe('again');
    expect(second.end).toBe('again');
    expect(third.end).toBeUndefined();
    expect(waits.size).toBe(1);
    // Its own turn: one interval after it began waiting (six tenths from now).
    await vi.advanceTimersByTimeAsync((INTERVAL * 6) / 10 - 1);
    expect(third.end).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(third.end).toBe('again');
    expect(waits.size).toBe(0);
  });

  it('lets an event go at once when its partition is lost, and at its turn if lost meanwhile', async () => {
    const waits = new LiveClaimWaits(() => INTERVAL);
    const kept = { lost: false };
    const moved = { lost: false };
    const quiet = { lost: false };
    const a = track(waits.next(kept));
    const b = track(waits.next(moved));
    const c = track(waits.next(quiet));
    moved.lost = true;
    waits.giveUpLost();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.end).toBe('lost');
    expect(a.end).toBeUndefined();
    // Lost without a giveUpLost() call: its turn still says so.
    quiet.lost = true;
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(a.end).toBe('again');
    expect(c.end).toBe('lost');
  });

  it('never ends a wait after stop(): the event stays uncommitted', async () => {
    const waits = new LiveClaimWaits(() => INTERVAL);
    const before = track(waits.next({ lost: false }));
    waits.stop();
    const after = track(waits.next({ lost: false }));
    await vi.advanceTimersByTimeAsync(INTERVAL * 10);
    expect(before.end).toBeUndefined();
    expect(after.end).toBeUndefined();
    expect(waits.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
