// A run whose partition was lost while it ran can be waited for by a copy of its event read again;
// the copy is done only once the original completed, never when its handling failed.
import { describe, expect, it } from 'vitest';
import type { LaneMessage } from '../../src/kafka/lane.js';
import { LostRuns } from '../../src/kafka/lost-runs.js';

function message(partition: number, offset: bigint, lease = { lost: false }): LaneMessage {
  return { topic: 't', partition, offset, value: undefined, headers: new Map(), lease };
}

async function settled(promise: Promise<void> | undefined): Promise<boolean> {
  let done = false;
  void promise?.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('LostRuns', () => {
  it('makes running events of lost partitions waitable until they complete', async () => {
    const runs = new LostRuns();
    const lease = { lost: false };
    const moving = message(1, 5n, lease);
    const staying = message(0, 5n);
    runs.started(moving);
    runs.started(staying);
    expect(runs.original(message(1, 5n))).toBeUndefined();
    lease.lost = true;
    runs.partitionsLost();
    expect(runs.size).toBe(1);
    expect(runs.original(message(0, 5n))).toBeUndefined();
    expect(runs.original(message(1, 6n))).toBeUndefined();
    const copy = runs.original(message(1, 5n));
    expect(copy).toBeDefined();
    expect(await settled(copy)).toBe(false);
    runs.ended(staying);
    expect(await settled(copy)).toBe(false);
    runs.ended(moving);
    expect(await settled(copy)).toBe(true);
    expect(runs.size).toBe(0);
    // A copy read after the original completed claims as usual.
    expect(runs.original(message(1, 5n))).toBeUndefined();
  });

  it('never completes the wait of a copy whose original handling failed', async () => {
    const runs = new LostRuns();
    const lease = { lost: false };
    const failing = message(2, 1n, lease);
    runs.started(failing);
    lease.lost = true;
    runs.partitionsLost();
    const copy = runs.original(message(2, 1n));
    // Its handling threw: ended() is never called for it.
    expect(await settled(copy)).toBe(false);
    expect(runs.original(message(2, 1n))).toBe(copy);
  });

  it('ignores events that never started running (given up, duplicates)', () => {
    const runs = new LostRuns();
    const lease = { lost: true };
    runs.ended(message(0, 1n, lease));
    runs.partitionsLost();
    expect(runs.size).toBe(0);
  });
});
