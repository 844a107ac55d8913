// What an event-ID dedup key says, read the way kafka-dedup.lua reads it: for tests, the fault
// suite and operators looking at a key by hand (`redis-cli GET` shows only the claim).
import type { Redis } from 'ioredis';
import { recordSaysRan } from './done-log.js';

/**
 * ran: the event ran (its owner's done record says so, or an earlier version's "1");
 * claimed: a live runner claimed it and has not run it yet (or not told Redis);
 * abandoned: claimed by a runner that is gone without having run it; free: no key.
 */
export type IdKeyState = 'ran' | 'claimed' | 'abandoned' | 'free';

/** The state of the ID key `key` (full name) of a dedup store using `prefix`. */
export async function idKeyState(redis: Redis, prefix: string, key: string): Promise<IdKeyState> {
  const value = await redis.get(key);
  if (value === null) return 'free';
  if (value === '1') return 'ran';
  const claim = /^c:([^.]+)\.([0-9]+)$/.exec(value);
  if (claim === null) return 'free';
  const [, incarnation = '', seq = ''] = claim;
  const [record, alive] = await Promise.all([
    redis.get(`${prefix}_done_${incarnation}`),
    redis.exists(`${prefix}_alive_${incarnation}`),
  ]);
  if (recordSaysRan(record, Number(seq))) return 'ran';
  return alive === 1 ? 'claimed' : 'abandoned';
}
