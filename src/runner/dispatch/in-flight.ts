// Book-keeping shared by the dispatchers: the promise contract (dispatch never rejects), refusal
// after close(), and close() waiting for what is still running.

export type CrashHandler<T> = (error: string, durationMs: number) => T;

export class InFlight<T> {
  private readonly pending = new Set<Promise<T>>();
  private closed = false;

  /**
   * Runs `task`, turning a rejection (a bug, not an expected failure) into `onCrash`'s result.
   * After close() the task is not started and `onClosed` answers instead.
   */
  run(task: () => Promise<T>, onCrash: CrashHandler<T>, onClosed: () => T): Promise<T> {
    if (this.closed) return Promise.resolve(onClosed());
    const started = performance.now();
    const promise = task().catch((err: unknown) =>
      onCrash(
        `internal dispatch error: ${err instanceof Error ? err.message : String(err)}`,
        performance.now() - started,
      ),
    );
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
    return promise;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
  }
}

/** A readable reason from an AbortSignal (the runner passes a string or an Error). */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === 'string' && reason !== '') return reason;
  if (reason instanceof Error && reason.message !== '' && reason.name !== 'AbortError') return reason.message;
  return 'runner stopping';
}
