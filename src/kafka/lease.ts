// A message's hold on its Kafka partition: lost once a rebalance moved the partition to another
// group member (lane.ts sets it), after which events of it that have not started are given up.

export interface PartitionLease {
  readonly lost: boolean;
}

/**
 * Splits a queue of waiters after a rebalance: those whose partition lease is lost (to be given up)
 * and the rest, in their order. Undefined when none is lost (the common case: no new array).
 */
export function takeLost<T extends { readonly lease: PartitionLease | undefined }>(
  waiters: readonly T[],
): { readonly lost: T[]; readonly kept: T[] } | undefined {
  if (!waiters.some((w) => w.lease?.lost === true)) return undefined;
  return {
    lost: waiters.filter((w) => w.lease?.lost === true),
    kept: waiters.filter((w) => w.lease?.lost !== true),
  };
}
