// Polling with a deadline, for conditions that have no event to wait on.
import { sleep } from '../../farm/process-tree.js';

export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, detail?: string) {
    super(
      `timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}${detail ? `: ${detail}` : ''}`,
    );
    this.name = 'WaitTimeoutError';
  }
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Extra text for the timeout message (e.g. the current state). */
  readonly detail?: () => string | Promise<string>;
}

/** Resolves once `condition` returns true; throws WaitTimeoutError after timeoutMs. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(
        what,
        options.timeoutMs,
        options.detail ? await options.detail() : undefined,
      );
    }
    await sleep(options.intervalMs ?? 20);
  }
}
