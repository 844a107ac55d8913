// What a daemon does after an uncaught exception or an unhandled promise rejection: its state is
// unknown (a slot may never be freed, a partition may never be committed again), so it takes no
// new work, lets what is running finish, and exits 1 for systemd to restart it. Logged once; a
// second error while draining is logged but changes nothing.
import type { DaemonLogger } from './logger.js';

export const FATAL_EXIT_CODE = 1;

export interface FatalErrorHandling {
  readonly logger: DaemonLogger;
  /** Stop taking work and let running work finish; resolves when done (the caller's own bound). */
  readonly drain: () => Promise<unknown>;
  /** Exit anyway this long after the first error (drain's own bound plus a margin). */
  readonly deadlineMs: number;
  /** For tests; process.exit by default. */
  readonly exit?: (code: number) => void;
}

function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { error: String(error) };
}

/** Installs the uncaughtException / unhandledRejection handlers; returns a function removing them. */
export function exitOnUncaughtErrors(handling: FatalErrorHandling): () => void {
  const { logger, drain, deadlineMs } = handling;
  const exit = handling.exit ?? ((code: number) => process.exit(code));
  let failing = false;
  const onError = (what: string) => (error: unknown) => {
    if (failing) {
      logger.error(`${what} while draining after an earlier error`, errorFields(error));
      return;
    }
    failing = true;
    logger.error(`${what}; taking no new work, draining, then exiting ${FATAL_EXIT_CODE}`, {
      ...errorFields(error),
      deadlineMs,
    });
    const deadline = setTimeout(() => {
      logger.error('Drain after an uncaught error took too long; exiting now', { deadlineMs });
      exit(FATAL_EXIT_CODE);
    }, deadlineMs);
    drain()
      .catch((drainError: unknown) => logger.error('Error while draining', errorFields(drainError)))
      .finally(() => {
        clearTimeout(deadline);
        exit(FATAL_EXIT_CODE);
      });
  };
  const onException = onError('Uncaught exception');
  const onRejection = onError('Unhandled promise rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
