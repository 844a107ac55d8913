// Events handed over in a rebalance are checked again once the group's committed offset passes them.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HandOverWatch } from '../../src/kafka/hand-over.js';
import { createLogger } from '../../src/observability/logger.js';

const logger = createLogger({ service: 'jobrunner-test', level: 'error' });
const INTERVAL = 5;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** One watch interval and the offset read it starts. */
const tick = () => vi.advanceTimersByTimeAsync(INTERVAL);

describe('HandOverWatch', () => {
  it('rechecks an event only once the committed offset of its partition is past it', async () => {
    const committed = new Map<string, bigint[]>([['t', [-1n, 5n]]]);
    const asked: string[] = [];
    const watch = new HandOverWatch(
      async (topic, partitions) => {
        asked.push(`${topic}:${partitions.join(',')}`);
        return committed.get(topic);
      },
      INTERVAL,
      logger,
    );
    const rechecked: string[] = [];
    watch.add('t', 0, 3n, () => rechecked.push('t/0/3'));
    watch.add('t', 1, 5n, () => rechecked.push('t/1/5')); // committed 5 is the next to read: not past
    watch.add('t', 1, 4n, () => rechecked.push('t/1/4'));
    await tick();
    expect(asked).toEqual(['t:0,1']); // one request per topic
    expect(rechecked).toEqual(['t/1/4']);
    await tick();
    expect(rechecked).toEqual(['t/1/4']);
    committed.set('t', [4n, 6n]);
    await tick();
    expect(rechecked.slice(1).sort()).toEqual(['t/0/3', 't/1/5']);
    expect(watch.size).toBe(0);
    const before = asked.length;
    await vi.advanceTimersByTimeAsync(20 * INTERVAL);
    expect(asked.length).toBe(before); // nothing watched: no more requests
    watch.stop();
  });

  it('keeps watching while the offsets cannot be read, and forgets everything on stop', async () => {
    let fail = true;
    let calls = 0;
    const watch = new HandOverWatch(
      async () => {
        calls++;
        if (fail) throw new Error('coordinator not available');
        return undefined; // no consumer connected
      },
      INTERVAL,
      logger,
    );
    const rechecked: number[] = [];
    watch.add('t', 0, 1n, () => rechecked.push(1));
    await tick();
    await tick();
    expect(calls).toBe(2);
    fail = false;
    await tick();
    expect(calls).toBe(3);
    expect(rechecked).toEqual([]);
    expect(watch.size).toBe(1);
    watch.stop();
    expect(watch.size).toBe(0);
    watch.add('t', 0, 1n, () => rechecked.push(2)); // after stop: ignored
    expect(watch.size).toBe(0);
    await vi.advanceTimersByTimeAsync(20 * INTERVAL);
    expect(calls).toBe(3);
  });
});
