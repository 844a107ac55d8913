// Typed failures of a partition pass. Each says what the chron should do next: a lost lease stops
// that partition's pass quietly; an unreachable partition is retried with back-off.

/** The partition lease expired or was taken over; nothing more may be written to the partition. */
export class LeaseLostError extends Error {
  constructor(readonly partition: string) {
    super(`lease of partition ${partition} is no longer held by this jobchron`);
    this.name = 'LeaseLostError';
  }
}

/** The partition's Redis connection is not usable right now (down, or still reconnecting). */
export class PartitionUnreachableError extends Error {
  constructor(
    readonly partition: string,
    readonly status: string,
  ) {
    super(`partition ${partition} is unreachable (connection ${status})`);
    this.name = 'PartitionUnreachableError';
  }
}

/** A reply of a chron Lua script did not have the documented shape. */
export class ScriptReplyError extends Error {
  constructor(script: string, reply: unknown) {
    super(`unexpected reply from Lua script ${script}: ${JSON.stringify(reply)?.slice(0, 200)}`);
    this.name = 'ScriptReplyError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
