// Redis keyspace notifications for list pushes: the `E` (keyevent channels) and `l` (list commands)
// classes of notify-keyspace-events. Flags already set by others (e.g. `Ex` for expiry watchers)
// are kept: we only ever add what is missing.
import type { Redis } from 'ioredis';

/** Classes the push watch needs: keyevent channels, list commands. */
const NEEDED = ['E', 'l'] as const;
/** `A` is the alias for every event class except `m`, `n`, `t` and `d`; it includes `l`. */
const ALL_CLASSES = 'A';

/** The flags to set so that `current` also emits keyevent list events; null when it already does. */
export function mergeNotifyFlags(current: string): string | null {
  const missing = NEEDED.filter((flag) => {
    if (current.includes(flag)) return false;
    return !(flag === 'l' && current.includes(ALL_CLASSES));
  });
  return missing.length === 0 ? null : current + missing.join('');
}

export interface NotifyFlagsResult {
  /** The value before; equal to `now` when nothing had to change. */
  readonly before: string;
  readonly now: string;
}

/**
 * Makes sure the server emits `__keyevent@<db>__:lpush`/`rpush`. Rejects when CONFIG is not
 * allowed (renamed away, ACL): the caller then falls back to polling.
 */
export async function ensureListNotifications(client: Redis): Promise<NotifyFlagsResult> {
  const reply = (await client.config('GET', 'notify-keyspace-events')) as unknown;
  const before = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : '';
  const merged = mergeNotifyFlags(before);
  if (merged === null) return { before, now: before };
  await client.config('SET', 'notify-keyspace-events', merged);
  return { before, now: merged };
}
