// Redis keyspace notifications: the `E` (keyevent channels) class plus the command classes a watcher
// needs — `l` (list commands) for the runner's push watch, `z` (sorted-set commands) for jobchron's
// change watch. Flags already set by others (e.g. `Ex` for expiry watchers) are kept: we only ever
// add what is missing.
import type { Redis } from 'ioredis';

/** What ensureNotifications uses of a client (a fake in unit tests). */
type ConfigClient = Pick<Redis, 'config'>;

/** Classes the runner's push watch needs: keyevent channels, list commands. */
export const LIST_EVENTS = ['E', 'l'] as const;
/** Classes jobchron's change watch needs: keyevent channels, sorted-set commands. */
export const ZSET_EVENTS = ['E', 'z'] as const;
/**
 * Every class any of our daemons needs. Whoever has to add flags adds all of them: a runner and a
 * jobchron starting together each read, merge and write the value, and the later write would
 * otherwise drop the earlier one's class (a gap of up to a flag check, 60 s, without pushes heard).
 * The price on a partition without a runner: list pushes publish events nobody listens to.
 */
export const ALL_OUR_EVENTS = ['E', 'l', 'z'] as const;
/** `A` is the alias for every event class except `m`, `n`, `t` and `d`; it includes `l` and `z`. */
const ALL_CLASSES = 'A';
const IN_ALL = new Set(['g', '$', 'l', 's', 'h', 'z', 'x', 'e']);

/** The flags to set so that `current` also emits the `needed` classes; null when it already does. */
export function mergeNotifyFlags(current: string, needed: readonly string[] = LIST_EVENTS): string | null {
  const missing = needed.filter((flag) => {
    if (current.includes(flag)) return false;
    return !(IN_ALL.has(flag) && current.includes(ALL_CLASSES));
  });
  return missing.length === 0 ? null : current + missing.join('');
}

export interface NotifyFlagsResult {
  /** The value before; equal to `now` when nothing had to change. */
  readonly before: string;
  readonly now: string;
}

/**
 * Makes sure the server emits the keyevent notifications of the `needed` classes (default: list
 * pushes, `__keyevent@<db>__:lpush`/`rpush`). Rejects when CONFIG is not allowed (renamed away,
 * ACL): the caller then falls back to polling.
 */
export async function ensureNotifications(
  client: ConfigClient,
  needed: readonly string[] = LIST_EVENTS,
): Promise<NotifyFlagsResult> {
  const reply = (await client.config('GET', 'notify-keyspace-events')) as unknown;
  const before = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : '';
  if (mergeNotifyFlags(before, needed) === null) return { before, now: before };
  const merged = mergeNotifyFlags(before, [...new Set([...needed, ...ALL_OUR_EVENTS])]) ?? before;
  await client.config('SET', 'notify-keyspace-events', merged);
  return { before, now: merged };
}

/** The push watch's flags (list pushes). */
export function ensureListNotifications(client: Redis): Promise<NotifyFlagsResult> {
  return ensureNotifications(client, LIST_EVENTS);
}
