import { describe, expect, it } from 'vitest';
import { Batcher } from '../../src/kafka/batcher.js';

describe('Batcher', () => {
  it('hands the calls of one turn to one batch call and each caller its own result', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push([...items]);
      return items.map((n) => n * 10);
    }, 100);
    const results = await Promise.all([1, 2, 3].map((n) => batcher.add(n)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
    // A later turn is a new batch.
    expect(await batcher.add(4)).toBe(40);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('sends a batch as soon as it holds maxSize items', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push([...items]);
      return [...items];
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.add(n)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every caller of a failed batch, and of a batch answering too few results', async () => {
    const failing = new Batcher<number, number>(() => Promise.reject(new Error('redis down')), 10);
    const outcomes = await Promise.allSettled([failing.add(1), failing.add(2)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    const short = new Batcher<number, number>(async () => [1], 10);
    const [a, b] = await Promise.allSettled([short.add(1), short.add(2)]);
    expect(a).toEqual({ status: 'fulfilled', value: 1 });
    expect(b?.status).toBe('rejected');
  });
});
