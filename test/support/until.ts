// Polling for a condition instead of sleeping a fixed time.

export interface UntilOptions {
  /** Pause between checks; default 25 ms. */
  readonly pollMs?: number;
  /** More to say when it times out (e.g. the logs so far). */
  readonly detail?: () => string;
}

/** Polls `cond` until it holds; throws naming `what` after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  options: UntilOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      const detail = options.detail?.() ?? '';
      throw new Error(`timed out waiting for: ${what}${detail === '' ? '' : `\n${detail}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 25));
  }
}
