// Walks a Redis SET in chunks with SSCAN so a partition with millions of queues never has to be held
// in memory at once (the original SMEMBERS'd everything, T97939). The next page is requested while
// the caller works on the current batch. SSCAN may return a member twice; the upkeep step is
// idempotent, so that only costs a little work.
import type { Redis } from 'ioredis';

export async function* scanSetBatches(
  redis: Redis,
  key: string,
  batchSize: number,
): AsyncGenerator<string[], void, undefined> {
  const page = (cursor: string): Promise<[cursor: string, elements: string[]]> =>
    redis.sscan(key, cursor, 'COUNT', batchSize);
  let pending: ReturnType<typeof page> | null = page('0');
  let buffer: string[] = [];
  while (pending !== null) {
    const reply: [string, string[]] = await pending;
    const [cursor, members] = reply;
    pending = cursor === '0' ? null : page(cursor);
    // A rejected prefetch must not surface as an unhandled rejection if the caller stops early.
    pending?.catch(() => undefined);
    buffer.push(...members);
    while (buffer.length >= batchSize || (pending === null && buffer.length > 0)) {
      const batch = buffer.slice(0, batchSize);
      buffer = buffer.slice(batchSize);
      yield batch;
    }
  }
}
