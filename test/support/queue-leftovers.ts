// What a run left behind in Redis: every job-queue key that still holds something.
import type { Redis } from 'ioredis';

/** Key → size of every non-empty job-queue key (unclaimed, claimed, abandoned, delayed, data), dedup maps aside. */
export async function queueLeftovers(client: Redis): Promise<Record<string, number>> {
  const left: Record<string, number> = {};
  for (const key of await client.keys('*:jobqueue:*')) {
    const kind = await client.type(key);
    const size =
      kind === 'list'
        ? await client.llen(key)
        : kind === 'zset'
          ? await client.zcard(key)
          : kind === 'hash'
            ? await client.hlen(key)
            : 0;
    if (size > 0 && !/:h-(idBySha1|sha1ById)$/.test(key)) left[key] = size;
  }
  return left;
}
