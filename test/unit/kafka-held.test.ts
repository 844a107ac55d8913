// Retry/delayed events wait in memory until due on the runner's clock; a jump of the clock releases them.
import { describe, expect, it } from 'vitest';
import { OffsetClock } from '../../src/kafka/clock.js';
import { HeldEvents, type ReleaseReason } from '../../src/kafka/held-events.js';
import { Slots, type ReleaseSlot } from '../../src/kafka/slots.js';

function waitForValue<T>(get: () => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const poll = (): void => {
      const value = get();
      if (value !== undefined) resolve(value);
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe('HeldEvents', () => {
  it('releases an event when the clock reaches its time, and one due now at once', async () => {
    const clock = new OffsetClock();
    const held = new HeldEvents(clock, 3600_000, 10);
    let later: ReleaseReason | undefined;
    let now: ReleaseReason | undefined;
    held.hold(clock.now() + 3600_000, (r) => (later = r));
    held.hold(clock.now() - 1, (r) => (now = r));
    expect(now).toBe('due');
    expect(held.size).toBe(1);
    clock.advance(3600_000);
    expect(await waitForValue(() => later)).toBe('due');
    expect(held.size).toBe(0);
  });

  it('gives an event back after the hold time when it is due much later', async () => {
    const clock = new OffsetClock();
    const held = new HeldEvents(clock, 20, 5);
    let reason: ReleaseReason | undefined;
    held.hold(clock.now() + 86_400_000, (r) => (reason = r));
    expect(await waitForValue(() => reason)).toBe('hold-expired');
  });

  it('releases everything on stop, and later holds at once', () => {
    const clock = new OffsetClock();
    const held = new HeldEvents(clock, 1000, 10);
    const reasons: ReleaseReason[] = [];
    held.hold(clock.now() + 500, (r) => reasons.push(r));
    held.hold(clock.now() + 900, (r) => reasons.push(r));
    held.stop();
    held.hold(clock.now() + 900, (r) => reasons.push(r));
    expect(reasons).toEqual(['stopping', 'stopping', 'stopping']);
  });
});

describe('Slots', () => {
  /** A granted slot's release (acquire resolves with undefined only for a lost lease). */
  async function granted(waiting: Promise<ReleaseSlot | undefined>): Promise<ReleaseSlot> {
    const release = await waiting;
    if (release === undefined) throw new Error('the slot was given up, not granted');
    return release;
  }

  it('admits at most size holders and serves waiters in order', async () => {
    const slots = new Slots(2);
    const a = await granted(slots.acquire());
    const b = await granted(slots.acquire());
    const order: string[] = [];
    const c = granted(slots.acquire()).then((release) => (order.push('c'), release));
    const d = granted(slots.acquire()).then((release) => (order.push('d'), release));
    expect(slots.inUse).toBe(2);
    expect(slots.waiting).toBe(2);
    a();
    a(); // a second call is a no-op
    (await c)();
    b();
    (await d)();
    expect(order).toEqual(['c', 'd']);
    expect(slots.inUse).toBe(0);
  });

  it('grants a free slot at once with tryAcquire, never ahead of a waiter', async () => {
    const slots = new Slots(1);
    const first = slots.tryAcquire();
    expect(first).toBeTypeOf('function');
    expect(slots.tryAcquire()).toBeUndefined(); // full
    const waiter = granted(slots.acquire());
    first?.(); // handed to the waiter, not left free for the next tryAcquire
    expect(slots.tryAcquire()).toBeUndefined();
    (await waiter)();
    expect(slots.inUse).toBe(0);
    const again = slots.tryAcquire();
    expect(slots.inUse).toBe(1);
    again?.();
    expect(slots.inUse).toBe(0);
  });

  it('gives up the waiters whose partition lease is lost, and only those; holders keep their slots', async () => {
    const slots = new Slots(1);
    const kept = { lost: false };
    const moved = { lost: false };
    const holder = await granted(slots.acquire(moved)); // already running: keeps its slot
    const outcomes: string[] = [];
    const waits = [
      slots.acquire(moved).then((r) => outcomes.push(r === undefined ? 'moved-1 given up' : 'moved-1 ran')),
      slots.acquire(kept).then((r) => (outcomes.push(r === undefined ? 'kept given up' : 'kept ran'), r?.())),
      slots.acquire(moved).then((r) => outcomes.push(r === undefined ? 'moved-2 given up' : 'moved-2 ran')),
      slots
        .acquire()
        .then((r) => (outcomes.push(r === undefined ? 'no lease given up' : 'no lease ran'), r?.())),
    ];
    slots.giveUpLost(); // nothing lost yet
    expect(slots.waiting).toBe(4);
    moved.lost = true;
    slots.giveUpLost();
    expect(slots.waiting).toBe(2);
    expect(slots.inUse).toBe(1);
    await Promise.all([waits[0], waits[2]]);
    expect(outcomes).toEqual(['moved-1 given up', 'moved-2 given up']);
    holder();
    await Promise.all(waits);
    expect(outcomes.slice(2)).toEqual(['kept ran', 'no lease ran']);
    expect(slots.inUse).toBe(0);
  });
});
