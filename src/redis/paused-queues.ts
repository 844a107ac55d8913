// Paused (wiki, type) queues, kept in Redis so every runner honours them and they survive restarts:
// one hash per queue partition, field = JSON [wiki, type], value = JSON { at } (ms). Pausing writes
// every partition (a queue may be spread over several), reading takes the union. A field that is
// not ours in shape is ignored, never deleted. Jobs of a paused queue stay where they are.
import type { Redis } from 'ioredis';

export const PAUSED_QUEUES_KEY = 'global:jobrunner:h-paused-queues';

export interface PausedQueue {
  readonly wiki: string;
  readonly type: string;
  /** When it was paused (ms since epoch). */
  readonly at: number;
}

function field(wiki: string, type: string): string {
  return JSON.stringify([wiki, type]);
}

function parseEntry(name: string, value: string): PausedQueue | null {
  try {
    const key: unknown = JSON.parse(name);
    const info: unknown = JSON.parse(value);
    if (!Array.isArray(key) || key.length !== 2) return null;
    const [wiki, type] = key as unknown[];
    if (typeof wiki !== 'string' || typeof type !== 'string' || wiki === '' || type === '') return null;
    const at = (info as { at?: unknown } | null)?.at;
    return { wiki, type, at: typeof at === 'number' && Number.isFinite(at) ? at : 0 };
  } catch {
    return null;
  }
}

export async function pauseQueue(client: Redis, wiki: string, type: string, at: number): Promise<void> {
  await client.hset(PAUSED_QUEUES_KEY, field(wiki, type), JSON.stringify({ at }));
}

/** True when the queue was paused on this partition. */
export async function resumeQueue(client: Redis, wiki: string, type: string): Promise<boolean> {
  return (await client.hdel(PAUSED_QUEUES_KEY, field(wiki, type))) > 0;
}

export async function listPausedQueues(client: Redis): Promise<PausedQueue[]> {
  const all = await client.hgetall(PAUSED_QUEUES_KEY);
  const out: PausedQueue[] = [];
  for (const [name, value] of Object.entries(all)) {
    const entry = parseEntry(name, value);
    if (entry) out.push(entry);
  }
  return out;
}

/** Union over partitions: one entry per queue, the earliest pause time. */
export function mergePaused(lists: readonly (readonly PausedQueue[])[]): PausedQueue[] {
  const byKey = new Map<string, PausedQueue>();
  for (const list of lists) {
    for (const entry of list) {
      const key = field(entry.wiki, entry.type);
      const seen = byKey.get(key);
      if (!seen || entry.at < seen.at) byKey.set(key, entry);
    }
  }
  return [...byKey.values()].sort((a, b) => a.wiki.localeCompare(b.wiki) || a.type.localeCompare(b.type));
}
