// Fenced partition leases, kept on the partition's own Redis (so a lease can never be split across
// servers the way the original's aggregator-held pool lock could, W20). Taking a lease is SET NX PX
// with a value unique per acquisition ("<fence> <instance ID>"); renewing and releasing are
// compare-and-set scripts; the maintenance script refuses to run unless the caller's value is current.
import type { Redis } from 'ioredis';
import { INSTANCES_KEY, LEASE_FENCE_KEY, LEASE_KEY } from './keys.js';
import { runScript } from './lua.js';
import { ScriptReplyError } from './errors.js';

export interface HeldLease {
  /** The exact lease value; proves ownership to the scripts. */
  readonly value: string;
  /** Fencing number of this acquisition; grows with every acquisition on the partition. */
  readonly fence: string;
}

export type AcquireResult =
  | { readonly acquired: true; readonly lease: HeldLease }
  | { readonly acquired: false; readonly holder: string; readonly remainingMs: number };

export async function acquireLease(redis: Redis, instanceId: string, ttlMs: number): Promise<AcquireResult> {
  const reply = await runScript(redis, 'lease-acquire', [LEASE_KEY, LEASE_FENCE_KEY], [instanceId, ttlMs]);
  if (!Array.isArray(reply) || reply.length !== 3) throw new ScriptReplyError('lease-acquire', reply);
  const [ok, value, third] = reply as unknown[];
  if (ok === 1 && typeof value === 'string' && typeof third === 'string') {
    return { acquired: true, lease: { value, fence: third } };
  }
  if (ok === 0 && typeof value === 'string' && typeof third === 'number') {
    return { acquired: false, holder: holderOf(value), remainingMs: third };
  }
  throw new ScriptReplyError('lease-acquire', reply);
}

export async function renewLease(redis: Redis, lease: HeldLease, ttlMs: number): Promise<boolean> {
  return (await runScript(redis, 'lease-renew', [LEASE_KEY], [lease.value, ttlMs])) === 1;
}

export async function releaseLease(redis: Redis, lease: HeldLease): Promise<boolean> {
  return (await runScript(redis, 'lease-release', [LEASE_KEY], [lease.value])) === 1;
}

/** Announces (or withdraws) this instance; resolves with the live instance IDs seen on the partition. */
export async function heartbeat(
  redis: Redis,
  instanceId: string,
  ttlMs: number,
  join = true,
): Promise<string[]> {
  const reply = await runScript(
    redis,
    'lease-heartbeat',
    [INSTANCES_KEY],
    [instanceId, ttlMs, join ? '1' : '0'],
  );
  if (!Array.isArray(reply) || !reply.every((id) => typeof id === 'string')) {
    throw new ScriptReplyError('lease-heartbeat', reply);
  }
  return reply as string[];
}

/** "<fence> <instance ID>" → instance ID. */
export function holderOf(leaseValue: string): string {
  const space = leaseValue.indexOf(' ');
  return space === -1 ? leaseValue : leaseValue.slice(space + 1);
}
