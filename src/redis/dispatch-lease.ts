// Short per-queue leases that keep runner hosts from all starting the same quiet queue (see
// lua/dispatch-lease.lua). The key holds the queue as JSON, so any wiki ID or type a pusher chose
// stays one key and cannot reach into another namespace.
import type { Redis } from 'ioredis';
import { runQueueScript } from './queue-scripts.js';

export const DISPATCH_LEASE_PREFIX = 'global:jobrunner:dispatch-lease:';

export function dispatchLeaseKey(wiki: string, type: string): string {
  return DISPATCH_LEASE_PREFIX + JSON.stringify([wiki, type]);
}

/** True when `holder` holds the queue's lease for the next `ttlMs` (taken now or renewed). */
export async function takeDispatchLease(
  client: Redis,
  wiki: string,
  type: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const reply = await runQueueScript(
    client,
    'dispatch-lease',
    [dispatchLeaseKey(wiki, type)],
    [holder, Math.max(1, Math.round(ttlMs))],
  );
  return reply === 1;
}
